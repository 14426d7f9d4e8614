//! v1: in-memory ratings, routing quirks, health, metrics and methods.

use reqwest::Method;
use std::collections::HashSet;

use crate::helpers::{default_ratings, get, post, send, spawn_app};

const BAD_ID: &str = r#"{"error":"please provide numeric product ID"}"#;
const BAD_JSON: &str = r#"{"error":"please provide valid ratings JSON"}"#;

#[tokio::test]
async fn default_ratings_for_product_zero() {
    // 73
    let app = spawn_app(&[]).await;
    get(&app, "/ratings/0")
        .await
        .assert_json(200, &default_ratings(0));
}

#[tokio::test]
async fn unlisted_versions_behave_like_v1() {
    for version in ["v1", "v3", "V2", ""] {
        let app = spawn_app(&[("SERVICE_VERSION", version)]).await;
        get(&app, "/ratings/0")
            .await
            .assert_json(200, &default_ratings(0));
        post(&app, "/ratings/1", "{}")
            .await
            .assert_json(200, r#"{"id":1,"ratings":{}}"#);
    }
}

#[tokio::test]
async fn non_numeric_ids_are_rejected() {
    // 74
    let app = spawn_app(&[]).await;
    for path in ["/ratings/abc", "/ratings/", "/ratings/5/x", "/ratings/?x=1"] {
        get(&app, path).await.assert_json(400, BAD_ID);
    }
}

#[tokio::test]
async fn ratings_without_a_slash_is_not_found() {
    // 74 (status as upstream; the body is our JSON error instead of an empty one)
    let app = spawn_app(&[]).await;
    for path in ["/ratings", "/rating/0", "/", "/health/"] {
        let answer = get(&app, path).await;
        assert_eq!(answer.status, 404, "{path}: {answer:?}");
    }
}

#[tokio::test]
async fn id_is_parse_int_of_the_last_url_segment() {
    // 75
    let app = spawn_app(&[]).await;
    for (path, id) in [
        ("/ratings/1abc", 1),
        ("/ratings/0?x=1", 0),
        ("/ratings/5/7", 7),
        ("/ratings/2.9", 2),
        ("/ratings/-1", -1),
        ("/ratings/abc/5", 5),
    ] {
        get(&app, path).await.assert_json(200, &default_ratings(id));
    }
}

#[tokio::test]
async fn posted_ratings_are_kept_per_product() {
    // 76
    let app = spawn_app(&[]).await;
    let posted = r#"{"id":3,"ratings":{"Reviewer1":1,"Reviewer2":2}}"#;
    post(&app, "/ratings/3", r#"{"Reviewer1":1,"Reviewer2":2}"#)
        .await
        .assert_json(200, posted);
    get(&app, "/ratings/3").await.assert_json(200, posted);
    get(&app, "/ratings/0")
        .await
        .assert_json(200, &default_ratings(0));
    // Same product, other spelling of its id.
    get(&app, "/ratings/03?x").await.assert_json(200, posted);
}

#[tokio::test]
async fn any_json_value_is_accepted() {
    // 76 and 79
    let app = spawn_app(&[]).await;
    post(&app, "/ratings/8", "7")
        .await
        .assert_json(200, r#"{"id":8,"ratings":7}"#);
    get(&app, "/ratings/8")
        .await
        .assert_json(200, r#"{"id":8,"ratings":7}"#);
    post(&app, "/ratings/9", r#" {"b":1, "a":[true,null]} "#)
        .await
        .assert_json(200, r#"{"id":9,"ratings":{"b":1,"a":[true,null]}}"#);
}

#[tokio::test]
async fn invalid_posts_are_rejected_id_first() {
    // 77
    let app = spawn_app(&[]).await;
    post(&app, "/ratings/4", "notjson")
        .await
        .assert_json(400, BAD_JSON);
    post(&app, "/ratings/4", "")
        .await
        .assert_json(400, BAD_JSON);
    post(&app, "/ratings/abc", "notjson")
        .await
        .assert_json(400, BAD_ID);
    post(&app, "/ratings/abc", "{}")
        .await
        .assert_json(400, BAD_ID);
    // Nothing was stored by the failed attempts.
    get(&app, "/ratings/4")
        .await
        .assert_json(200, &default_ratings(4));
}

#[tokio::test]
async fn concurrent_writers_all_land() {
    let app = std::sync::Arc::new(spawn_app(&[]).await);
    let mut tasks = tokio::task::JoinSet::new();
    for id in 100..140 {
        let app = app.clone();
        tasks.spawn(async move {
            post(&app, &format!("/ratings/{id}"), &format!(r#"{{"n":{id}}}"#))
                .await
                .assert_json(200, &format!(r#"{{"id":{id},"ratings":{{"n":{id}}}}}"#));
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    for id in 100..140 {
        get(&app, &format!("/ratings/{id}"))
            .await
            .assert_json(200, &format!(r#"{{"id":{id},"ratings":{{"n":{id}}}}}"#));
    }
}

#[tokio::test]
async fn health() {
    // 79
    let app = spawn_app(&[]).await;
    get(&app, "/health")
        .await
        .assert_json(200, r#"{"status":"Ratings is healthy"}"#);
    get(&app, "/health?probe=1")
        .await
        .assert_json(200, r#"{"status":"Ratings is healthy"}"#);
    let answer = post(&app, "/health", "").await;
    assert_eq!(answer.status, 404, "{answer:?}");
}

#[tokio::test]
async fn other_methods_get_405() {
    // 88, deliberately different: upstream never answers these.
    let app = spawn_app(&[]).await;
    for method in [Method::PUT, Method::DELETE, Method::PATCH, Method::OPTIONS] {
        let answer = send(&app, method.clone(), "/ratings/0", "{}").await;
        answer.assert_json(405, r#"{"error":"method not allowed"}"#);
        assert_eq!(answer.allow.as_deref(), Some("GET, POST"), "{method}");
        let answer = send(&app, method.clone(), "/health", "").await;
        assert_eq!(answer.status, 405, "{method} /health");
    }
    let head = send(&app, Method::HEAD, "/ratings/0", "").await;
    assert_eq!(head.status, 405);
    assert_eq!(head.allow.as_deref(), Some("GET, POST"));
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = spawn_app(&[]).await;
    get(&app, "/ratings/0").await;
    get(&app, "/ratings/abc").await;
    let answer = get(&app, "/metrics").await;
    assert_eq!(answer.status, 200);
    assert!(
        answer
            .content_type
            .as_deref()
            .is_some_and(|ct| ct.starts_with("text/plain")),
        "{answer:?}"
    );
    let lines: HashSet<&str> = answer.body.lines().collect();
    for expected in [
        r#"http_server_requests_total{method="GET",route="/ratings/{*rest}",status="200",service="ratings"} 1"#,
        r#"http_server_requests_total{method="GET",route="/ratings/{*rest}",status="400",service="ratings"} 1"#,
    ] {
        assert!(
            lines.contains(expected),
            "missing {expected} in\n{}",
            answer.body
        );
    }
}

#[tokio::test]
async fn ids_that_overflow_are_refused_not_mapped_to_zero() {
    let app = spawn_app(&[]).await;
    let digits = "9".repeat(60_000);
    get(&app, &format!("/ratings/{digits}"))
        .await
        .assert_json(400, BAD_ID);
    post(&app, &format!("/ratings/{digits}"), "{}")
        .await
        .assert_json(400, BAD_ID);
}

#[tokio::test]
async fn posted_ratings_are_bounded() {
    const TOO_LARGE: &str = r#"{"error":"ratings too large: at most 32 reviewers, names of at most 128 bytes and values of at most 256 bytes of JSON"}"#;
    let app = spawn_app(&[]).await;
    let many: serde_json::Map<String, serde_json::Value> = (0..33)
        .map(|i| (format!("Reviewer{i}"), serde_json::json!(i)))
        .collect();
    for body in [
        serde_json::Value::Object(many).to_string(),
        format!(r#"{{"{}": 5}}"#, "n".repeat(129)),
        format!(r#"{{"Reviewer1": "{}"}}"#, "v".repeat(300)),
        format!(r#"[{}]"#, vec!["1"; 200].join(",")),
    ] {
        post(&app, "/ratings/1", &body)
            .await
            .assert_json(413, TOO_LARGE);
    }
    get(&app, "/ratings/1")
        .await
        .assert_json(200, &default_ratings(1));
}

#[tokio::test]
async fn the_store_keeps_a_bounded_number_of_products() {
    const FULL: &str =
        r#"{"error":"ratings store full: ratings can be posted for at most 1000 products"}"#;
    let app = spawn_app(&[]).await;
    let client = crate::helpers::client();
    for id in 0..1000 {
        let answer = crate::helpers::send_via(
            &client,
            &app,
            Method::POST,
            &format!("/ratings/{id}"),
            r#"{"Reviewer1":1}"#,
        )
        .await;
        assert_eq!(answer.status, 200, "{id}: {answer:?}");
    }
    post(&app, "/ratings/1000", "{}")
        .await
        .assert_json(409, FULL);
    // Products already kept still take new ratings; unposted ones still read the defaults.
    post(&app, "/ratings/5", r#"{"Reviewer1":2}"#)
        .await
        .assert_json(200, r#"{"id":5,"ratings":{"Reviewer1":2}}"#);
    get(&app, "/ratings/1000")
        .await
        .assert_json(200, &default_ratings(1000));
}

/// The connection limits come from the environment (`SERVER_*`).
#[tokio::test]
async fn slow_clients_are_cut_off() {
    use bookinfo_testing::raw;
    let app = spawn_app(raw::SHORT_LIMITS).await;
    raw::assert_slow_clients_are_cut_off(app.addr, "/ratings/0").await;
}
