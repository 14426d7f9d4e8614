//! A Zipkin v2 JSON span exporter.
//!
//! Written here rather than taken from `opentelemetry-zipkin` because that crate (deprecated
//! since 0.32) sends every span without `localEndpoint.serviceName` and with an all-zero
//! `parentId` on roots: in Zipkin — Istio's default tracing backend — every BookInfo span would
//! belong to an unnamed service. The format is small: one JSON array of spans per batch, posted
//! to `/api/v2/spans` (<https://zipkin.io/zipkin-api/#/default/post_spans>). A span's status
//! travels as the `otel.status_code` and `error` tags, its events as annotations.
//!
//! Batches are posted by `post::CollectorPost`, as the OTLP exporter's are.

use std::time::{Duration, UNIX_EPOCH};

use http::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{Key, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use serde_json::{Map, Value as Json, json};

use super::post::CollectorPost;

/// Exports spans to a Zipkin v2 collector.
#[derive(Debug)]
pub struct ZipkinExporter {
    collector: CollectorPost,
    service: String,
    /// Resource attributes other than `service.name`, sent as tags on every span.
    resource_tags: Vec<(String, String)>,
}

impl ZipkinExporter {
    /// `endpoint` is the full URL, e.g. `http://zipkin.istio-system:9411/api/v2/spans`.
    pub fn new(endpoint: &str, timeout: Duration) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Self {
            collector: CollectorPost::new("Zipkin", endpoint, timeout, headers),
            service: "unknown_service".to_owned(),
            resource_tags: Vec::new(),
        }
    }

    /// One span in Zipkin's v2 model.
    pub fn span_json(&self, span: &SpanData) -> Json {
        let micros = |t: std::time::SystemTime| {
            t.duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        };
        let start = micros(span.start_time);
        let duration = micros(span.end_time).saturating_sub(start).max(1);
        let mut tags = Map::new();
        for (k, v) in &self.resource_tags {
            tags.insert(k.clone(), Json::String(v.clone()));
        }
        for kv in &span.attributes {
            tags.insert(kv.key.to_string(), Json::String(value_text(&kv.value)));
        }
        if let Status::Error { description } = &span.status {
            tags.insert("otel.status_code".into(), "ERROR".into());
            tags.insert("error".into(), Json::String(description.to_string()));
        }
        let mut out = json!({
            "traceId": span.span_context.trace_id().to_string(),
            "id": span.span_context.span_id().to_string(),
            "name": span.name,
            "timestamp": start,
            "duration": duration,
            "localEndpoint": { "serviceName": self.service },
            "tags": tags,
        });
        if span.parent_span_id != opentelemetry::trace::SpanId::INVALID {
            out["parentId"] = Json::String(span.parent_span_id.to_string());
        }
        let kind = match span.span_kind {
            SpanKind::Server => Some("SERVER"),
            SpanKind::Client => Some("CLIENT"),
            SpanKind::Producer => Some("PRODUCER"),
            SpanKind::Consumer => Some("CONSUMER"),
            SpanKind::Internal => None,
        };
        if let Some(kind) = kind {
            out["kind"] = kind.into();
        }
        if !span.events.is_empty() {
            let annotations: Vec<Json> = span
                .events
                .iter()
                .map(|event| {
                    json!({
                        "timestamp": micros(event.timestamp),
                        "value": annotation_value(&event.name, &event.attributes),
                    })
                })
                .collect();
            out["annotations"] = Json::Array(annotations);
        }
        out
    }
}

/// An event as Zipkin annotation text, as OpenTelemetry's Zipkin mapping writes it: the bare
/// name when there are no attributes, else the JSON text `{"<name>":{<attributes>}}`.
fn annotation_value(name: &str, attributes: &[opentelemetry::KeyValue]) -> String {
    if attributes.is_empty() {
        return name.to_owned();
    }
    let fields: Map<String, Json> = attributes
        .iter()
        .map(|kv| (kv.key.to_string(), Json::String(value_text(&kv.value))))
        .collect();
    let mut outer = Map::new();
    outer.insert(name.to_owned(), Json::Object(fields));
    Json::Object(outer).to_string()
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.to_string(),
        other => other.to_string(),
    }
}

impl SpanExporter for ZipkinExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans: Vec<Json> = batch.iter().map(|s| self.span_json(s)).collect();
        self.collector
            .send(serde_json::to_vec(&spans).unwrap_or_default())
    }

    fn set_resource(&mut self, resource: &Resource) {
        let service = Key::from_static_str("service.name");
        if let Some(name) = resource.get(&service) {
            self.service = value_text(&name);
        }
        self.resource_tags = resource
            .iter()
            .filter(|(k, _)| **k != service)
            .map(|(k, v)| (k.to_string(), value_text(v)))
            .collect();
    }
}
