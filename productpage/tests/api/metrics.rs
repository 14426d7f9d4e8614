//! `/metrics` (docs/compatibility.md, items 9 and 10).

use bookinfo_testing::{FakeServer, Reply};

use crate::helpers::{Backends, DETAILS_0, closed_port, spawn_app, spawn_with};

async fn scrape(app: &crate::helpers::TestApp) -> String {
    let resp = app.get("/metrics").await;
    assert_eq!(resp.status(), 200);
    // Deliberate difference: the exposition format's own content type, not text/html.
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    resp.text().await.unwrap()
}

/// 9: one increment per logical call, with its final status; a 2-attempt call counts once.
#[tokio::test]
async fn request_result_counts_logical_calls() {
    let backends = Backends::with(
        FakeServer::always(Reply::json(DETAILS_0)).await,
        FakeServer::always(Reply::status(503)).await,
    )
    .await;
    let app = spawn_with(&backends, &[]).await;
    app.page("/productpage").await;
    let text = scrape(&app).await;
    assert!(
        text.contains("# HELP request_result_total Results of requests"),
        "{text}"
    );
    assert!(text.contains("# TYPE request_result_total counter"));
    assert!(text.contains(r#"request_result_total{destination_app="details",response_code="200""#));
    let reviews_503 = text
        .lines()
        .find(|l| {
            l.starts_with(r#"request_result_total{destination_app="reviews",response_code="503""#)
        })
        .unwrap();
    assert!(reviews_503.ends_with(" 1"), "{reviews_503}");
    // Per-route and per-backend latency histograms.
    assert!(text.contains(
        r#"http_server_request_duration_seconds_count{method="GET",route="/productpage""#
    ));
    assert!(text.contains(r#"http_client_request_duration_seconds_count{destination="reviews""#));
}

/// 10: no response at all is counted as 500.
#[tokio::test]
async fn connection_error_counts_as_500() {
    let app = spawn_app(vec![
        ("DETAILS_HOSTNAME".into(), "127.0.0.1".into()),
        ("DETAILS_SERVICE_PORT".into(), closed_port()),
    ])
    .await;
    assert_eq!(app.get("/api/v1/products/0").await.status(), 500);
    let text = scrape(&app).await;
    assert!(
        text.contains(r#"request_result_total{destination_app="details",response_code="500""#),
        "{text}"
    );
}
