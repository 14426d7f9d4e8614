//! A read-only HTTP view of a [`Collector`], for checks that run outside the process: the
//! `bookinfo-tracecheck` binary serves it so a compose test can ask "did every page view
//! produce exactly one complete trace tree?" with one `curl`.
//!
//! `GET /traces` answers a [`Report`] as JSON: every trace received so far, each with the
//! [`check`] violations and the [`render`]ed tree, oldest first. `DELETE /traces` forgets
//! everything (a test starts from a clean slate after warm-up traffic). `GET /healthz` is the
//! container healthcheck.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde::Serialize;

use crate::collector::{Collector, group};
use crate::span::Span;
use crate::tree::{check, render};

/// Everything the collector holds, trace by trace.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Report {
    /// Spans received in all.
    pub spans: usize,
    /// Payloads that could not be decoded (a healthy deployment has none).
    pub rejected: Vec<String>,
    /// One entry per trace id, ordered by the start of its earliest span.
    pub traces: Vec<TraceReport>,
}

/// One trace: who took part, whether it is a complete tree, and the tree itself.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TraceReport {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    pub spans: usize,
    /// The label (`service KIND name`) of the single root, or `None` when there is not exactly one.
    pub root: Option<String>,
    /// Distinct `service.name`s, sorted: which containers reported into this trace.
    pub services: Vec<String>,
    /// Every rule of the complete-tree check the trace breaks; empty when complete.
    pub violations: Vec<String>,
    /// The tree as indented `service KIND name` lines.
    pub tree: String,
}

/// Build the report for `spans` (any mix of traces).
pub fn report(spans: Vec<Span>, rejected: Vec<String>) -> Report {
    let total = spans.len();
    let mut traces: Vec<(u64, TraceReport)> = group(spans)
        .into_iter()
        .map(|(id, spans)| {
            let first = spans.iter().map(|s| s.start_unix_nanos).min().unwrap_or(0);
            let roots: Vec<&Span> = spans.iter().filter(|s| s.parent_id.is_none()).collect();
            let root = match roots.as_slice() {
                [only] => Some(only.label()),
                _ => None,
            };
            let mut services: Vec<String> = spans.iter().map(|s| s.service.clone()).collect();
            services.sort();
            services.dedup();
            let trace = TraceReport {
                trace_id: format!("{id:032x}"),
                spans: spans.len(),
                root,
                services,
                violations: check(&spans).iter().map(ToString::to_string).collect(),
                tree: render(&spans),
            };
            (first, trace)
        })
        .collect();
    traces.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.trace_id.cmp(&b.1.trace_id)));
    Report {
        spans: total,
        rejected,
        traces: traces.into_iter().map(|(_, t)| t).collect(),
    }
}

/// The query API over `collector`.
pub fn router(collector: Arc<Collector>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/traces", get(traces).delete(forget))
        .with_state(collector)
}

async fn traces(State(collector): State<Arc<Collector>>) -> axum::Json<Report> {
    axum::Json(report(collector.spans(), collector.rejected()))
}

async fn forget(State(collector): State<Arc<Collector>>) -> StatusCode {
    collector.clear();
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::span::Kind;

    fn span(trace: u128, id: u64, parent: Option<u64>, service: &str, start: u64) -> Span {
        Span {
            trace_id: trace,
            span_id: id,
            parent_id: parent,
            name: "GET /x".into(),
            kind: if parent.is_none() {
                Kind::Server
            } else {
                Kind::Client
            },
            service: service.into(),
            start_unix_nanos: start,
            end_unix_nanos: start + 1_000,
            attributes: BTreeMap::new(),
            source: "otlp",
        }
    }

    #[test]
    fn a_complete_trace_has_one_root_and_no_violations() {
        let r = report(
            vec![
                span(7, 1, None, "productpage", 100),
                span(7, 2, Some(1), "details", 200),
            ],
            vec![],
        );
        assert_eq!(r.spans, 2);
        assert_eq!(r.traces.len(), 1);
        let t = &r.traces[0];
        assert_eq!(t.trace_id, "00000000000000000000000000000007");
        assert_eq!(t.root.as_deref(), Some("productpage SERVER GET /x"));
        assert_eq!(t.services, ["details", "productpage"]);
        assert!(t.violations.is_empty(), "{:?}", t.violations);
    }

    #[test]
    fn a_hole_is_reported_and_traces_come_oldest_first() {
        let r = report(
            vec![
                span(2, 5, Some(9), "reviews", 500),
                span(1, 1, None, "productpage", 100),
            ],
            vec!["bad payload".into()],
        );
        assert_eq!(r.rejected, ["bad payload"]);
        let ids: Vec<&str> = r.traces.iter().map(|t| &t.trace_id[30..]).collect();
        assert_eq!(ids, ["01", "02"]);
        let broken = &r.traces[1];
        assert_eq!(broken.root, None);
        assert_eq!(broken.violations.len(), 2, "{:?}", broken.violations);
        assert!(broken.violations.iter().any(|v| v.starts_with("orphan")));
    }
}
