//! Backend failures: statuses, retries, timeouts and the error texts (docs/compatibility.md,
//! items 12–23, 46).

use std::time::{Duration, Instant};

use bookinfo_testing::{FakeServer, Reply, raw};

use crate::helpers::{
    Backends, DETAILS_0, REVIEWS_V1, SHORT_TIMEOUT, closed_port, reviews_rated, spawn_app,
    spawn_with,
};

const DETAILS_ERROR: &str =
    r#"{"error": "Sorry, product details are currently unavailable for this book."}"#;
const REVIEWS_ERROR: &str =
    r#"{"error": "Sorry, product reviews are currently unavailable for this book."}"#;

fn short() -> [(&'static str, &'static str); 1] {
    [("BACKEND_TIMEOUT_SECONDS", SHORT_TIMEOUT)]
}

async fn reviews_ok() -> FakeServer {
    FakeServer::always(Reply::json(reviews_rated("black"))).await
}

/// 12 and 46: a fault-injected 555 from details shows the details error; reviews still shown.
#[tokio::test]
async fn details_555_shows_details_error_and_reviews() {
    let backends = Backends::with(
        FakeServer::always(Reply::status(555)).await,
        reviews_ok().await,
    )
    .await;
    let app = spawn_with(&backends, &[]).await;
    let body = app.page("/productpage").await;
    assert!(body.contains("Error fetching product details"));
    assert!(body.contains("Sorry, product details are currently unavailable for this book."));
    assert!(!body.contains("Book Details"));
    assert!(!body.contains("ISBN-10"));
    assert!(body.contains("Book Reviews"));
    assert!(body.contains("Reviewer1") && body.contains("Reviewer2"));
}

/// 13: details hanging → page after about one timeout; the API answers 500 with upstream's text.
#[tokio::test]
async fn details_timeout() {
    let backends =
        Backends::with(FakeServer::always(Reply::hang()).await, reviews_ok().await).await;
    let app = spawn_with(&backends, &short()).await;
    let started = Instant::now();
    let body = app.page("/productpage").await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(400), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(body.contains("Error fetching product details"));
    assert!(body.contains("Book Reviews"));
    let resp = app.get("/api/v1/products/0").await;
    assert_eq!(resp.status(), 500);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(resp.text().await.unwrap(), DETAILS_ERROR);
}

/// 13: details unreachable (connection refused) → 500.
#[tokio::test]
async fn details_unreachable_is_500() {
    let mut env = Backends::healthy().await.env();
    env.retain(|(k, _)| k != "DETAILS_SERVICE_PORT");
    env.push(("DETAILS_SERVICE_PORT".into(), closed_port()));
    let app = spawn_app(env).await;
    let resp = app.get("/api/v1/products/0").await;
    assert_eq!(resp.status(), 500);
    assert_eq!(resp.text().await.unwrap(), DETAILS_ERROR);
}

/// 14: details' own error status is passed on.
#[tokio::test]
async fn details_503_is_passed_on() {
    let backends = Backends::with(
        FakeServer::always(Reply::status(503)).await,
        reviews_ok().await,
    )
    .await;
    let app = spawn_with(&backends, &[]).await;
    let resp = app.get("/api/v1/products/0").await;
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.text().await.unwrap(), DETAILS_ERROR);
}

/// 15 (deliberate difference): an id that is not an integer never reaches a backend; the answer
/// is what upstream relays from its backend for such an id (details 400, reviews 404, ratings
/// 400, each with the usual error text), and it is counted like a call.
#[tokio::test]
async fn non_numeric_ids_are_answered_without_a_backend_call() {
    let backends = Backends::healthy().await;
    let app = spawn_with(&backends, &[]).await;
    for id in [
        "abc",
        "..%2Fhealth",
        "..%2Fhealth%2Fratings",
        "0%3Fadmin%3Dtrue",
        "0%23x",
        "0%2F..%2F1",
        "%2E%2E",
        "1%202",
        "+1",
        "0x1f",
        "1.5",
        "12345678901234567890",
    ] {
        for (route, status, error) in [
            ("", 400, DETAILS_ERROR),
            ("/reviews", 404, REVIEWS_ERROR),
            (
                "/ratings",
                400,
                r#"{"error": "Sorry, product ratings are currently unavailable for this book."}"#,
            ),
        ] {
            // Sent as raw bytes: an HTTP client library would normalise `%2E%2E` away.
            let path = format!("/api/v1/products/{id}{route}");
            let mut conn = raw::connect(app.server.addr).await;
            raw::send(&mut conn, &raw::get(&path)).await;
            let resp = raw::read_response(&mut conn, Duration::from_secs(20))
                .await
                .unwrap();
            assert_eq!(resp.status, status, "{path}");
            assert_eq!(resp.body, error, "{path}");
        }
    }
    assert!(backends.all().is_empty(), "{:?}", backends.all());
    let metrics = app.page("/metrics").await;
    assert!(
        metrics.contains(r#"request_result_total{destination_app="details",response_code="400",service="productpage"} 12"#),
        "{metrics}"
    );
}

/// Integer ids, signs and leading zeros included, go to the backends as they are.
#[tokio::test]
async fn integer_ids_are_passed_on() {
    let backends = Backends::healthy().await;
    let app = spawn_with(&backends, &[]).await;
    for id in ["0", "-1", "007", "1234567890123456789"] {
        assert_eq!(
            app.get(&format!("/api/v1/products/{id}")).await.status(),
            200
        );
    }
    let uris: Vec<_> = backends
        .details
        .requests()
        .into_iter()
        .map(|r| r.uri)
        .collect();
    assert_eq!(
        uris,
        [
            "/details/0",
            "/details/-1",
            "/details/007",
            "/details/1234567890123456789"
        ]
    );
}

/// A backend answering far more than any real answer is a failed call (usual error text), and
/// productpage does not read it all.
#[tokio::test]
async fn oversized_backend_bodies_are_failed_calls() {
    let huge = format!(r#"{{"pad": "{}"}}"#, "x".repeat(4 << 20));
    let details = FakeServer::always(Reply::json(huge.clone())).await;
    let reviews = FakeServer::always(Reply::json(huge)).await;
    let backends = Backends::with(details, reviews).await;
    let app = spawn_with(&backends, &[]).await;
    let page = app.page("/productpage").await;
    assert!(page.contains("Error fetching product details"), "{page}");
    assert!(page.contains("Error fetching product reviews"));
    let resp = app.get("/api/v1/products/0").await;
    assert_eq!(resp.status(), 500);
    assert_eq!(resp.text().await.unwrap(), DETAILS_ERROR);
    let resp = app.get("/api/v1/products/0/reviews").await;
    assert_eq!(resp.status(), 500);
    assert_eq!(resp.text().await.unwrap(), REVIEWS_ERROR);
}

/// 16: details' object, re-serialized with upstream's separators and key order.
#[tokio::test]
async fn product_returns_details_object() {
    let details =
        FakeServer::always(Reply::json(DETAILS_0.replace(r#""id":0"#, r#""id":7"#))).await;
    let backends = Backends::with(details, reviews_ok().await).await;
    let app = spawn_with(&backends, &[]).await;
    let resp = app.get("/api/v1/products/7").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(
        resp.text().await.unwrap(),
        r#"{"id": 7, "author": "William Shakespeare", "year": 1595, "type": "paperback", "pages": 200, "publisher": "PublisherA", "language": "English", "ISBN-10": "1234567890", "ISBN-13": "123-1234567890"}"#
    );
    assert_eq!(backends.details.requests()[0].uri, "/details/7");
}

/// 17: reviews 503 twice → exactly two attempts, error block, API 503.
#[tokio::test]
async fn reviews_503_is_tried_twice() {
    let backends = Backends::with(
        FakeServer::always(Reply::json(DETAILS_0)).await,
        FakeServer::always(Reply::status(503)).await,
    )
    .await;
    let app = spawn_with(&backends, &[]).await;
    let body = app.page("/productpage").await;
    assert_eq!(backends.reviews.requests().len(), 2);
    assert!(body.contains("Error fetching product reviews"));
    assert!(body.contains("Sorry, product reviews are currently unavailable for this book."));
    assert!(!body.contains("Book Reviews"));
    assert!(body.contains("Book Details"));
    let resp = app.get("/api/v1/products/0/reviews").await;
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.text().await.unwrap(), REVIEWS_ERROR);
    assert_eq!(backends.reviews.requests().len(), 4);
}

/// 18: first attempt times out, the retry succeeds → reviews shown.
#[tokio::test]
async fn reviews_retry_succeeds_after_timeout() {
    let reviews = FakeServer::start(|_, i| {
        if i == 0 {
            Reply::hang()
        } else {
            Reply::json(REVIEWS_V1)
        }
    })
    .await;
    let backends = Backends::with(FakeServer::always(Reply::json(DETAILS_0)).await, reviews).await;
    let app = spawn_with(&backends, &short()).await;
    let body = app.page("/productpage").await;
    assert!(body.contains("Book Reviews"), "{body}");
    assert!(body.contains("Reviewer1"));
    assert_eq!(backends.reviews.requests().len(), 2);
}

/// 19: the last attempt's outcome decides: 503 then no answer → 500.
#[tokio::test]
async fn last_attempt_status_wins() {
    let reviews = FakeServer::start(|_, i| {
        if i % 2 == 0 {
            Reply::status(503)
        } else {
            Reply::hang()
        }
    })
    .await;
    let backends = Backends::with(FakeServer::always(Reply::json(DETAILS_0)).await, reviews).await;
    let app = spawn_with(&backends, &short()).await;
    let resp = app.get("/api/v1/products/0/reviews").await;
    assert_eq!(resp.status(), 500);
    assert_eq!(resp.text().await.unwrap(), REVIEWS_ERROR);
    // And the other way round: no answer, then 502 → 502.
    let reviews = FakeServer::start(|_, i| {
        if i % 2 == 0 {
            Reply::hang()
        } else {
            Reply::status(502)
        }
    })
    .await;
    let backends = Backends::with(FakeServer::always(Reply::json(DETAILS_0)).await, reviews).await;
    let app = spawn_with(&backends, &short()).await;
    assert_eq!(app.get("/api/v1/products/0/reviews").await.status(), 502);
}

/// 20: reviews hanging → two timeouts, then the reviews error.
#[tokio::test]
async fn reviews_hanging_costs_two_timeouts() {
    let backends = Backends::with(
        FakeServer::always(Reply::json(DETAILS_0)).await,
        FakeServer::always(Reply::hang()).await,
    )
    .await;
    let app = spawn_with(&backends, &short()).await;
    let started = Instant::now();
    let body = app.page("/productpage").await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(800), "{took:?}");
    assert!(took < Duration::from_secs(4), "{took:?}");
    assert!(body.contains("Sorry, product reviews are currently unavailable for this book."));
    assert_eq!(backends.reviews.requests().len(), 2);
}

/// 21: any status other than 200 is a failure, even 201.
#[tokio::test]
async fn reviews_201_is_a_failure() {
    let reviews =
        FakeServer::always(Reply::status_json(http::StatusCode::CREATED, REVIEWS_V1)).await;
    let backends = Backends::with(FakeServer::always(Reply::json(DETAILS_0)).await, reviews).await;
    let app = spawn_with(&backends, &[]).await;
    let body = app.page("/productpage").await;
    assert!(body.contains("Error fetching product reviews"));
    assert_eq!(backends.reviews.requests().len(), 2);
    assert_eq!(app.get("/api/v1/products/0/reviews").await.status(), 201);
}

/// 22: ratings through the API: re-serialized on success, one attempt and upstream's text on 500.
#[tokio::test]
async fn ratings_route() {
    let backends = Backends::healthy().await;
    let app = spawn_with(&backends, &[]).await;
    let resp = app.get("/api/v1/products/0/ratings").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(
        resp.text().await.unwrap(),
        r#"{"id": 0, "ratings": {"Reviewer1": 5, "Reviewer2": 4}}"#
    );
    assert_eq!(backends.ratings.requests()[0].uri, "/ratings/0");

    let mut failing = Backends::healthy().await;
    failing.ratings = FakeServer::always(Reply::status(500)).await;
    let app = spawn_with(&failing, &[]).await;
    let resp = app.get("/api/v1/products/0/ratings").await;
    assert_eq!(resp.status(), 500);
    assert_eq!(
        resp.text().await.unwrap(),
        r#"{"error": "Sorry, product ratings are currently unavailable for this book."}"#
    );
    assert_eq!(failing.ratings.requests().len(), 1);
}

/// 23: both backends down → still HTTP 200, both error blocks, the description still there.
#[tokio::test]
async fn page_is_200_when_everything_fails() {
    let mut env = Vec::new();
    for name in ["DETAILS", "REVIEWS", "RATINGS"] {
        env.push((format!("{name}_HOSTNAME"), "127.0.0.1".to_owned()));
        env.push((format!("{name}_SERVICE_PORT"), closed_port()));
    }
    let app = spawn_app(env).await;
    let body = app.page("/productpage").await;
    assert!(body.contains("William Shakespeare"));
    assert!(body.contains("Error fetching product details"));
    assert!(body.contains("Error fetching product reviews"));
}

/// A 200 whose body is not JSON is a failure, not a crash.
#[tokio::test]
async fn invalid_json_from_a_backend_is_a_failure() {
    let details = FakeServer::always(Reply::json("not json")).await;
    let backends = Backends::with(details, reviews_ok().await).await;
    let app = spawn_with(&backends, &[]).await;
    let body = app.page("/productpage").await;
    assert!(body.contains("Error fetching product details"));
    assert_eq!(app.get("/api/v1/products/0").await.status(), 500);
}
