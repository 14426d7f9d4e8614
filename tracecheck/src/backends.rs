//! Reading traces back from the tracing backends people run BookInfo with, so that
//! `bookinfo-tracecheck check` can judge real traces with the same rules the tests use.
//!
//! * [`jaeger`]: Jaeger v1 and v2's query API (`GET /api/traces`, the one its UI uses).
//! * [`zipkin`]: Zipkin's v2 API (`GET /api/v2/traces`).
//! * [`tempo`]: Grafana Tempo's search (`GET /api/search`) and trace-by-id (`GET /api/traces/{id}`).
//!
//! Each module turns the backend's JSON into [`Span`]s (`parse`) and, the other way round,
//! writes spans in the backend's shape (`to_json`), which the tests use to stand up fake
//! backends serving real traces.

pub mod jaeger;
pub mod tempo;
pub mod zipkin;

use std::collections::HashSet;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::span::Span;

/// Which backend, and where its query API answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// Jaeger's query service, e.g. `http://localhost:16686`.
    Jaeger(String),
    /// Zipkin, e.g. `http://localhost:9411`.
    Zipkin(String),
    /// Tempo's HTTP API, e.g. `http://localhost:3200`.
    Tempo(String),
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Jaeger(_) => "jaeger",
            Self::Zipkin(_) => "zipkin",
            Self::Tempo(_) => "tempo",
        }
    }

    pub fn base_url(&self) -> &str {
        match self {
            Self::Jaeger(u) | Self::Zipkin(u) | Self::Tempo(u) => u.trim_end_matches('/'),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.name(), self.base_url())
    }
}

/// What to ask for: the traces that involve `service` within `[start, end]`.
#[derive(Debug, Clone)]
pub struct Window {
    pub start: SystemTime,
    pub end: SystemTime,
    /// Most traces asked for per service.
    pub limit: usize,
}

impl Window {
    /// The last `since` up to now.
    pub fn last(since: Duration, limit: usize) -> Self {
        let end = SystemTime::now();
        Self {
            start: end.checked_sub(since).unwrap_or(UNIX_EPOCH),
            end,
            limit,
        }
    }

    fn micros(t: SystemTime) -> u128 {
        t.duration_since(UNIX_EPOCH).unwrap_or_default().as_micros()
    }

    pub fn start_micros(&self) -> u128 {
        Self::micros(self.start)
    }

    pub fn end_micros(&self) -> u128 {
        Self::micros(self.end)
    }

    pub fn length(&self) -> Duration {
        self.end.duration_since(self.start).unwrap_or_default()
    }
}

/// Why traces could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FetchError(pub String);

/// Every span of every trace that involves one of `services` in `window`, each trace once.
pub async fn fetch(
    client: &reqwest::Client,
    backend: &Backend,
    services: &[String],
    window: &Window,
) -> Result<Vec<Span>, FetchError> {
    let mut seen: HashSet<u128> = HashSet::new();
    let mut out = Vec::new();
    for service in services {
        let spans = match backend {
            Backend::Jaeger(_) => jaeger::fetch(client, backend.base_url(), service, window).await,
            Backend::Zipkin(_) => zipkin::fetch(client, backend.base_url(), service, window).await,
            Backend::Tempo(_) => tempo::fetch(client, backend.base_url(), service, window).await,
        }?;
        let traces = crate::collector::group(spans);
        for (id, spans) in traces {
            if seen.insert(id) {
                out.extend(spans);
            }
        }
    }
    Ok(out)
}

/// GET `url` and parse the body as JSON, with the backend named in every error.
async fn get_json(
    client: &reqwest::Client,
    what: &str,
    url: reqwest::Url,
) -> Result<Value, FetchError> {
    let resp = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| FetchError(format!("{what}: cannot reach {url}: {e}")))?;
    let status = resp.status();
    let body = resp
        .bytes()
        .await
        .map_err(|e| FetchError(format!("{what}: reading the answer of {url}: {e}")))?;
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        let text: String = text.chars().take(200).collect();
        return Err(FetchError(format!(
            "{what}: {url} answered {status}: {text}"
        )));
    }
    serde_json::from_slice(&body)
        .map_err(|e| FetchError(format!("{what}: {url} did not answer JSON: {e}")))
}

/// `base` + `path` as a URL, with `query` pairs encoded.
fn url(base: &str, path: &str, query: &[(&str, String)]) -> Result<reqwest::Url, FetchError> {
    let mut url = reqwest::Url::parse(&format!("{base}{path}"))
        .map_err(|e| FetchError(format!("bad backend address {base:?}: {e}")))?;
    if !query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in query {
            pairs.append_pair(k, v);
        }
    }
    Ok(url)
}

/// A trace id written as up to 32 hex digits (backends drop leading zeros at times).
pub fn hex_trace_id(hex: &str) -> Option<u128> {
    if hex.is_empty() || hex.len() > 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(hex, 16).ok()
}

/// A span id written as up to 16 hex digits.
pub(crate) fn hex_span_id(hex: &str) -> Option<u64> {
    if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

/// A JSON scalar as text (tags and attributes are kept as strings).
pub(crate) fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A JSON number, or a number written as a string (proto3 JSON writes 64-bit integers so).
pub(crate) fn number(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// The verdict on every trace read from a backend.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Checked {
    pub backend: &'static str,
    pub url: String,
    pub services: Vec<String>,
    pub traces: usize,
    pub complete: usize,
    pub broken: usize,
    /// Every trace, oldest first, with its problems and tree.
    pub results: Vec<crate::diagnose::Judged>,
}

impl Checked {
    /// Judge `spans` as read from `backend`.
    pub fn of(backend: &Backend, services: &[String], spans: Vec<Span>) -> Self {
        let results = crate::diagnose::judge(spans);
        let complete = results.iter().filter(|j| j.complete).count();
        Self {
            backend: backend.name(),
            url: backend.base_url().to_owned(),
            services: services.to_vec(),
            traces: results.len(),
            complete,
            broken: results.len() - complete,
            results,
        }
    }

    /// `N traces, M complete, K broken`.
    pub fn summary(&self) -> String {
        format!(
            "{} traces, {} complete, {} broken",
            self.traces, self.complete, self.broken
        )
    }

    /// The broken traces (and, with `show_complete`, the complete ones) drawn with their
    /// problems, then the summary line.
    pub fn text(&self, show_complete: bool, window: &str) -> String {
        let mut out = String::new();
        for j in &self.results {
            if !j.complete || show_complete {
                out.push_str(&j.to_string());
                out.push('\n');
            }
        }
        out.push_str(&format!(
            "{} at {}, services {}, {window}: {}\n",
            self.backend,
            self.url,
            self.services.join(", "),
            self.summary()
        ));
        out
    }
}

/// Read the traces of `services` in `window` from `backend` and judge them.
pub async fn check(
    client: &reqwest::Client,
    backend: &Backend,
    services: &[String],
    window: &Window,
) -> Result<Checked, FetchError> {
    let spans = fetch(client, backend, services, window).await?;
    Ok(Checked::of(backend, services, spans))
}
