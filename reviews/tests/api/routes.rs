//! v1, health, ids and methods (docs/compatibility.md, items 60, 69, 70, 71).

use bookinfo_testing::{FakeServer, Reply};
use reqwest::Method;

use crate::helpers::{JSON, RATINGS_OK, body, client, fetch, spawn_app};

#[tokio::test]
async fn v1_has_no_ratings_and_never_calls_ratings() {
    // 60
    let ratings = FakeServer::always(Reply::json(RATINGS_OK)).await;
    let port = ratings.port();
    for enable in [None, Some("false"), Some("1")] {
        let mut env = vec![
            ("HOSTNAME", "reviews-v1-abc"),
            ("RATINGS_HOSTNAME", "127.0.0.1"),
            ("RATINGS_SERVICE_PORT", port.as_str()),
        ];
        if let Some(value) = enable {
            env.push(("ENABLE_RATINGS", value));
        }
        let app = spawn_app(&env).await;
        let (status, ct, text) = fetch(client().get(app.url("/reviews/0"))).await;
        assert_eq!((status, ct.as_str()), (200, JSON), "{enable:?}");
        assert_eq!(
            text,
            body("0", "reviews-v1-abc", "null", "", ""),
            "{enable:?}"
        );
    }
    assert!(ratings.requests().is_empty());
}

#[tokio::test]
async fn v1_body_is_byte_exact() {
    // 60, written out in full once rather than through the helper.
    let app = spawn_app(&[("HOSTNAME", "reviews-v1-abc")]).await;
    let (_, _, text) = fetch(client().get(app.url("/reviews/0"))).await;
    assert_eq!(
        text,
        r#"{"id": "0","podname": "reviews-v1-abc","clustername": "null","reviews": [{  "reviewer": "Reviewer1",  "text": "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!"},{  "reviewer": "Reviewer2",  "text": "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare."}]}"#
    );
}

#[tokio::test]
async fn podname_and_clustername_come_from_the_environment() {
    // 69
    let app = spawn_app(&[]).await;
    let (_, _, text) = fetch(client().get(app.url("/reviews/0"))).await;
    assert_eq!(text, body("0", "null", "null", "", ""));
    let app = spawn_app(&[("HOSTNAME", "p1"), ("CLUSTER_NAME", "east")]).await;
    let (_, _, text) = fetch(client().get(app.url("/reviews/0"))).await;
    assert_eq!(text, body("0", "p1", "east", "", ""));
}

#[tokio::test]
async fn health_has_a_space_after_the_colon() {
    // 70
    let app = spawn_app(&[]).await;
    let (status, ct, text) = fetch(client().get(app.url("/health"))).await;
    assert_eq!((status, ct.as_str()), (200, JSON));
    assert_eq!(text, r#"{"status": "Reviews is healthy"}"#);
}

#[tokio::test]
async fn ids_are_32_bit_integers() {
    // 71
    let app = spawn_app(&[("HOSTNAME", "p")]).await;
    for (path, id) in [
        ("/reviews/1", "1"),
        ("/reviews/007", "7"),
        ("/reviews/-2", "-2"),
        ("/reviews/+3", "3"),
        ("/reviews/%31", "1"),
        ("/reviews/2147483647", "2147483647"),
    ] {
        let (status, _, text) = fetch(client().get(app.url(path))).await;
        assert_eq!(
            (status, text),
            (200, body(id, "p", "null", "", "")),
            "{path}"
        );
    }
    for path in [
        "/reviews/abc",
        "/reviews/1.5",
        "/reviews/2147483648",
        "/reviews/0x10",
        "/reviews/",
        "/reviews",
        "/review/0",
        "/",
    ] {
        let (status, _, _) = fetch(client().get(app.url(path))).await;
        assert_eq!(status, 404, "{path}");
    }
}

#[tokio::test]
async fn other_methods_are_405() {
    let app = spawn_app(&[]).await;
    for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
        let (status, ct, _) = fetch(client().request(method.clone(), app.url("/reviews/0"))).await;
        assert_eq!((status, ct.as_str()), (405, JSON), "{method}");
    }
}

/// The connection limits come from the environment (`SERVER_*`).
#[tokio::test]
async fn slow_clients_are_cut_off() {
    use bookinfo_testing::raw;
    let app = spawn_app(raw::SHORT_LIMITS).await;
    raw::assert_slow_clients_are_cut_off(app.addr, "/reviews/0").await;
}
