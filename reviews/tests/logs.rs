//! While ratings is down, the warning about it is written once per interval, not once per
//! request. (A test binary of its own: it installs the process-wide log subscriber.)

#![allow(clippy::unwrap_used)] // Tests fail loudly on anything unexpected.

use bookinfo_core::telemetry::log_filter;
use bookinfo_testing::logs::CapturedLogs;
use bookinfo_testing::{env, spawn};
use reviews::{AppState, Config};

#[tokio::test]
async fn ratings_down_is_one_warning_not_one_per_request() {
    // The services' own log filter (RUST_LOG=info), written to a buffer instead of stdout.
    let logs = CapturedLogs::install(log_filter("info"));
    // Nothing listens on the ratings port: every call is refused at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port().to_string();
    drop(closed);
    let config = Config::from_env(&env(&[
        ("ENABLE_RATINGS", "true"),
        ("RATINGS_HOSTNAME", "127.0.0.1"),
        ("RATINGS_SERVICE_PORT", &port),
    ]))
    .unwrap();
    let app = spawn(|l, s| reviews::run(l, AppState::new(config), s)).await;
    let client = reqwest::Client::new();
    for _ in 0..30 {
        let resp = client.get(app.url("/reviews/0")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.text().await.unwrap().contains("currently unavailable"));
    }
    app.stop().await.unwrap();
    let text = logs.text();
    let warnings = text
        .lines()
        .filter(|l| l.contains("ratings unavailable"))
        .count();
    // Thirty failures well within one 10 s interval: the first is written, the rest counted.
    assert_eq!(warnings, 1, "{text}");
    assert!(text.contains("suppressed=0"), "{text}");
}
