//! v2/v3: the ratings call and every way it can go (docs/compatibility.md, items 61–68, 71, 72).

use std::time::{Duration, Instant};

use bookinfo_testing::{FakeServer, Reply};
use http::StatusCode;

use crate::helpers::{
    JSON, RATINGS_OK, UNAVAILABLE, body, client, fetch, spawn_app, spawn_with_ratings, stars,
};

#[tokio::test]
async fn v2_shows_black_stars() {
    // 61
    let ratings = FakeServer::always(Reply::json(RATINGS_OK)).await;
    let app = spawn_with_ratings(&ratings, &[]).await;
    let (status, ct, text) = fetch(client().get(app.url("/reviews/0"))).await;
    assert_eq!((status, ct.as_str()), (200, JSON));
    assert_eq!(
        text,
        body(
            "0",
            "reviews-test-pod",
            "null",
            &stars(5, "black"),
            &stars(4, "black")
        )
    );
    let seen = ratings.requests();
    assert_eq!(seen.len(), 1, "one attempt");
    assert_eq!(seen[0].method, http::Method::GET);
    assert_eq!(seen[0].uri, "/ratings/0");
    assert_eq!(seen[0].header("accept"), Some("application/json"));
}

#[tokio::test]
async fn v3_and_any_colour_are_copied_into_each_rating() {
    // 62, 65
    let ratings = FakeServer::always(Reply::json(RATINGS_OK)).await;
    for colour in ["red", "blue"] {
        let app = spawn_with_ratings(&ratings, &[("STAR_COLOR", colour)]).await;
        let (_, _, text) = fetch(client().get(app.url("/reviews/0"))).await;
        assert_eq!(
            text,
            body(
                "0",
                "reviews-test-pod",
                "null",
                &stars(5, colour),
                &stars(4, colour)
            )
        );
    }
}

#[tokio::test]
async fn ratings_errors_become_error_objects_without_retry() {
    // 63
    for status in [500, 503, 404] {
        let ratings = FakeServer::always(Reply::status_json(
            StatusCode::from_u16(status).unwrap(),
            r#"{"error":"Service unavailable"}"#,
        ))
        .await;
        let app = spawn_with_ratings(&ratings, &[]).await;
        let (code, ct, text) = fetch(client().get(app.url("/reviews/0"))).await;
        assert_eq!((code, ct.as_str()), (200, JSON), "{status}");
        assert_eq!(
            text,
            body("0", "reviews-test-pod", "null", UNAVAILABLE, UNAVAILABLE),
            "{status}"
        );
        assert_eq!(ratings.requests().len(), 1, "no retry after {status}");
    }
}

#[tokio::test]
async fn unreachable_ratings_become_error_objects() {
    // 63
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port().to_string()
    };
    let app = spawn_app(&[
        ("ENABLE_RATINGS", "true"),
        ("RATINGS_HOSTNAME", "127.0.0.1"),
        ("RATINGS_SERVICE_PORT", &port),
    ])
    .await;
    let (status, _, text) = fetch(client().get(app.url("/reviews/0"))).await;
    assert_eq!(status, 200);
    assert_eq!(text, body("0", "null", "null", UNAVAILABLE, UNAVAILABLE));
}

#[tokio::test]
async fn coloured_stars_give_up_after_two_and_a_half_seconds() {
    // 64 (v3 side), 65: a slow ratings is cut off at 2.5 s.
    let ratings = FakeServer::always(Reply::json(RATINGS_OK).delayed(Duration::from_secs(7))).await;
    let app = spawn_with_ratings(&ratings, &[("STAR_COLOR", "red")]).await;
    let started = Instant::now();
    let (status, _, text) = fetch(client().get(app.url("/reviews/0"))).await;
    let elapsed = started.elapsed();
    assert_eq!(status, 200);
    assert_eq!(
        text,
        body("0", "reviews-test-pod", "null", UNAVAILABLE, UNAVAILABLE)
    );
    assert!(
        elapsed >= Duration::from_millis(2450) && elapsed < Duration::from_millis(4000),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn black_stars_wait_longer_than_two_and_a_half_seconds() {
    // 64 (v2 side): a ratings answer after 3 s still shows stars. The full 10 s limit is
    // checked on the configuration (config::tests) to keep this suite fast.
    let ratings = FakeServer::always(Reply::json(RATINGS_OK).delayed(Duration::from_secs(3))).await;
    let app = spawn_with_ratings(&ratings, &[]).await;
    let started = Instant::now();
    let (status, _, text) = fetch(client().get(app.url("/reviews/0"))).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_secs(3));
    assert_eq!(
        text,
        body(
            "0",
            "reviews-test-pod",
            "null",
            &stars(5, "black"),
            &stars(4, "black")
        )
    );
}

#[tokio::test]
async fn a_missing_reviewer_is_an_error_for_that_reviewer_only() {
    // 67
    let ratings = FakeServer::always(Reply::json(r#"{"id":0,"ratings":{"Reviewer1":3}}"#)).await;
    let app = spawn_with_ratings(&ratings, &[]).await;
    let (_, _, text) = fetch(client().get(app.url("/reviews/0"))).await;
    assert_eq!(
        text,
        body(
            "0",
            "reviews-test-pod",
            "null",
            &stars(3, "black"),
            UNAVAILABLE
        )
    );
}

#[tokio::test]
async fn a_200_without_ratings_is_an_error_for_both() {
    // 68, and a body that is not JSON at all.
    for answer in [
        r#"{"error":"could not connect to ratings database"}"#,
        "not json",
    ] {
        let ratings = FakeServer::always(Reply::json(answer)).await;
        let app = spawn_with_ratings(&ratings, &[]).await;
        let (status, _, text) = fetch(client().get(app.url("/reviews/0"))).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            text,
            body("0", "reviews-test-pod", "null", UNAVAILABLE, UNAVAILABLE),
            "{answer}"
        );
    }
}

#[tokio::test]
async fn zero_stars_are_emitted() {
    let ratings = FakeServer::always(Reply::json(
        r#"{"id":0,"ratings":{"Reviewer1":0,"Reviewer2":1}}"#,
    ))
    .await;
    let app = spawn_with_ratings(&ratings, &[("STAR_COLOR", "red")]).await;
    let (_, _, text) = fetch(client().get(app.url("/reviews/0"))).await;
    assert_eq!(
        text,
        body(
            "0",
            "reviews-test-pod",
            "null",
            &stars(0, "red"),
            &stars(1, "red")
        )
    );
}

#[tokio::test]
async fn the_product_id_is_normalized_in_the_ratings_url() {
    // 71
    let ratings = FakeServer::always(Reply::json(RATINGS_OK)).await;
    let app = spawn_with_ratings(&ratings, &[]).await;
    for path in ["/reviews/1", "/reviews/007"] {
        fetch(client().get(app.url(path))).await;
    }
    let uris: Vec<String> = ratings.requests().into_iter().map(|r| r.uri).collect();
    assert_eq!(uris, ["/ratings/1", "/ratings/7"]);
}

#[tokio::test]
async fn the_ratings_host_is_name_dot_domain_colon_port() {
    // 72, through the real request path without DNS: host `127.0.0` joined with domain `1` is
    // only reachable if the URL is built as `<host>.<domain>:<port>`.
    let ratings = FakeServer::always(Reply::json(RATINGS_OK)).await;
    let port = ratings.port();
    let app = spawn_app(&[
        ("ENABLE_RATINGS", "true"),
        ("RATINGS_HOSTNAME", "127.0.0"),
        ("SERVICES_DOMAIN", "1"),
        ("RATINGS_SERVICE_PORT", &port),
    ])
    .await;
    let (_, _, text) = fetch(client().get(app.url("/reviews/5"))).await;
    assert_eq!(
        text,
        body("5", "null", "null", &stars(5, "black"), &stars(4, "black"))
    );
    let seen = ratings.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].uri, "/ratings/5");
    assert_eq!(
        seen[0].header("host"),
        Some(format!("127.0.0.1:{port}").as_str())
    );
}

/// A ratings answer far bigger than any real one counts as unavailable; it is not read whole.
#[tokio::test]
async fn an_oversized_ratings_answer_is_unavailable() {
    let padded = format!(
        r#"{{"pad": "{}", "id":0,"ratings":{{"Reviewer1":5,"Reviewer2":4}}}}"#,
        "x".repeat(4 << 20)
    );
    let ratings = FakeServer::always(Reply::json(padded)).await;
    let app = spawn_with_ratings(&ratings, &[]).await;
    let (status, _, text) = fetch(client().get(app.url("/reviews/0"))).await;
    assert_eq!(status, 200);
    assert_eq!(
        text,
        body("0", "reviews-test-pod", "null", UNAVAILABLE, UNAVAILABLE)
    );
}
