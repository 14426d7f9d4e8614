//! The span model shared by both receivers.

use std::collections::BTreeMap;
use std::fmt;

/// Span kind, as both OTLP and Zipkin define it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Server,
    Client,
    Producer,
    Consumer,
    Internal,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Server => "SERVER",
            Self::Client => "CLIENT",
            Self::Producer => "PRODUCER",
            Self::Consumer => "CONSUMER",
            Self::Internal => "INTERNAL",
        })
    }
}

/// One reported span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// 128-bit trace id; a 64-bit id is stored zero-extended, so both forms compare equal
    /// (as Zipkin normalises them).
    pub trace_id: u128,
    pub span_id: u64,
    pub parent_id: Option<u64>,
    pub name: String,
    pub kind: Kind,
    /// `service.name` (OTLP resource) or `localEndpoint.serviceName` (Zipkin).
    pub service: String,
    pub start_unix_nanos: u64,
    pub end_unix_nanos: u64,
    pub attributes: BTreeMap<String, String>,
    /// Where it came from: `otlp` or `zipkin`.
    pub source: &'static str,
    /// OTLP's status, or Zipkin's `otel.status_code` and `error` tags.
    pub status: Status,
    /// OTLP's events, or Zipkin's annotations, in the order reported.
    pub events: Vec<SpanEvent>,
}

/// A span's status, as OpenTelemetry defines it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Status {
    #[default]
    Unset,
    Ok,
    /// With its description (often empty: an HTTP status code says it all).
    Error(String),
}

/// Something that happened during a span: a log event, an exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanEvent {
    pub name: String,
    pub unix_nanos: u64,
    pub attributes: BTreeMap<String, String>,
}

impl SpanEvent {
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

impl Span {
    /// `service KIND name`, the label used in rendered trees.
    pub fn label(&self) -> String {
        format!("{} {} {}", self.service, self.kind, self.name)
    }

    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }

    /// The first event named `name`.
    pub fn event(&self, name: &str) -> Option<&SpanEvent> {
        self.events.iter().find(|e| e.name == name)
    }

    pub fn is_error(&self) -> bool {
        matches!(self.status, Status::Error(_))
    }
}

/// Parse a 16- or 32-digit hex trace id.
pub fn parse_trace_id(hex: &str) -> Option<u128> {
    if !(hex.len() == 16 || hex.len() == 32) {
        return None;
    }
    u128::from_str_radix(hex, 16).ok()
}

/// Parse a 16-digit hex span id.
pub fn parse_span_id(hex: &str) -> Option<u64> {
    if hex.len() != 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}
