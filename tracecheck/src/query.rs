//! A read-only HTTP view of a [`Collector`], for checks that run outside the process: the
//! `bookinfo-tracecheck` binary serves it so a compose test can ask "did every page view
//! produce exactly one complete trace tree?" with one `curl`.
//!
//! `GET /traces` answers a [`Report`] as JSON: every trace received so far, each with the
//! [`check`] violations and the [`render`]ed tree, oldest first. A browser (which asks for
//! `text/html`) gets the same report as a page instead, newest trace first, refreshing itself. `DELETE /traces` forgets
//! everything (a test starts from a clean slate after warm-up traffic). `GET /healthz` is the
//! container healthcheck. `GET /traces/{trace_id}` is one trace: its verdict, each problem with
//! its likely cause ([`crate::diagnose`]) and its tree, as a page (what productpage's trace link
//! opens under `bookinfo --traces`) or as JSON.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
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
        .route("/traces/{trace_id}", get(one_trace))
        .with_state(collector)
}

async fn traces(State(collector): State<Arc<Collector>>, headers: HeaderMap) -> Response {
    let report = report(collector.spans(), collector.rejected());
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if wants_html {
        Html(html(&report)).into_response()
    } else {
        axum::Json(report).into_response()
    }
}

/// At most this many traces are drawn on the page (the newest); the JSON has them all.
const PAGE_TRACES: usize = 50;

/// The report as a self-refreshing page: a summary line, then each trace (newest first) with
/// its verdict and its tree.
pub fn html(report: &Report) -> String {
    let complete = report
        .traces
        .iter()
        .filter(|t| t.violations.is_empty())
        .count();
    let broken = report.traces.len() - complete;
    let mut out = String::with_capacity(4096);
    out.push_str(concat!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta http-equiv=\"refresh\" content=\"3\">",
        "<title>BookInfo traces</title><style>",
        "body{font-family:system-ui,sans-serif;margin:2rem;color:#1f2933}",
        "pre{background:#f5f7fa;padding:.75rem;border-radius:4px;overflow-x:auto}",
        ".ok{color:#1b7f3b}.bad{color:#b42318}code{font-size:.9em}",
        "</style></head><body><h1>BookInfo traces</h1>\n"
    ));
    out.push_str(&format!(
        "<p>{} traces, {complete} complete, {broken} broken ({} spans). Newest first; \
         this page refreshes every 3 s.</p>\n",
        report.traces.len(),
        report.spans
    ));
    for why in &report.rejected {
        out.push_str(&format!(
            "<p class=\"bad\">Rejected payload: {}</p>\n",
            escape(why)
        ));
    }
    for t in report.traces.iter().rev().take(PAGE_TRACES) {
        let (class, verdict) = if t.violations.is_empty() {
            ("ok", "complete".to_owned())
        } else {
            ("bad", format!("BROKEN: {}", t.violations.join("; ")))
        };
        out.push_str(&format!(
            "<h2><a href=\"/traces/{id}\"><code>{id}</code></a> <span class=\"{class}\">{}</span></h2>\n<pre>{}</pre>\n",
            escape(&verdict),
            escape(&t.tree),
            id = t.trace_id,
        ));
    }
    out.push_str("</body></html>\n");
    out
}

async fn one_trace(
    State(collector): State<Arc<Collector>>,
    Path(trace_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(id) = crate::backends::hex_trace_id(&trace_id) else {
        return (
            StatusCode::BAD_REQUEST,
            "not a trace id: up to 32 hex digits\n",
        )
            .into_response();
    };
    let spans: Vec<Span> = collector
        .spans()
        .into_iter()
        .filter(|s| s.trace_id == id)
        .collect();
    let judged = (!spans.is_empty()).then(|| crate::diagnose::judge_trace(id, &spans));
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if wants_html {
        return Html(trace_page(id, judged.as_ref())).into_response();
    }
    match judged {
        Some(j) => axum::Json(j).into_response(),
        None => (StatusCode::NOT_FOUND, "no spans of that trace (yet)\n").into_response(),
    }
}

/// One trace as a page; while no span of it has arrived, a page that refreshes until one does.
pub fn trace_page(id: u128, judged: Option<&crate::diagnose::Judged>) -> String {
    let mut out = String::with_capacity(2048);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    if judged.is_none() {
        out.push_str("<meta http-equiv=\"refresh\" content=\"1\">");
    }
    out.push_str(concat!(
        "<title>BookInfo trace</title><style>",
        "body{font-family:system-ui,sans-serif;margin:2rem;color:#1f2933}",
        "pre{background:#f5f7fa;padding:.75rem;border-radius:4px;overflow-x:auto}",
        ".ok{color:#1b7f3b}.bad{color:#b42318}code{font-size:.9em}li{margin:.5rem 0}",
        "</style></head><body>"
    ));
    out.push_str(&format!(
        "<p><a href=\"/traces\">All traces</a></p>\n<h1>Trace <code>{id:032x}</code></h1>\n"
    ));
    match judged {
        None => out.push_str(
            "<p>No span of this trace has arrived yet; this page refreshes until one does.</p>\n",
        ),
        Some(j) => {
            let (class, verdict) = if j.complete {
                ("ok", "complete: one tree of the expected BookInfo shape")
            } else {
                ("bad", "BROKEN")
            };
            out.push_str(&format!(
                "<p>{} spans from {}: <span class=\"{class}\">{verdict}</span></p>\n<pre>{}</pre>\n",
                j.spans,
                escape(&j.services.join(", ")),
                escape(&j.tree)
            ));
            if !j.problems.is_empty() {
                out.push_str("<ul>\n");
                for p in &j.problems {
                    out.push_str(&format!(
                        "<li class=\"bad\">{}<br>Likely cause: {}</li>\n",
                        escape(&p.what),
                        escape(&p.cause)
                    ));
                }
                out.push_str("</ul>\n");
            }
        }
    }
    out.push_str("</body></html>\n");
    out
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            other => out.push(other),
        }
    }
    out
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
            status: Default::default(),
            events: Vec::new(),
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
    fn the_page_shows_verdicts_newest_first_and_escapes_names() {
        let r = report(
            vec![
                span(1, 1, None, "productpage", 100),
                span(2, 5, Some(9), "<script>", 500),
            ],
            vec![],
        );
        let page = html(&r);
        assert!(
            page.contains("2 traces, 1 complete, 1 broken (2 spans)"),
            "{page}"
        );
        let newest = page.find("00000000000000000000000000000002").unwrap();
        let oldest = page.find("00000000000000000000000000000001").unwrap();
        assert!(newest < oldest, "newest first");
        assert!(page.contains("&lt;script&gt; CLIENT GET /x"), "{page}");
        assert!(!page.contains("<script>"));
        assert!(page.contains("<span class=\"ok\">complete</span>"));
        assert!(page.contains("BROKEN: "));
        assert!(page.contains("<a href=\"/traces/00000000000000000000000000000002\">"));
    }

    #[test]
    fn one_trace_page_shows_verdict_problems_or_waits() {
        let spans = vec![
            span(9, 1, None, "productpage", 100),
            span(9, 5, Some(7), "reviews", 200),
        ];
        let judged = crate::diagnose::judge_trace(9, &spans);
        let page = trace_page(9, Some(&judged));
        assert!(page.contains("<h1>Trace <code>00000000000000000000000000000009</code></h1>"));
        assert!(
            page.contains("2 spans from productpage, reviews: <span class=\"bad\">BROKEN</span>")
        );
        assert!(
            page.contains(
                "<li class=\"bad\">reviews' client span &quot;GET /x&quot; has parent 0000000000000007"
            ),
            "{page}"
        );
        assert!(page.contains("Likely cause: "));
        assert!(!page.contains("http-equiv=\"refresh\""));
        let waiting = trace_page(9, None);
        assert!(waiting.contains("No span of this trace has arrived yet"));
        assert!(waiting.contains("http-equiv=\"refresh\""));
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
