//! While ratings is down, the warning about it is written once per interval, not once per
//! request. (A test binary of its own: it installs the process-wide log subscriber.)

#![allow(clippy::unwrap_used)] // Tests fail loudly on anything unexpected.

use std::io::Write;
use std::sync::{Arc, Mutex};

use bookinfo_testing::{env, spawn};
use reviews::{AppState, Config};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn ratings_down_is_one_warning_not_one_per_request() {
    let captured = Captured::default();
    let writer = captured.clone();
    // The services' own log filter (RUST_LOG=info), written to a buffer instead of stdout.
    tracing_subscriber::fmt()
        .with_ansi(false)
        .with_env_filter(bookinfo_core::telemetry::log_filter("info"))
        .with_writer(move || writer.clone())
        .init();
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
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let warnings = text
        .lines()
        .filter(|l| l.contains("ratings unavailable"))
        .count();
    // Thirty failures well within one 10 s interval: the first is written, the rest counted.
    assert_eq!(warnings, 1, "{text}");
    assert!(text.contains("suppressed=0"), "{text}");
}
