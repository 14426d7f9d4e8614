//! Metrics and graceful shutdown.

use std::time::Duration;

use bookinfo_testing::{FakeServer, Reply};

use crate::helpers::{RATINGS_OK, client, fetch, spawn_with_ratings};

#[tokio::test]
async fn metrics_count_requests_and_ratings_calls() {
    let ratings = FakeServer::always(Reply::json(RATINGS_OK)).await;
    let app = spawn_with_ratings(&ratings, &[]).await;
    fetch(client().get(app.url("/reviews/0"))).await;
    fetch(client().get(app.url("/reviews/abc"))).await;
    let resp = client().get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    for line in [
        r#"http_server_requests_total{method="GET",route="/reviews/{product_id}",status="200",service="reviews"} 1"#,
        r#"http_server_requests_total{method="GET",route="/reviews/{product_id}",status="404",service="reviews"} 1"#,
        r#"http_client_requests_total{destination="ratings",status="200",service="reviews"} 1"#,
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
}

#[tokio::test]
async fn stopping_lets_an_in_flight_request_finish() {
    let ratings =
        FakeServer::always(Reply::json(RATINGS_OK).delayed(Duration::from_millis(500))).await;
    let app = spawn_with_ratings(&ratings, &[]).await;
    let url = app.url("/reviews/0");
    let in_flight = tokio::spawn(async move { client().get(url).send().await });
    while ratings.requests().is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let addr = app.addr;
    app.stop().await.unwrap();
    let resp = in_flight.await.unwrap().unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains(r#""stars": 5"#));
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
