//! Each trace judged and explained in BookInfo's terms: which rule it breaks, where, and the
//! likely cause, for traces read back from a tracing backend (`bookinfo-tracecheck check`).
//!
//! A trace is judged by the tree rules of [`crate::tree::check`] (one root, no orphan, no
//! duplicate id, children inside their parents) and, once those hold, by BookInfo's expected
//! shape: a product page view is productpage → details and productpage → reviews (→ ratings
//! for reviews v2 and v3), each API route calls its one backend, and every call a service
//! reports making has the callee's spans under it. Mesh spans (gateway, sidecars, waypoints)
//! may sit anywhere in between.
//!
//! Across traces it finds BookInfo's classic failure: one request's spans, tagged with the same
//! `guid:x-request-id`, spread over several traces (or over several roots of one trace). A
//! backend that stitches spans together by that id shows such a request as whole; its parent
//! links are missing all the same.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

use serde::Serialize;

use crate::collector::group;
use crate::span::{Kind, Span};
use crate::tree::{SLACK_NANOS, Violation, check, render};

/// The tag Envoy and BookInfo's services put the `x-request-id` header in.
pub const REQUEST_ID_TAG: &str = "guid:x-request-id";

/// One thing wrong with a trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// A short stable name: `orphan`, `roots`, `duplicate-id`, `outside-parent`,
    /// `missing-hop`, `unexpected-call`, `split`, `several-traces`, `empty`.
    pub rule: &'static str,
    /// What is wrong, naming the spans.
    pub what: String,
    /// The likely cause.
    pub cause: String,
}

/// One trace with its verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Judged {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    pub spans: usize,
    /// The root's label, or the earliest span's when there is no single root.
    pub title: String,
    /// Distinct service names, sorted.
    pub services: Vec<String>,
    /// Distinct `guid:x-request-id` values, sorted.
    pub request_ids: Vec<String>,
    pub complete: bool,
    pub problems: Vec<Problem>,
    /// The tree as indented `service KIND name` lines.
    pub tree: String,
    #[serde(skip)]
    first_start: u64,
    #[serde(skip)]
    last_end: u64,
    #[serde(skip)]
    root_app: Option<&'static str>,
    #[serde(skip)]
    root_start: u64,
    /// The BookInfo applications with spans here.
    #[serde(skip)]
    apps: BTreeSet<&'static str>,
    /// The applications a call here leads to without reaching them (missing hops).
    #[serde(skip)]
    missing: BTreeSet<&'static str>,
}

impl fmt::Display for Judged {
    /// A header line, the tree, then each problem and its likely cause.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.complete { "complete" } else { "BROKEN" };
        writeln!(
            f,
            "trace {}  {} spans  {verdict}",
            self.trace_id, self.spans
        )?;
        for line in self.tree.lines() {
            writeln!(f, "  {line}")?;
        }
        for p in &self.problems {
            writeln!(f, "  problem: {}", p.what)?;
            writeln!(f, "    likely cause: {}", p.cause)?;
        }
        Ok(())
    }
}

/// The BookInfo applications, and who calls whom.
const APPS: [&str; 4] = ["productpage", "details", "reviews", "ratings"];

/// The BookInfo application a service name belongs to: `reviews`, `reviews.default` (a
/// sidecar), `reviews-v2` and `Reviews` are all reviews; a gateway or a client is none.
pub fn app(service: &str) -> Option<&'static str> {
    let lower = service.to_ascii_lowercase();
    let base = lower.split('.').next().unwrap_or_default();
    let base = match base.rsplit_once("-v") {
        Some((name, version))
            if !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit()) =>
        {
            name
        }
        _ => base,
    };
    APPS.iter().copied().find(|a| *a == base)
}

/// Who calls `app` in BookInfo.
fn caller_of(app: &str) -> Option<&'static str> {
    match app {
        "details" | "reviews" => Some("productpage"),
        "ratings" => Some("reviews"),
        _ => None,
    }
}

fn allowed(from: &str, to: &str) -> bool {
    matches!(
        (from, to),
        ("productpage", "details" | "reviews" | "ratings") | ("reviews", "ratings")
    )
}

/// What a request to productpage must call, by route.
fn required_calls(path: &str) -> &'static [&'static str] {
    let path = path.to_ascii_lowercase();
    if let Some(rest) = path.split("/api/v1/products/").nth(1) {
        let rest = rest.trim_end_matches('/');
        if rest.ends_with("/reviews") {
            return &["reviews"];
        }
        if rest.ends_with("/ratings") {
            return &["ratings"];
        }
        if !rest.is_empty() && !rest.contains('/') {
            return &["details"];
        }
        return &[];
    }
    if path.contains("/productpage") {
        return &["details", "reviews"];
    }
    &[]
}

/// The request path a span served or called, from the attributes the services and Envoy set,
/// else its name.
fn path_of(s: &Span) -> String {
    for key in [
        "http.route",
        "url.path",
        "http.target",
        "http.url",
        "url.full",
    ] {
        if let Some(v) = s.attribute(key) {
            return v.to_owned();
        }
    }
    s.name.clone()
}

/// The BookInfo application a CLIENT span calls, judged from its name and address attributes.
fn target_of(s: &Span, own: Option<&str>) -> Option<&'static str> {
    let mut text = s.name.to_ascii_lowercase();
    for key in [
        "url.full",
        "http.url",
        "server.address",
        "peer.service",
        "upstream_cluster",
        "net.peer.name",
    ] {
        if let Some(v) = s.attribute(key) {
            text.push(' ');
            text.push_str(&v.to_ascii_lowercase());
        }
    }
    APPS.iter()
        .copied()
        .filter(|a| Some(*a) != own && *a != "productpage")
        .find(|a| text.contains(a))
}

fn status_of(s: &Span) -> Option<u16> {
    ["http.response.status_code", "http.status_code"]
        .iter()
        .find_map(|k| s.attribute(k))
        .and_then(|v| v.parse().ok())
}

fn failed(s: &Span) -> Option<String> {
    match status_of(s) {
        Some(code) if code >= 500 => Some(format!("it answered {code}")),
        _ => s
            .attribute("error.type")
            .map(|e| format!("it failed: {e}"))
            .or_else(|| (s.attribute("error") == Some("true")).then(|| "it failed".to_owned())),
    }
}

/// `reviews' span GET /reviews/{product_id}` (server) or `reviews' call GET ratings`.
fn describe(s: &Span) -> String {
    let what = match s.kind {
        Kind::Server => "server span",
        Kind::Client => "client span",
        _ => "span",
    };
    format!("{} {what} \"{}\"", possessive(&s.service), s.name)
}

/// `reviews'`, `productpage's`.
fn possessive(name: &str) -> String {
    if name.ends_with('s') {
        format!("{name}'")
    } else {
        format!("{name}'s")
    }
}

fn ms(nanos: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let ms = nanos as f64 / 1e6;
    format!("{ms:.1} ms")
}

/// Judge every trace in `spans` (any mix of traces), oldest first.
pub fn judge(spans: Vec<Span>) -> Vec<Judged> {
    let mut judged: Vec<Judged> = group(spans)
        .into_iter()
        .map(|(id, spans)| judge_trace(id, &spans))
        .collect();
    judged.sort_by(|a, b| {
        a.first_start
            .cmp(&b.first_start)
            .then_with(|| a.trace_id.cmp(&b.trace_id))
    });
    find_splits(&mut judged);
    judged
}

/// One request spread over several traces. A trace whose root is a BookInfo service that is
/// normally called by another (details, reviews, ratings) is the back half of a split when a
/// trace of its caller tagged with the same `x-request-id` was running when it started: that is
/// the front half. Traces that merely share an id (a client reusing one) are left alone.
fn find_splits(judged: &mut [Judged]) {
    let mut fronts: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (back, b) in judged.iter().enumerate() {
        let Some(caller) = b.root_app.and_then(caller_of) else {
            continue;
        };
        let candidates: Vec<usize> = judged
            .iter()
            .enumerate()
            .filter(|(i, f)| {
                *i != back
                    && f.apps.contains(caller)
                    && f.request_ids.iter().any(|r| b.request_ids.contains(r))
                    && f.first_start <= b.root_start.saturating_add(SLACK_NANOS)
                    && b.root_start <= f.last_end.saturating_add(SLACK_NANOS)
            })
            .map(|(i, _)| i)
            .collect();
        // Prefer a front whose call to this service leads nowhere.
        let target = b.root_app.unwrap_or_default();
        let front = candidates
            .iter()
            .copied()
            .find(|&i| judged[i].missing.contains(target))
            .or_else(|| candidates.first().copied());
        if let Some(front) = front {
            fronts.entry(front).or_default().push(back);
        }
    }
    let mut found: Vec<(usize, Problem)> = Vec::new();
    for (front, backs) in fronts {
        let f = &judged[front];
        let members: Vec<usize> = std::iter::once(front)
            .chain(backs.iter().copied())
            .collect();
        let request = f
            .request_ids
            .iter()
            .find(|r| backs.iter().all(|&b| judged[b].request_ids.contains(*r)))
            .cloned()
            .unwrap_or_default();
        let listed: Vec<String> = members
            .iter()
            .map(|&i| format!("{} ({})", judged[i].trace_id, judged[i].title))
            .collect();
        let causes: Vec<String> = backs
            .iter()
            .map(|&b| {
                let started = judged[b].root_app.unwrap_or_default();
                let caller = caller_of(started).unwrap_or("its caller");
                format!(
                    "{started} started a new trace instead of continuing the one of {caller}: {caller} did not forward the trace context on its call to {started}, or {started} does not read the format it was sent"
                )
            })
            .collect();
        let problem = Problem {
            rule: "split",
            what: format!(
                "one request (x-request-id {request}) is split over {} traces: {}",
                members.len(),
                listed.join(", ")
            ),
            cause: format!(
                "{}. Only a backend that joins spans by x-request-id would show them as one trace; the parent links are missing",
                causes.join("; ")
            ),
        };
        for i in members {
            found.push((i, problem.clone()));
        }
    }
    for (i, p) in found {
        judged[i].problems.push(p);
        judged[i].complete = false;
    }
}

/// Judge the spans of one trace.
pub fn judge_trace(trace_id: u128, spans: &[Span]) -> Judged {
    let roots: Vec<&Span> = spans.iter().filter(|s| s.parent_id.is_none()).collect();
    let earliest = spans.iter().min_by_key(|s| s.start_unix_nanos);
    let title_span = match roots.as_slice() {
        [only] => Some(*only),
        _ => earliest,
    };
    let mut services: Vec<String> = spans.iter().map(|s| s.service.clone()).collect();
    services.sort();
    services.dedup();
    let request_ids: BTreeSet<String> = spans
        .iter()
        .filter_map(|s| s.attribute(REQUEST_ID_TAG))
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    let violations = check(spans);
    let mut problems: Vec<Problem> = violations.iter().map(|v| explain(v, spans)).collect();
    let mut missing = BTreeSet::new();
    if problems.is_empty() {
        (problems, missing) = shape(spans);
    }
    let first_root = roots.iter().min_by_key(|s| s.start_unix_nanos);
    let root_app = first_root.and_then(|r| entry_app(r, spans));
    Judged {
        trace_id: format!("{trace_id:032x}"),
        spans: spans.len(),
        title: title_span.map(Span::label).unwrap_or_default(),
        services,
        request_ids: request_ids.into_iter().collect(),
        complete: problems.is_empty(),
        problems,
        tree: render(spans),
        first_start: earliest.map_or(0, |s| s.start_unix_nanos),
        last_end: spans.iter().map(|s| s.end_unix_nanos).max().unwrap_or(0),
        root_app,
        root_start: first_root.map_or(0, |s| s.start_unix_nanos),
        apps: spans.iter().filter_map(|s| app(&s.service)).collect(),
        missing,
    }
}

/// The first BookInfo application at or under `root` (breadth first): who the request entered.
fn entry_app(root: &Span, spans: &[Span]) -> Option<&'static str> {
    let mut queue = std::collections::VecDeque::from([root]);
    let mut seen = HashSet::new();
    while let Some(s) = queue.pop_front() {
        if !seen.insert(s.span_id) {
            continue;
        }
        if let Some(a) = app(&s.service) {
            return Some(a);
        }
        let mut kids: Vec<&Span> = spans
            .iter()
            .filter(|c| c.parent_id == Some(s.span_id))
            .collect();
        kids.sort_by_key(|c| c.start_unix_nanos);
        queue.extend(kids);
    }
    None
}

/// A tree-rule violation in the user's terms.
fn explain(v: &Violation, spans: &[Span]) -> Problem {
    match v {
        Violation::Empty => Problem {
            rule: "empty",
            what: "the trace has no spans".into(),
            cause: "the backend returned an empty trace".into(),
        },
        Violation::SeveralTraces(ids) => Problem {
            rule: "several-traces",
            what: format!("{} trace ids in one request", ids.len()),
            cause: "a service started a new trace instead of continuing the one it was called in"
                .into(),
        },
        Violation::DuplicateId(id) => {
            let who: Vec<String> = spans
                .iter()
                .filter(|s| s.span_id == *id)
                .map(Span::label)
                .collect();
            Problem {
                rule: "duplicate-id",
                what: format!("span id {id:016x} is used by {}", who.join(" and ")),
                cause: "a client and a server reported one call under the same span id (shared spans), or a service reuses span ids".into(),
            }
        }
        Violation::Orphan {
            span,
            missing_parent,
        } => {
            let Some(s) = spans
                .iter()
                .find(|s| s.label() == *span && s.parent_id == Some(*missing_parent))
            else {
                return Problem {
                    rule: "orphan",
                    what: format!(
                        "{span} has parent {missing_parent:016x}, which is not in the trace"
                    ),
                    cause: "the parent span was not exported".into(),
                };
            };
            orphan(s, *missing_parent)
        }
        Violation::Roots(labels) if labels.is_empty() => Problem {
            rule: "roots",
            what: "no span is the root: every span names a parent".into(),
            cause: "the root span was not exported, or parent links form a loop".into(),
        },
        Violation::Roots(_) => roots(spans),
        Violation::OutsideParent { span, parent } => outside(spans, span, parent),
    }
}

fn orphan(s: &Span, missing: u64) -> Problem {
    let what = format!(
        "{} has parent {missing:016x}, which is not in the trace",
        describe(s)
    );
    let own = app(&s.service);
    let cause = match (s.kind, own) {
        (Kind::Server, Some(a)) => match caller_of(a) {
            Some(caller) => format!(
                "{caller} did not forward its own span's context on its call to {a} (it passed on one it had received), or {} span was not exported (sampling, exporter off)",
                possessive(caller)
            ),
            None => format!(
                "whoever called {a} (the ingress gateway or a client) sent a parent span it never reported: its span was not exported (sampling, exporter off), or it reports to another backend"
            ),
        },
        (Kind::Server, None) => "the caller's span was not exported (sampling, exporter off), or it reports to another backend".into(),
        _ => format!(
            "{} own enclosing span was not exported: its exporter dropped it or is off, or it was still open when the trace was read",
            possessive(&s.service)
        ),
    };
    Problem {
        rule: "orphan",
        what,
        cause,
    }
}

fn roots(spans: &[Span]) -> Problem {
    let mut roots: Vec<&Span> = spans.iter().filter(|s| s.parent_id.is_none()).collect();
    roots.sort_by_key(|s| s.start_unix_nanos);
    let first = roots[0];
    let others: Vec<String> = roots[1..].iter().map(|s| describe(s)).collect();
    let what = format!(
        "{} roots: besides {}, {} {} no parent",
        roots.len(),
        describe(first),
        others.join(" and "),
        if others.len() == 1 { "has" } else { "have" }
    );
    let mut causes = Vec::new();
    for r in &roots[1..] {
        causes.push(match app(&r.service).and_then(|a| caller_of(a).map(|c| (a, c))) {
            Some((a, caller)) => format!(
                "{caller} sent the trace id to {a} without a parent span id, or {a} kept the trace id but dropped the parent"
            ),
            None => format!("{} kept the trace id but not the parent span id", r.service),
        });
    }
    let first_request = first.attribute(REQUEST_ID_TAG);
    let tied = first_request.is_some()
        && roots[1..]
            .iter()
            .all(|r| r.attribute(REQUEST_ID_TAG) == first_request);
    let mut cause = causes.join("; ");
    if tied {
        cause.push_str(&format!(
            ". These spans are tied together only by x-request-id {}: a backend that groups by it would draw one tree that the parent links do not make",
            first_request.unwrap_or_default()
        ));
    }
    Problem {
        rule: "roots",
        what,
        cause,
    }
}

fn outside(spans: &[Span], span: &str, parent: &str) -> Problem {
    let by_id: HashMap<u64, &Span> = spans.iter().map(|s| (s.span_id, s)).collect();
    let pair = spans.iter().find_map(|s| {
        let p = by_id.get(&s.parent_id?)?;
        (s.label() == span && p.label() == parent).then_some((s, *p))
    });
    let Some((s, p)) = pair else {
        return Problem {
            rule: "outside-parent",
            what: format!("{span} is not inside its parent {parent}"),
            cause: "clock skew between hosts".into(),
        };
    };
    let mut how = Vec::new();
    if s.start_unix_nanos + SLACK_NANOS < p.start_unix_nanos {
        how.push(format!(
            "starts {} before it",
            ms(p.start_unix_nanos - s.start_unix_nanos)
        ));
    }
    if s.end_unix_nanos > p.end_unix_nanos + SLACK_NANOS {
        how.push(format!(
            "ends {} after it",
            ms(s.end_unix_nanos - p.end_unix_nanos)
        ));
    }
    let what = format!(
        "{} is not inside its parent {}: it {}",
        describe(s),
        describe(p),
        how.join(" and ")
    );
    let cause = if s.service == p.service {
        format!(
            "{} kept the span open after its parent ended (work left running after the request), or recorded a wrong time",
            s.service
        )
    } else {
        format!(
            "the clocks of {} and {} disagree by about that much (clock skew between their hosts), or one of them records wrong times",
            s.service, p.service
        )
    };
    Problem {
        rule: "outside-parent",
        what,
        cause,
    }
}

/// BookInfo's expected shape, for a trace that satisfies the tree rules.
/// Also returns the applications that calls here lead to without reaching them.
fn shape(spans: &[Span]) -> (Vec<Problem>, BTreeSet<&'static str>) {
    let by_id: HashMap<u64, &Span> = spans.iter().map(|s| (s.span_id, s)).collect();
    // The nearest ancestor belonging to another BookInfo application.
    let caller = |s: &Span| -> Option<(&'static str, &Span)> {
        let own = app(&s.service)?;
        let mut cur = s;
        let mut hops = 0;
        while let Some(p) = cur.parent_id.and_then(|id| by_id.get(&id)) {
            hops += 1;
            if hops > spans.len() {
                return None;
            }
            if let Some(a) = app(&p.service).filter(|a| *a != own) {
                return Some((a, p));
            }
            cur = p;
        }
        None
    };
    let is_under = |s: &Span, ancestor: u64| -> bool {
        let mut cur = s;
        let mut hops = 0;
        while let Some(pid) = cur.parent_id {
            if pid == ancestor {
                return true;
            }
            hops += 1;
            match by_id.get(&pid) {
                Some(p) if hops <= spans.len() => cur = p,
                _ => return false,
            }
        }
        false
    };
    let mut problems = Vec::new();
    let mut edges: HashSet<(&'static str, &'static str)> = HashSet::new();
    let mut reported = HashSet::new();
    let mut missing = BTreeSet::new();
    for s in spans {
        let Some(own) = app(&s.service) else { continue };
        if let Some((from, via)) = caller(s)
            && edges.insert((from, own))
            && !allowed(from, own)
        {
            problems.push(Problem {
                rule: "unexpected-call",
                what: format!(
                    "{} sits under {}: {from} does not call {own} in BookInfo",
                    describe(s),
                    describe(via)
                ),
                cause: format!(
                    "a trace context was reused across requests, or {from} is not BookInfo's"
                ),
            });
        }
    }
    // Every call a service reports must have the callee's spans under it.
    let mut client_calls: Vec<&Span> = spans.iter().filter(|s| s.kind == Kind::Client).collect();
    client_calls.sort_by_key(|s| s.start_unix_nanos);
    for c in &client_calls {
        let own = app(&c.service);
        let Some(target) = target_of(c, own) else {
            continue;
        };
        let reached = spans
            .iter()
            .any(|s| app(&s.service) == Some(target) && is_under(s, c.span_id));
        // A sidecar's outbound span under the app's client span speaks for the same call.
        let inner_call = spans.iter().any(|s| {
            s.parent_id == Some(c.span_id)
                && s.kind == Kind::Client
                && target_of(s, app(&s.service)) == Some(target)
        });
        if reached || inner_call {
            continue;
        }
        let from = own.unwrap_or(c.service.as_str()).to_owned();
        reported.insert((from.clone(), target));
        missing.insert(target);
        let cause = match failed(c) {
            Some(why) => format!(
                "the call did not get through ({why}): {target} may never have been reached"
            ),
            None => format!(
                "{target} did not continue the trace {from} sent: it started a trace of its own (look for one with the same x-request-id) or does not read the trace headers {from} writes; or the spans of {target} were not exported (sampling, exporter off)"
            ),
        };
        problems.push(Problem {
            rule: "missing-hop",
            what: format!(
                "{} called {target}, but no span of {target} is under that call",
                describe(c)
            ),
            cause,
        });
    }
    // What the request's route must call.
    let entry = spans
        .iter()
        .filter(|s| app(&s.service) == Some("productpage") && caller(s).is_none())
        .min_by_key(|s| s.start_unix_nanos);
    if let Some(entry) = entry {
        let path = spans
            .iter()
            .filter(|s| app(&s.service) == Some("productpage") && s.kind == Kind::Server)
            .map(path_of)
            .find(|p| !required_calls(p).is_empty())
            .unwrap_or_else(|| path_of(entry));
        for &needed in required_calls(&path) {
            if edges.contains(&("productpage", needed))
                || reported.contains(&("productpage".to_owned(), needed))
            {
                continue;
            }
            missing.insert(needed);
            problems.push(Problem {
                rule: "missing-hop",
                what: format!("{} (request {path}) made no call to {needed} in this trace", describe(entry)),
                cause: format!(
                    "neither productpage's span for the call nor any span of {needed} is here: productpage's client spans were not exported and {needed} did not continue this trace (or exports nowhere)"
                ),
            });
        }
    }
    (problems, missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_map_to_applications() {
        assert_eq!(app("reviews"), Some("reviews"));
        assert_eq!(app("reviews.default"), Some("reviews"));
        assert_eq!(app("reviews-v2"), Some("reviews"));
        assert_eq!(app("Productpage"), Some("productpage"));
        assert_eq!(app("istio-ingressgateway"), None);
        assert_eq!(app("reviews-vx"), None);
    }

    #[test]
    fn routes_name_their_backends() {
        assert_eq!(required_calls("/productpage"), ["details", "reviews"]);
        assert_eq!(required_calls("GET /productpage"), ["details", "reviews"]);
        assert_eq!(required_calls("/api/v1/products/{id}"), ["details"]);
        assert_eq!(required_calls("/api/v1/products/0/reviews"), ["reviews"]);
        assert_eq!(required_calls("/api/v1/products/0/ratings"), ["ratings"]);
        assert!(required_calls("/api/v1/products").is_empty());
        assert!(required_calls("/login").is_empty());
    }
}
