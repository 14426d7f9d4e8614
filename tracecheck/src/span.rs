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
}

impl Span {
    /// `service KIND name`, the label used in rendered trees.
    pub fn label(&self) -> String {
        format!("{} {} {}", self.service, self.kind, self.name)
    }

    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
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
