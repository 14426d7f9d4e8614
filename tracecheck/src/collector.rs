//! An in-process trace backend: OTLP/HTTP and Zipkin v2 receivers on one loopback port, and
//! (with [`Collector::start`]) an OTLP/gRPC receiver on a second one.

mod grpc;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as OtlpStatus;
use prost::Message;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::span::{Kind, Span, SpanEvent, Status, parse_span_id, parse_trace_id};

#[derive(Default)]
struct Store {
    spans: Mutex<Vec<Span>>,
    rejected: Mutex<Vec<String>>,
    arrived: Notify,
}

/// A running collector. Dropping it stops the server.
pub struct Collector {
    pub addr: SocketAddr,
    /// Where OTLP/gRPC is received, when started with [`Collector::start`].
    pub grpc_addr: Option<SocketAddr>,
    store: Arc<Store>,
    task: tokio::task::JoinHandle<()>,
    grpc_task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(task) = &self.grpc_task {
            task.abort();
        }
    }
}

impl Collector {
    /// Listen on 127.0.0.1:0 for OTLP/HTTP and Zipkin, and on another port for OTLP/gRPC.
    pub async fn start() -> std::io::Result<Self> {
        let mut collector = Self::start_on(TcpListener::bind("127.0.0.1:0").await?)?;
        let grpc = TcpListener::bind("127.0.0.1:0").await?;
        collector.grpc_addr = Some(grpc.local_addr()?);
        collector.grpc_task = Some(tokio::spawn(grpc::serve(grpc, collector.store.clone())));
        Ok(collector)
    }

    /// Serve on a listener the caller bound (e.g. a fixed port for a container network).
    pub fn start_on(listener: TcpListener) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let store = Arc::new(Store::default());
        let router = Router::new()
            .route("/v1/traces", post(otlp))
            .route("/api/v2/spans", post(zipkin))
            .with_state(store.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self {
            addr,
            grpc_addr: None,
            store,
            task,
            grpc_task: None,
        })
    }

    /// `http://127.0.0.1:<port>`: the OTLP endpoint base (`/v1/traces` is appended by SDKs).
    pub fn otlp_endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:<port>`: the OTLP/gRPC endpoint, when there is one.
    pub fn otlp_grpc_endpoint(&self) -> Option<String> {
        self.grpc_addr.map(|a| format!("http://{a}"))
    }

    /// The Zipkin v2 endpoint.
    pub fn zipkin_endpoint(&self) -> String {
        format!("http://{}/api/v2/spans", self.addr)
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<Span> {
        self.store
            .spans
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Payloads that could not be decoded (a test should expect none).
    pub fn rejected(&self) -> Vec<String> {
        self.store
            .rejected
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Store `spans` as if they had been received.
    pub fn record(&self, spans: Vec<Span>) {
        keep(&self.store, spans);
    }

    /// Forget everything received so far.
    pub fn clear(&self) {
        if let Ok(mut s) = self.store.spans.lock() {
            s.clear();
        }
    }

    /// Wait until `done(spans)` holds, or `timeout` passes; returns the spans either way.
    pub async fn wait_until(&self, timeout: Duration, done: impl Fn(&[Span]) -> bool) -> Vec<Span> {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.store.arrived.notified();
            let spans = self.spans();
            if done(&spans) {
                return spans;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tokio::time::timeout(left, notified).await.is_err() {
                return self.spans();
            }
        }
    }

    /// Wait until at least `n` spans arrived (or `timeout`).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Span> {
        self.wait_until(timeout, |s| s.len() >= n).await
    }

    /// Spans grouped by trace id.
    pub fn traces(&self) -> BTreeMap<u128, Vec<Span>> {
        group(self.spans())
    }
}

/// Group spans by trace id.
pub fn group(spans: Vec<Span>) -> BTreeMap<u128, Vec<Span>> {
    let mut out: BTreeMap<u128, Vec<Span>> = BTreeMap::new();
    for s in spans {
        out.entry(s.trace_id).or_default().push(s);
    }
    out
}

/// Spans held at most. A collector left running (`bookinfo --traces`, the compose stack) must
/// not grow without bound: past this, the older half is forgotten.
pub const MAX_SPANS: usize = 200_000;

fn keep(store: &Store, spans: Vec<Span>) {
    if let Ok(mut all) = store.spans.lock() {
        all.extend(spans);
        if all.len() > MAX_SPANS {
            let excess = all.len() - MAX_SPANS / 2;
            all.drain(..excess);
        }
    }
    store.arrived.notify_waiters();
}

fn reject_only(store: &Store, why: String) {
    if let Ok(mut r) = store.rejected.lock() {
        r.push(why);
    }
}

fn reject(store: &Store, why: String) -> Response {
    reject_only(store, why.clone());
    (StatusCode::BAD_REQUEST, why).into_response()
}

async fn otlp(State(store): State<Arc<Store>>, body: Bytes) -> Response {
    let request = match ExportTraceServiceRequest::decode(body) {
        Ok(r) => r,
        Err(e) => return reject(&store, format!("otlp: {e}")),
    };
    match decode_otlp(request, "otlp") {
        Ok(spans) => {
            keep(&store, spans);
            // An empty ExportTraceServiceResponse encodes to zero bytes.
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/x-protobuf")],
                Vec::new(),
            )
                .into_response()
        }
        Err(why) => reject(&store, why),
    }
}

fn text(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn attributes(kvs: &[KeyValue]) -> BTreeMap<String, String> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), text(kv.value.as_ref())))
        .collect()
}

fn decode_otlp(
    request: ExportTraceServiceRequest,
    source: &'static str,
) -> Result<Vec<Span>, String> {
    let mut out = Vec::new();
    for rs in request.resource_spans {
        let resource = rs
            .resource
            .map(|r| attributes(&r.attributes))
            .unwrap_or_default();
        let service = resource
            .get("service.name")
            .cloned()
            .unwrap_or_else(|| "unknown_service".to_owned());
        for ss in rs.scope_spans {
            for s in ss.spans {
                let trace_id = <[u8; 16]>::try_from(s.trace_id.as_slice())
                    .map(u128::from_be_bytes)
                    .map_err(|_| format!("otlp: trace id of {} bytes", s.trace_id.len()))?;
                let span_id = <[u8; 8]>::try_from(s.span_id.as_slice())
                    .map(u64::from_be_bytes)
                    .map_err(|_| format!("otlp: span id of {} bytes", s.span_id.len()))?;
                let parent_id = match s.parent_span_id.len() {
                    0 => None,
                    8 => <[u8; 8]>::try_from(s.parent_span_id.as_slice())
                        .ok()
                        .map(u64::from_be_bytes)
                        .filter(|p| *p != 0),
                    n => return Err(format!("otlp: parent span id of {n} bytes")),
                };
                let kind = match SpanKind::try_from(s.kind) {
                    Ok(SpanKind::Server) => Kind::Server,
                    Ok(SpanKind::Client) => Kind::Client,
                    Ok(SpanKind::Producer) => Kind::Producer,
                    Ok(SpanKind::Consumer) => Kind::Consumer,
                    _ => Kind::Internal,
                };
                let mut attrs = resource.clone();
                attrs.extend(attributes(&s.attributes));
                let status = match s.status {
                    Some(st) if st.code == OtlpStatus::Error as i32 => Status::Error(st.message),
                    Some(st) if st.code == OtlpStatus::Ok as i32 => Status::Ok,
                    _ => Status::Unset,
                };
                let events = s
                    .events
                    .iter()
                    .map(|e| SpanEvent {
                        name: e.name.clone(),
                        unix_nanos: e.time_unix_nano,
                        attributes: attributes(&e.attributes),
                    })
                    .collect();
                out.push(Span {
                    trace_id,
                    span_id,
                    parent_id,
                    name: s.name,
                    kind,
                    service: service.clone(),
                    start_unix_nanos: s.start_time_unix_nano,
                    end_unix_nanos: s.end_time_unix_nano,
                    attributes: attrs,
                    source,
                    status,
                    events,
                });
            }
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ZipkinSpan {
    trace_id: String,
    id: String,
    parent_id: Option<String>,
    #[serde(default)]
    name: String,
    kind: Option<String>,
    #[serde(default)]
    timestamp: u64,
    #[serde(default)]
    duration: u64,
    local_endpoint: Option<ZipkinEndpoint>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    annotations: Vec<ZipkinAnnotation>,
}

#[derive(Deserialize)]
struct ZipkinAnnotation {
    #[serde(default)]
    timestamp: u64,
    value: String,
}

/// An annotation as an event: OpenTelemetry writes an event with attributes as the JSON text
/// `{"<name>":{<attributes>}}`, and one without as its bare name.
fn zipkin_event(annotation: ZipkinAnnotation) -> SpanEvent {
    let unix_nanos = annotation.timestamp.saturating_mul(1000);
    if let Ok(serde_json::Value::Object(outer)) =
        serde_json::from_str::<serde_json::Value>(&annotation.value)
        && outer.len() == 1
        && let Some((name, serde_json::Value::Object(fields))) = outer.into_iter().next()
    {
        let attributes = fields
            .into_iter()
            .map(|(k, v)| {
                let text = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, text)
            })
            .collect();
        return SpanEvent {
            name,
            unix_nanos,
            attributes,
        };
    }
    SpanEvent {
        name: annotation.value,
        unix_nanos,
        attributes: BTreeMap::new(),
    }
}

/// The status Zipkin spans carry in tags: `otel.status_code`, and `error` with the description
/// (an `error` tag alone is Zipkin's own way of marking a failed span).
fn zipkin_status(tags: &BTreeMap<String, String>) -> Status {
    match tags.get("otel.status_code").map(String::as_str) {
        Some("OK") => Status::Ok,
        Some("ERROR") => Status::Error(tags.get("error").cloned().unwrap_or_default()),
        _ => match tags.get("error") {
            Some(description) => Status::Error(description.clone()),
            None => Status::Unset,
        },
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ZipkinEndpoint {
    service_name: Option<String>,
}

async fn zipkin(State(store): State<Arc<Store>>, body: Bytes) -> Response {
    let spans: Vec<ZipkinSpan> = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => return reject(&store, format!("zipkin: {e}")),
    };
    let mut out = Vec::with_capacity(spans.len());
    for z in spans {
        let (Some(trace_id), Some(span_id)) = (parse_trace_id(&z.trace_id), parse_span_id(&z.id))
        else {
            return reject(&store, format!("zipkin: bad ids {} / {}", z.trace_id, z.id));
        };
        let parent_id = match z.parent_id.as_deref() {
            None | Some("") => None,
            // Zipkin reads an all-zero parent as "no parent".
            Some(p) => match parse_span_id(p) {
                Some(0) => None,
                Some(p) => Some(p),
                None => return reject(&store, format!("zipkin: bad parent id {p}")),
            },
        };
        let kind = match z.kind.as_deref() {
            Some("SERVER") => Kind::Server,
            Some("CLIENT") => Kind::Client,
            Some("PRODUCER") => Kind::Producer,
            Some("CONSUMER") => Kind::Consumer,
            _ => Kind::Internal,
        };
        out.push(Span {
            trace_id,
            span_id,
            parent_id,
            name: z.name,
            kind,
            service: z
                .local_endpoint
                .and_then(|e| e.service_name)
                .unwrap_or_else(|| "unknown_service".to_owned()),
            start_unix_nanos: z.timestamp.saturating_mul(1000),
            end_unix_nanos: z.timestamp.saturating_add(z.duration).saturating_mul(1000),
            status: zipkin_status(&z.tags),
            events: z.annotations.into_iter().map(zipkin_event).collect(),
            attributes: z.tags,
            source: "zipkin",
        });
    }
    keep(&store, out);
    StatusCode::ACCEPTED.into_response()
}
