//! The OTLP/HTTP (protobuf) span exporter.
//!
//! Written here rather than taken from `opentelemetry-otlp` because of what that exporter costs
//! per span: it first converts every span into the generated `prost` structs (a `String` or
//! `Vec` for each id, name, attribute key and value) and then encodes those. Here the protobuf
//! is written straight from the SDK's [`SpanData`] into one buffer, which measurably lowers the
//! CPU a service spends per request in participating mode (`scripts/bench-tracing.sh`). The
//! message layout is OTLP's `ExportTraceServiceRequest`
//! (opentelemetry-proto `collector/trace/v1/trace_service.proto` and `trace/v1/trace.proto`);
//! the tests decode what is written here with `opentelemetry-proto`'s generated types and
//! compare it with that crate's own conversion of the same spans.
//!
//! Batches are posted by `post::CollectorPost`, as the Zipkin exporter's are. gRPC
//! export still uses `opentelemetry-otlp`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use super::post::CollectorPost;

/// Exports spans to an OTLP/HTTP collector as `application/x-protobuf`.
#[derive(Debug)]
pub struct OtlpHttpExporter {
    collector: CollectorPost,
    /// The encoded `Resource` message, the same for every batch.
    resource: Vec<u8>,
}

impl OtlpHttpExporter {
    /// `endpoint` is the full URL, e.g. `http://collector:4318/v1/traces`; `headers` are sent
    /// with every export (`OTEL_EXPORTER_OTLP_HEADERS`).
    pub fn new(endpoint: &str, timeout: Duration, headers: &[(String, String)]) -> Self {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            // Validated at start-up (config); anything unusable is skipped, not sent corrupted.
            if let (Ok(name), Ok(value)) = (
                HeaderName::try_from(name.as_str()),
                HeaderValue::try_from(value.as_str()),
            ) {
                map.append(name, value);
            }
        }
        map.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        Self {
            collector: CollectorPost::new("OTLP", endpoint, timeout, map),
            resource: Vec::new(),
        }
    }

    /// One `ExportTraceServiceRequest` carrying `spans`, grouped by instrumentation scope.
    pub fn encode(&self, spans: &[SpanData]) -> Vec<u8> {
        let mut pending = Pending::default();
        for span in spans {
            pending.push(span);
        }
        pending.request(&self.resource)
    }

    /// The encoded `Resource` message (set by the tracer provider).
    pub(crate) fn resource(&self) -> &[u8] {
        &self.resource
    }

    /// The timeout of one export.
    pub(crate) fn timeout(&self) -> Duration {
        self.collector.timeout()
    }

    /// POST an encoded request to the collector.
    pub(crate) fn send(&self, body: Vec<u8>) -> OTelSdkResult {
        self.collector.send(body)
    }
}

/// Spans encoded one by one as they come, grouped by instrumentation scope: the body of one
/// export request in the making. Encoding a span as soon as it ends lets the span itself be freed
/// at once, on the thread that made it.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    /// Per scope, its spans as consecutive `ScopeSpans.spans` fields.
    groups: Vec<(InstrumentationScope, Vec<u8>)>,
    spans: usize,
}

impl Pending {
    /// How many spans are waiting.
    pub(crate) fn len(&self) -> usize {
        self.spans
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.spans == 0
    }

    /// Encodes `span` onto its scope's group.
    pub(crate) fn push(&mut self, span: &SpanData) {
        let scope = &span.instrumentation_scope;
        // Nearly every span comes from the one tracer of the service; look at the latest group
        // first, and compare the cheap parts of a scope before the full comparison.
        let index = match self.groups.iter().rposition(|(s, _)| same_scope(s, scope)) {
            Some(index) => index,
            None => {
                self.groups
                    .push((scope.clone(), Vec::with_capacity(64 * 1024)));
                self.groups.len() - 1
            }
        };
        let out = &mut self.groups[index].1;
        // ScopeSpans.spans = 2
        nested(out, 2, |out| encode_span(out, span));
        self.spans += 1;
    }

    /// The whole `ExportTraceServiceRequest`, with `resource` (an encoded `Resource`).
    pub(crate) fn request(&self, resource: &[u8]) -> Vec<u8> {
        // ScopeSpans: scope = 1, spans = 2 (already encoded), schema_url = 3
        let scopes: Vec<(Vec<u8>, &[u8], &str)> = self
            .groups
            .iter()
            .map(|(scope, spans)| {
                let mut head = Vec::new();
                nested(&mut head, 1, |out| encode_scope(out, scope));
                (
                    head,
                    spans.as_slice(),
                    scope.schema_url().unwrap_or_default(),
                )
            })
            .collect();
        let scope_len = |(head, spans, schema): &(Vec<u8>, &[u8], &str)| {
            head.len() + spans.len() + string_field_len(3, schema)
        };
        // ResourceSpans: resource = 1, scope_spans = 2
        let resource_spans_len = len_field_len(1, resource.len())
            + scopes
                .iter()
                .map(|s| len_field_len(2, scope_len(s)))
                .sum::<usize>();
        let mut out = Vec::with_capacity(len_field_len(1, resource_spans_len));
        // ExportTraceServiceRequest.resource_spans = 1
        key(&mut out, 1, LEN);
        varint(&mut out, resource_spans_len as u64);
        len_field_always(&mut out, 1, resource);
        for scope in &scopes {
            key(&mut out, 2, LEN);
            varint(&mut out, scope_len(scope) as u64);
            out.extend_from_slice(&scope.0);
            out.extend_from_slice(scope.1);
            string_field(&mut out, 3, scope.2);
        }
        out
    }
}

/// Whether two scopes are equal, without the allocation and sorting of the general comparison
/// when neither has attributes.
fn same_scope(a: &InstrumentationScope, b: &InstrumentationScope) -> bool {
    a.name() == b.name()
        && a.version() == b.version()
        && a.schema_url() == b.schema_url()
        && ((a.attributes().next().is_none() && b.attributes().next().is_none()) || a == b)
}

impl SpanExporter for OtlpHttpExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.collector.send(self.encode(&batch))
    }

    fn set_resource(&mut self, resource: &Resource) {
        // Resource.attributes = 1
        let mut out = Vec::new();
        for (key, value) in resource.iter() {
            nested(&mut out, 1, |out| {
                encode_key_value(out, key.as_str(), value)
            });
        }
        self.resource = out;
    }
}

// Protobuf wire types.
const VARINT: u32 = 0;
const I64: u32 = 1;
const LEN: u32 = 2;
const I32: u32 = 5;

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn key(out: &mut Vec<u8>, field: u32, wire_type: u32) {
    varint(out, u64::from(field << 3 | wire_type));
}

/// A length-delimited field that proto3 omits when empty.
fn len_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    if !bytes.is_empty() {
        len_field_always(out, field, bytes);
    }
}

/// A length-delimited field written even when empty (a present sub-message).
fn len_field_always(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    key(out, field, LEN);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn varint_len(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

/// The encoded size of a length-delimited field holding `len` bytes.
fn len_field_len(field: u32, len: usize) -> usize {
    varint_len(u64::from(field << 3 | LEN)) + varint_len(len as u64) + len
}

/// The encoded size of what [`string_field`] writes.
fn string_field_len(field: u32, text: &str) -> usize {
    if text.is_empty() {
        0
    } else {
        len_field_len(field, text.len())
    }
}

fn string_field(out: &mut Vec<u8>, field: u32, text: &str) {
    len_field(out, field, text.as_bytes());
}

fn uint_field(out: &mut Vec<u8>, field: u32, value: u64) {
    if value != 0 {
        key(out, field, VARINT);
        varint(out, value);
    }
}

fn fixed64_field(out: &mut Vec<u8>, field: u32, value: u64) {
    if value != 0 {
        key(out, field, I64);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

fn fixed32_field(out: &mut Vec<u8>, field: u32, value: u32) {
    if value != 0 {
        key(out, field, I32);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

/// A sub-message written in place: a one-byte length is reserved and widened afterwards if the
/// body turned out longer than 127 bytes, so no scratch buffer is needed.
fn nested(out: &mut Vec<u8>, field: u32, body: impl FnOnce(&mut Vec<u8>)) {
    key(out, field, LEN);
    let at = out.len();
    out.push(0);
    body(out);
    let mut len = out.len() - at - 1;
    if len < 0x80 {
        out[at] = len as u8;
        return;
    }
    let mut prefix = [0u8; 10];
    let mut n = 0;
    while len >= 0x80 {
        prefix[n] = (len as u8 & 0x7f) | 0x80;
        len >>= 7;
        n += 1;
    }
    prefix[n] = len as u8;
    // Move the body right by the extra length bytes, then write the length in front of it.
    let end = out.len();
    out.extend_from_slice(&prefix[..n]);
    out.copy_within(at + 1..end, at + 1 + n);
    out[at..=at + n].copy_from_slice(&prefix[..=n]);
}

fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn encode_scope(out: &mut Vec<u8>, scope: &InstrumentationScope) {
    // InstrumentationScope.name = 1, version = 2, attributes = 3
    string_field(out, 1, scope.name());
    string_field(out, 2, scope.version().unwrap_or_default());
    for kv in scope.attributes() {
        nested(out, 3, |out| {
            encode_key_value(out, kv.key.as_str(), &kv.value);
        });
    }
}

fn encode_attributes(out: &mut Vec<u8>, field: u32, attributes: &[KeyValue]) {
    for kv in attributes {
        nested(out, field, |out| {
            encode_key_value(out, kv.key.as_str(), &kv.value);
        });
    }
}

/// Span flags as OTLP defines them: the W3C trace flags, plus "whether the parent is remote is
/// known" and "the parent is remote".
fn span_flags(trace_flags: u8, parent_is_remote: bool) -> u32 {
    const HAS_IS_REMOTE: u32 = 0x100;
    const IS_REMOTE: u32 = 0x200;
    let mut flags = u32::from(trace_flags) | HAS_IS_REMOTE;
    if parent_is_remote {
        flags |= IS_REMOTE;
    }
    flags
}

fn encode_span(out: &mut Vec<u8>, span: &SpanData) {
    let sc = &span.span_context;
    // Span: trace_id = 1, span_id = 2, trace_state = 3, parent_span_id = 4, name = 5, kind = 6,
    // start = 7, end = 8, attributes = 9, dropped_attributes_count = 10, events = 11,
    // dropped_events_count = 12, links = 13, dropped_links_count = 14, status = 15, flags = 16.
    len_field(out, 1, &sc.trace_id().to_bytes());
    len_field(out, 2, &sc.span_id().to_bytes());
    string_field(out, 3, &sc.trace_state().header());
    if span.parent_span_id != SpanId::INVALID {
        len_field(out, 4, &span.parent_span_id.to_bytes());
    }
    string_field(out, 5, &span.name);
    let kind = match span.span_kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    };
    uint_field(out, 6, kind);
    fixed64_field(out, 7, nanos(span.start_time));
    fixed64_field(out, 8, nanos(span.end_time));
    encode_attributes(out, 9, &span.attributes);
    uint_field(out, 10, u64::from(span.dropped_attributes_count));
    for event in span.events.iter() {
        // Event: time = 1, name = 2, attributes = 3, dropped_attributes_count = 4
        nested(out, 11, |out| {
            fixed64_field(out, 1, nanos(event.timestamp));
            string_field(out, 2, &event.name);
            encode_attributes(out, 3, &event.attributes);
            uint_field(out, 4, u64::from(event.dropped_attributes_count));
        });
    }
    uint_field(out, 12, u64::from(span.events.dropped_count));
    for link in span.links.iter() {
        // Link: trace_id = 1, span_id = 2, trace_state = 3, attributes = 4,
        // dropped_attributes_count = 5, flags = 6
        let lc = &link.span_context;
        nested(out, 13, |out| {
            len_field(out, 1, &lc.trace_id().to_bytes());
            len_field(out, 2, &lc.span_id().to_bytes());
            string_field(out, 3, &lc.trace_state().header());
            encode_attributes(out, 4, &link.attributes);
            uint_field(out, 5, u64::from(link.dropped_attributes_count));
            fixed32_field(out, 6, span_flags(lc.trace_flags().to_u8(), lc.is_remote()));
        });
    }
    uint_field(out, 14, u64::from(span.links.dropped_count));
    // Status: message = 2, code = 3 (UNSET 0, OK 1, ERROR 2); always present.
    nested(out, 15, |out| match &span.status {
        Status::Unset => {}
        Status::Ok => uint_field(out, 3, 1),
        Status::Error { description } => {
            string_field(out, 2, description);
            uint_field(out, 3, 2);
        }
    });
    fixed32_field(
        out,
        16,
        span_flags(sc.trace_flags().to_u8(), span.parent_span_is_remote),
    );
}

fn encode_key_value(out: &mut Vec<u8>, key: &str, value: &Value) {
    // KeyValue: key = 1, value = 2
    string_field(out, 1, key);
    nested(out, 2, |out| encode_any_value(out, value));
}

fn encode_any_value(out: &mut Vec<u8>, value: &Value) {
    // AnyValue: string = 1, bool = 2, int = 3, double = 4, array = 5. Each member of the oneof
    // is written even when it holds its zero value, so that the variant survives.
    match value {
        Value::String(s) => len_field_always(out, 1, s.as_str().as_bytes()),
        Value::Bool(b) => {
            key(out, 2, VARINT);
            varint(out, u64::from(*b));
        }
        Value::I64(i) => {
            key(out, 3, VARINT);
            varint(out, *i as u64);
        }
        Value::F64(f) => {
            key(out, 4, I64);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::Array(array) => nested(out, 5, |out| encode_array(out, array)),
        // A kind of value added to the API later: sent as its text rather than dropped.
        other => len_field_always(out, 1, other.to_string().as_bytes()),
    }
}

fn encode_array(out: &mut Vec<u8>, array: &Array) {
    // ArrayValue.values = 1
    fn each<T: Clone + Into<Value>>(out: &mut Vec<u8>, items: &[T]) {
        for item in items {
            nested(out, 1, |out| encode_any_value(out, &item.clone().into()));
        }
    }
    match array {
        Array::Bool(v) => each(out, v),
        Array::I64(v) => each(out, v),
        Array::F64(v) => each(out, v),
        Array::String(v) => each::<StringValue>(out, v),
        other => nested(out, 1, |out| {
            len_field_always(out, 1, other.to_string().as_bytes());
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::time::Duration;

    use opentelemetry::trace::{
        Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
    use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter, SpanLinks};
    use prost::Message;

    use super::OtlpHttpExporter;

    fn span(n: u64, scope: &InstrumentationScope) -> SpanData {
        let start = std::time::UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789 + n);
        let mut events = SpanEvents::default();
        events.events.push(Event::new(
            "retry",
            start,
            vec![KeyValue::new("attempt", 2)],
            1,
        ));
        events.dropped_count = 3;
        let mut links = SpanLinks::default();
        links.links.push(Link::new(
            SpanContext::new(
                TraceId::from(7u128),
                SpanId::from(8u64),
                TraceFlags::SAMPLED,
                true,
                TraceState::from_key_value([("k", "v")]).unwrap_or_default(),
            ),
            vec![KeyValue::new("why", "follows")],
            0,
        ));
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128 + u128::from(n)),
                SpanId::from(0x00f0_67aa_0ba9_02b7 + n),
                TraceFlags::SAMPLED,
                false,
                TraceState::from_key_value([("rojo", "00f067aa0ba902b7")]).unwrap_or_default(),
            ),
            parent_span_id: if n == 0 {
                SpanId::INVALID
            } else {
                SpanId::from(n)
            },
            parent_span_is_remote: n % 2 == 1,
            span_kind: [SpanKind::Server, SpanKind::Client, SpanKind::Internal][n as usize % 3]
                .clone(),
            name: Cow::Owned(format!("GET /route/{n}")),
            start_time: start,
            end_time: start + Duration::from_micros(1500),
            attributes: vec![
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("http.response.status_code", 200),
                KeyValue::new("negative", -5),
                KeyValue::new("zero", 0),
                KeyValue::new("ratio", 0.25),
                KeyValue::new("flag", false),
                KeyValue::new("empty", ""),
                KeyValue::new("", "no key"),
                KeyValue::new("", i64::MAX),
                KeyValue::new("list", Value::Array(Array::I64(vec![1, 2, 3]))),
                KeyValue::new(
                    "names",
                    Value::Array(Array::String(vec!["a".into(), "b".into()])),
                ),
                // Two- and (on one span) three-byte lengths at every level above it.
                KeyValue::new("long", "x".repeat(if n == 3 { 20_000 } else { 300 })),
            ],
            dropped_attributes_count: u32::try_from(n).unwrap_or(0),
            events: if n == 1 {
                events
            } else {
                SpanEvents::default()
            },
            links: if n == 2 { links } else { SpanLinks::default() },
            status: match n % 3 {
                0 => Status::Unset,
                1 => Status::error("503 Service Unavailable"),
                _ => Status::Ok,
            },
            instrumentation_scope: scope.clone(),
        }
    }

    #[test]
    fn encoding_matches_the_reference_conversion() {
        let resource = Resource::builder_empty()
            .with_service_name("reviews")
            .with_attributes([
                KeyValue::new("service.version", "v2"),
                KeyValue::new("k8s.pod.name", "reviews-v2-abc"),
            ])
            .build();
        let ours = InstrumentationScope::builder("bookinfo").build();
        let other = InstrumentationScope::builder("other")
            .with_version("1.2")
            .with_schema_url("https://opentelemetry.io/schemas/1.30.0")
            .with_attributes([KeyValue::new("a", true)])
            .build();
        let spans: Vec<SpanData> = (0..6)
            .map(|n| span(n, if n == 4 { &other } else { &ours }))
            .collect();

        let mut exporter =
            OtlpHttpExporter::new("http://127.0.0.1:1/v1/traces", Duration::ZERO, &[]);
        exporter.set_resource(&resource);
        let decoded = ExportTraceServiceRequest::decode(exporter.encode(&spans).as_slice())
            .expect("our encoding decodes");

        let expected = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(
                spans,
                &ResourceAttributesWithSchema::from(&resource),
            ),
        };
        assert_eq!(decoded, expected);
        // A long attribute forces multi-byte lengths at every level above it.
        assert!(expected.encoded_len() > 20_000 + 5 * 300);
    }

    #[test]
    fn an_empty_batch_is_a_valid_request() {
        let exporter = OtlpHttpExporter::new("http://127.0.0.1:1/v1/traces", Duration::ZERO, &[]);
        let decoded =
            ExportTraceServiceRequest::decode(exporter.encode(&[]).as_slice()).expect("decodes");
        assert_eq!(decoded.resource_spans.len(), 1);
        assert!(decoded.resource_spans[0].scope_spans.is_empty());
    }
}
