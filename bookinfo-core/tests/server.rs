//! The shared server bootstrap on a real socket: JSON fallbacks, body limit, metrics, and a
//! graceful shutdown that lets in-flight requests finish but not beyond the grace period.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use axum::Router;
use axum::routing::{get, post};
use bookinfo_core::Metrics;
use bookinfo_core::server::{BODY_LIMIT, serve};
use bookinfo_testing::{hardened, slow_handler, spawn};

fn router(metrics: Metrics) -> Router {
    let m = metrics.clone();
    let routes = Router::new()
        .route("/echo", post(|body: String| async move { body }))
        .route("/metrics", get(move || async move { m.response() }));
    hardened(routes, metrics)
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let server = spawn(|l, s| serve(l, router(Metrics::new("t")), s, Duration::from_secs(1))).await;
    let c = reqwest::Client::new();
    let r = c.get(server.url("/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.text().await.unwrap(), r#"{"error":"not found"}"#);
    let r = c.delete(server.url("/echo")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["content-type"], "application/json");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn oversized_bodies_are_rejected_with_json() {
    let server = spawn(|l, s| serve(l, router(Metrics::new("t")), s, Duration::from_secs(1))).await;
    let r = reqwest::Client::new()
        .post(server.url("/echo"))
        .body(vec![b'x'; BODY_LIMIT + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["content-type"], "application/json");
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["error"].is_string(), "{body}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn requests_are_counted_by_route_template() {
    let metrics = Metrics::new("t");
    let server = spawn(|l, s| serve(l, router(metrics), s, Duration::from_secs(1))).await;
    let c = reqwest::Client::new();
    c.post(server.url("/echo")).body("hi").send().await.unwrap();
    c.get(server.url("/missing/1")).send().await.unwrap();
    let text = c.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(
        text.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = text.text().await.unwrap();
    assert!(text.contains(r#"route="/echo",status="200""#), "{text}");
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    server.stop().await.unwrap();
}

/// Methods and paths a client invents never become label values.
#[tokio::test]
async fn metrics_labels_stay_bounded_whatever_the_method() {
    use bookinfo_testing::raw::{connect, read_response, send};
    let metrics = Metrics::new("t");
    let server = spawn(|l, s| serve(l, router(metrics), s, Duration::from_secs(1))).await;
    let mut conn = connect(server.addr).await;
    for i in 0..300 {
        let request =
            format!("QZ{i:019} /probe/{i} HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
        assert!(send(&mut conn, request.as_bytes()).await);
        let answer = read_response(&mut conn, Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(answer.status, 404);
    }
    let text = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("QZ"), "a client's method became a label");
    assert!(!text.contains("/probe/"), "a raw path became a label");
    assert!(
        text.contains(r#"http_server_requests_total{method="other",route="unmatched",status="404",service="t"} 300"#),
        "{text}"
    );
    assert!(text.len() < 16 * 1024, "{} bytes", text.len());
    server.stop().await.unwrap();
}

/// A `/slow` route that answers "done" after `delay`, and a signal that it has started.
fn slow(delay: Duration) -> (Router, Arc<Notify>) {
    let started = Arc::new(Notify::new());
    let routes = Router::new().route("/slow", slow_handler(delay, started.clone()));
    (hardened(routes, Metrics::new("t")), started)
}

#[tokio::test]
async fn shutdown_drains_in_flight_requests() {
    let (router, started) = slow(Duration::from_millis(300));
    let server = spawn(|l, s| serve(l, router, s, Duration::from_secs(5))).await;
    let url = server.url("/slow");
    let in_flight = tokio::spawn(async move { reqwest::get(url).await?.text().await });
    // Stop only once the handler runs, so the shutdown really lands mid-request.
    started.notified().await;
    let addr = server.addr;
    server.stop().await.unwrap();
    assert_eq!(
        in_flight.await.unwrap().unwrap(),
        "done",
        "the in-flight request finished"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn shutdown_gives_up_after_the_grace_period() {
    let (router, started) = slow(Duration::from_secs(30));
    let server = spawn(|l, s| serve(l, router, s, Duration::from_millis(200))).await;
    let url = server.url("/slow");
    let in_flight = tokio::spawn(async move { reqwest::get(url).await });
    started.notified().await;
    let stopping = Instant::now();
    server.stop().await.unwrap();
    let took = stopping.elapsed();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(5),
        "waited the grace period, then gave up: {took:?}"
    );
    // `serve` has returned, so `main` returns and the process exits, ending the stuck request.
    in_flight.abort();
}
