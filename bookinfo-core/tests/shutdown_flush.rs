//! Spans that end while a service is shutting down are still exported.
//!
//! A request whose client went away is dropped rather than finished, and the server may drop it
//! a moment after it has stopped counting connections. Its spans end on that drop; if the
//! tracer provider had already shut down they would be discarded without a word.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use bookinfo_core::config::EnvReader;
use bookinfo_core::headers::Forwarded;
use bookinfo_core::trace::{ClientSpan, Tracing, TracingConfig};
use bookinfo_testing::{FakeServer, Reply};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

type Held = Arc<Mutex<Vec<ClientSpan>>>;

/// Opens a CLIENT span and leaves it open, as a request cut off mid-call would.
async fn open_a_call(State(held): State<Held>, forwarded: Forwarded) -> &'static str {
    if let Some(trace) = &forwarded.trace {
        let span = trace.client_span("GET", "downstream", "http://downstream:9080/x", 0);
        if let Ok(mut held) = held.lock() {
            held.push(span);
        }
    }
    "ok"
}

fn exported_spans(sink: &FakeServer) -> usize {
    sink.requests()
        .iter()
        .filter_map(|r| ExportTraceServiceRequest::decode(r.body.clone()).ok())
        .flat_map(|req| req.resource_spans)
        .flat_map(|rs| rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_ending_during_shutdown_are_exported() {
    let sink = FakeServer::always(Reply::status(200)).await;
    let vars: HashMap<String, String> = [
        ("OTEL_TRACES_EXPORTER", "otlp".to_owned()),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            format!("{}/v1/traces", sink.base_url()),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY", "60000".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let mut env = EnvReader::new(&vars);
    let config = TracingConfig::read(&mut env, "svc", "v1");
    let config = env.finish(config).expect("valid configuration");
    let tracing = Tracing::start(&config);
    assert!(tracing.is_participating());

    let held: Held = Arc::default();
    let app = Router::new()
        .route("/", get(open_a_call))
        .with_state(held.clone())
        .layer(axum::middleware::from_fn_with_state(
            tracing.clone(),
            bookinfo_core::trace::server::middleware,
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let status = reqwest::get(format!("http://{addr}/"))
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    server.abort();

    // The server span has ended; the client span is still open and ends 200 ms into shutdown.
    let late = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let spans: Vec<ClientSpan> = held.lock().map(|mut h| h.drain(..).collect()).unwrap();
        assert_eq!(spans.len(), 1);
        for span in spans {
            span.finish(Err("cancelled"));
        }
    });
    tracing.shutdown().await;
    late.await.unwrap();
    assert_eq!(
        exported_spans(&sink),
        2,
        "the server span and the late client span"
    );
}
