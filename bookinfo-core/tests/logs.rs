//! What the access log writes: long paths and methods are cut short, and in participating mode
//! each line carries the ids of its own request. (A test binary of its own: it installs the
//! process-wide log subscriber.)

#![allow(clippy::unwrap_used)] // Tests fail loudly on anything unexpected.

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use bookinfo_core::Metrics;
use bookinfo_core::config::EnvReader;
use bookinfo_core::server::{ServiceId, harden, serve};
use bookinfo_core::telemetry::log_filter;
use bookinfo_core::trace::{Tracing, TracingConfig};
use bookinfo_testing::logs::CapturedLogs;
use bookinfo_testing::raw::{connect, read_response, send};
use bookinfo_testing::{FakeServer, Reply, hardened, spawn};
use tokio::sync::OnceCell;

/// The subscriber is process-wide: every test here shares one.
static LOGS: OnceCell<CapturedLogs> = OnceCell::const_new();

async fn logs() -> &'static CapturedLogs {
    LOGS.get_or_init(|| async { CapturedLogs::install(log_filter("info")) })
        .await
}

#[tokio::test]
async fn long_request_values_are_truncated_in_the_access_log() {
    let logs = logs().await;
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

#[tokio::test]
async fn each_access_line_carries_the_ids_of_its_own_request() {
    let logs = logs().await;
    let sink = FakeServer::always(Reply::status(200)).await;
    let vars: HashMap<String, String> = [
        ("OTEL_TRACES_EXPORTER", "otlp".to_owned()),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            format!("{}/v1/traces", sink.base_url()),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let mut env = EnvReader::new(&vars);
    let config = TracingConfig::read(&mut env, "ids", "v1");
    let config = env.finish(config).unwrap();
    let tracing = Tracing::start(&config);
    assert!(tracing.is_participating());
    let routes = Router::new().route("/ids", get(|| async { "ids" }));
    let router = harden(
        routes,
        Metrics::new("ids"),
        tracing,
        ServiceId::new("ids", "v1"),
    );
    let server = spawn(|l, s| serve(l, router, s, Duration::from_secs(1))).await;
    let client = reqwest::Client::new();
    let traces = [
        "11111111111111111111111111111111",
        "22222222222222222222222222222222",
        "33333333333333333333333333333333",
    ];
    for trace in traces {
        let resp = client
            .get(format!("http://{}/ids", server.addr))
            .header("traceparent", format!("00-{trace}-00000000000000aa-01"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    server.stop().await.unwrap();
    let text = logs.text();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("access") && l.contains("path=/ids"))
        .collect();
    assert_eq!(lines.len(), traces.len(), "{text}");
    for (line, trace) in lines.iter().zip(traces) {
        assert!(line.contains("svc{service=ids version=v1}"), "{line}");
        assert!(line.contains(&format!("trace_id={trace}")), "{line}");
        let others = traces.iter().filter(|t| **t != trace);
        for other in others {
            assert!(!line.contains(other), "{line}");
        }
    }
}
