//! Metrics and graceful shutdown.

use std::time::Duration;

use bookinfo_testing::{FakeServer, Reply};

use crate::helpers::{client, fetch, spawn_app};

#[tokio::test]
async fn metrics_count_requests_and_google_calls() {
    let fake = FakeServer::always(Reply::status(503)).await;
    let base = fake.base_url();
    let app = spawn_app(&[
        ("ENABLE_EXTERNAL_BOOK_SERVICE", "true"),
        ("GOOGLE_BOOKS_URL", &base),
    ])
    .await;
    fetch(client().get(app.url("/details/0"))).await;
    fetch(client().get(app.url("/health"))).await;
    let resp = client().get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = resp.text().await.unwrap();
    for line in [
        r#"http_server_requests_total{method="GET",route="/details/{*rest}",status="400",service="details"} 1"#,
        r#"http_server_requests_total{method="GET",route="/health",status="200",service="details"} 1"#,
        r#"http_client_requests_total{destination="googleapis",status="503",service="details"} 1"#,
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    assert!(text.contains("http_server_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn stopping_lets_an_in_flight_request_finish() {
    let fake = FakeServer::always(
        Reply::json(include_str!("fixtures/google_books_isbn_0486424618.json"))
            .delayed(Duration::from_millis(500)),
    )
    .await;
    let base = fake.base_url();
    let app = spawn_app(&[
        ("ENABLE_EXTERNAL_BOOK_SERVICE", "true"),
        ("GOOGLE_BOOKS_URL", &base),
    ])
    .await;
    let url = app.url("/details/0");
    let in_flight = tokio::spawn(async move { client().get(url).send().await });
    while fake.requests().is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let addr = app.addr;
    app.stop().await.unwrap();
    let resp = in_flight.await.unwrap().unwrap();
    assert_eq!(resp.status(), 200);
    // And nothing new is accepted.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
