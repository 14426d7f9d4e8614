//! What a request can make the access log write: long paths and methods are cut short.
//! (A test binary of its own: it installs the process-wide log subscriber.)

#![allow(clippy::unwrap_used)] // Tests fail loudly on anything unexpected.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use bookinfo_core::Metrics;
use bookinfo_core::server::serve;
use bookinfo_core::telemetry::log_filter;
use bookinfo_testing::logs::CapturedLogs;
use bookinfo_testing::raw::{connect, read_response, send};
use bookinfo_testing::{hardened, spawn};

#[tokio::test]
async fn long_request_values_are_truncated_in_the_access_log() {
    let logs = CapturedLogs::install(log_filter("info"));
    let routes = Router::new().route("/hello", get(|| async { "hello" }));
    let router = hardened(routes, Metrics::new("t"));
    let server = spawn(|l, s| serve(l, router, s, Duration::from_secs(1))).await;
    let long_path = format!("/{}", "a".repeat(40 * 1024));
    let long_method = "M".repeat(2000);
    let mut conn = connect(server.addr).await;
    let request = format!("{long_method} {long_path} HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(send(&mut conn, request.as_bytes()).await);
    let answer = read_response(&mut conn, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(answer.status, 404);
    server.stop().await.unwrap();
    let text = logs.text();
    let line = text
        .lines()
        .find(|l| l.contains("access") && l.contains("status=404"))
        .unwrap_or_else(|| panic!("no access line in {text}"));
    assert!(line.len() < 2048, "{} bytes logged", line.len());
    assert!(
        line.contains(&format!("…(+{} bytes)", long_path.len() - 256)),
        "{line}"
    );
}
