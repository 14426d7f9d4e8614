//! The `bookinfo-tracecheck` binary: `check` against a fake Jaeger on loopback (exit status,
//! summary line, JSON), and its argument errors.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::process::Output;

use bookinfo_testing::{FakeServer, Reply};
use bookinfo_tracecheck::backends::jaeger;
use bookinfo_tracecheck::{Kind, Span};

fn span(id: u64, parent: Option<u64>, service: &str, kind: Kind, name: &str) -> Span {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let depth = id; // deeper spans start later and end earlier
    Span {
        trace_id: 0xfeed,
        span_id: id,
        parent_id: parent,
        name: name.to_owned(),
        kind,
        service: service.to_owned(),
        start_unix_nanos: now - 60_000_000_000 + depth * 1_000_000,
        end_unix_nanos: now - 50_000_000_000 - depth * 1_000_000,
        attributes: BTreeMap::new(),
        source: "otlp",
        status: bookinfo_tracecheck::span::Status::default(),
        events: Vec::new(),
    }
}

/// A reviews v1 page view: productpage → details, productpage → reviews.
fn page_view() -> Vec<Span> {
    vec![
        span(1, None, "productpage", Kind::Server, "GET /productpage"),
        span(2, Some(1), "productpage", Kind::Client, "GET details"),
        span(3, Some(2), "details", Kind::Server, "GET /details/{*rest}"),
        span(4, Some(1), "productpage", Kind::Client, "GET reviews"),
        span(
            5,
            Some(4),
            "reviews",
            Kind::Server,
            "GET /reviews/{product_id}",
        ),
    ]
}

async fn run(args: &[&str]) -> Output {
    let exe = env!("CARGO_BIN_EXE_bookinfo-tracecheck");
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || std::process::Command::new(exe).args(args).output())
        .await
        .unwrap()
        .unwrap()
}

async fn jaeger_serving(spans: Vec<Span>) -> FakeServer {
    let body = jaeger::to_json(&spans).to_string();
    FakeServer::always(Reply::json(body)).await
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test]
async fn a_complete_trace_exits_zero_with_the_summary() {
    let jaeger = jaeger_serving(page_view()).await;
    let out = run(&[
        "check",
        "--jaeger",
        &jaeger.base_url(),
        "--service",
        "productpage",
        "--since",
        "5m",
    ])
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout(&out),
        format!(
            "jaeger at {}, services productpage, last 5m: 1 traces, 1 complete, 0 broken\n",
            jaeger.base_url()
        )
    );
    let asked = &jaeger.requests()[0];
    assert!(
        asked
            .uri
            .starts_with("/api/traces?service=productpage&start="),
        "{}",
        asked.uri
    );
}

#[tokio::test]
async fn a_broken_trace_exits_one_and_is_drawn() {
    let mut spans = page_view();
    spans.remove(3); // productpage's reviews call: reviews' span is left an orphan
    let jaeger = jaeger_serving(spans).await;
    let out = run(&[
        "check",
        "--jaeger",
        &jaeger.base_url(),
        "--service",
        "productpage",
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.starts_with("trace 0000000000000000000000000000feed  4 spans  BROKEN\n  productpage SERVER GET /productpage\n"),
        "{text}"
    );
    assert!(text.contains("  problem: reviews' server span \"GET /reviews/{product_id}\" has parent 0000000000000004, which is not in the trace\n"), "{text}");
    assert!(
        text.ends_with(": 1 traces, 0 complete, 1 broken\n"),
        "{text}"
    );

    let out = run(&["check", "--jaeger", &jaeger.base_url(), "--json"]).await;
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["broken"], 1);
    assert_eq!(
        json["services"],
        serde_json::json!(["productpage", "details", "reviews", "ratings"])
    );
    assert_eq!(json["results"][0]["problems"][0]["rule"], "orphan");
    assert_eq!(json["results"][0]["complete"], false);
}

#[tokio::test]
async fn nothing_to_judge_exits_two() {
    let empty = FakeServer::always(Reply::json(r#"{"data": []}"#)).await;
    let out = run(&["check", "--jaeger", &empty.base_url()]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no traces of productpage, details, reviews, ratings in the last 15m")
    );
    let down = FakeServer::always(Reply::status(503)).await;
    let out = run(&["check", "--zipkin", &down.base_url()]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("answered 503"));
}

#[tokio::test]
async fn bad_arguments_are_explained() {
    let out = run(&["check"]).await;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--jaeger <URL>|--zipkin <URL>|--tempo <URL>"),
        "{err}"
    );
    let out = run(&["check", "--jaeger", "http://x", "--since", "soon"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not a duration like 90s, 15m, 2h or 1d")
    );
}
