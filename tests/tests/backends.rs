//! `bookinfo-tracecheck check` against the query APIs of Jaeger, Zipkin and Tempo: small fake
//! backends (real HTTP on loopback) serve, in each backend's JSON shape, traces that the real
//! services made (all four in participating mode, exporting to the in-test collector), as they
//! are and broken in the ways deployments break them. Each broken variant must be found and
//! explained; each complete trace must pass.

#![allow(clippy::unwrap_used)] // Test helpers: a failed unwrap is a failed test.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bookinfo_launcher::{ReviewsChoice, Stack, StackOptions};
use bookinfo_testing::{FakeServer, Recorded, Reply};
use bookinfo_tracecheck::backends::{self, Backend, Checked, Window, jaeger, tempo, zipkin};
use bookinfo_tracecheck::collector::group;
use bookinfo_tracecheck::diagnose::{Judged, REQUEST_ID_TAG};
use bookinfo_tracecheck::{Collector, Kind, Span};

const WAIT: Duration = Duration::from_secs(10);

/// The spans of one real `GET /productpage` (with `x-request-id: request_id`), as the
/// services exported them: 7 with reviews v2, 5 with reviews v1 (which does not call ratings).
async fn page_view(reviews: ReviewsChoice, request_id: &str) -> Vec<Span> {
    let expected = if reviews == ReviewsChoice::V1 { 5 } else { 7 };
    let collector = Collector::start().await.unwrap();
    let env = vec![
        ("OTEL_TRACES_EXPORTER".to_owned(), "otlp".to_owned()),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
            collector.otlp_endpoint(),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY".to_owned(), "20".to_owned()),
    ];
    let stack = Stack::start(StackOptions::ephemeral(reviews), Arc::new(env))
        .await
        .unwrap();
    let resp = reqwest::Client::new()
        .get(format!("http://{}/productpage", stack.productpage))
        .header("x-request-id", request_id)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    collector.wait_for(expected, WAIT).await;
    stack.stop().await.unwrap();
    let spans = collector.spans();
    assert_eq!(spans.len(), expected, "{spans:#?}");
    assert!(collector.rejected().is_empty());
    spans
}

/// The one span of `service` of `kind`.
fn index(spans: &[Span], service: &str, kind: Kind) -> usize {
    let found: Vec<usize> = (0..spans.len())
        .filter(|&i| spans[i].service == service && spans[i].kind == kind)
        .collect();
    assert_eq!(found.len(), 1, "one {service} {kind} span");
    found[0]
}

/// The same spans under another trace id, as another page view (x-request-id
/// `view-<trace id>` where they carry one).
fn retrace(spans: &[Span], trace_id: u128) -> Vec<Span> {
    spans
        .iter()
        .map(|s| {
            let mut s = Span {
                trace_id,
                ..s.clone()
            };
            if let Some(id) = s.attributes.get_mut(REQUEST_ID_TAG) {
                *id = format!("view-{trace_id:x}");
            }
            s
        })
        .collect()
}

/// Broken variants of a complete reviews v2 page view, each under its own trace id.
struct Fixtures {
    complete_v2: Vec<Span>,
    complete_v1: Vec<Span>,
    /// productpage's span for its reviews call is missing: reviews' server span is an orphan.
    orphan: Vec<Span>,
    /// reviews kept the trace id but dropped the parent: a second root.
    two_roots: Vec<Span>,
    /// Nothing of reviews or ratings was exported: productpage's call leads nowhere.
    missing_hop: Vec<Span>,
    /// reviews started a trace of its own; only x-request-id ties the two together.
    split: Vec<Span>,
    /// ratings' clock runs 2 s behind reviews'.
    skew: Vec<Span>,
}

const ORPHAN: u128 = 0x0a;
const TWO_ROOTS: u128 = 0x0b;
const MISSING_HOP: u128 = 0x0c;
const SPLIT_FRONT: u128 = 0x0d;
const SPLIT_BACK: u128 = 0x0e;
const SKEW: u128 = 0x0f;

impl Fixtures {
    async fn make() -> Self {
        let complete_v2 = page_view(ReviewsChoice::V2, "page-view-v2").await;
        let complete_v1 = page_view(ReviewsChoice::V1, "page-view-v1").await;
        let base = &complete_v2;
        let reviews_server = index(base, "reviews", Kind::Server);
        let reviews_client = index(base, "reviews", Kind::Client);
        let ratings_server = index(base, "ratings", Kind::Server);
        let pp_reviews_call = base[reviews_server].parent_id.unwrap();

        let orphan: Vec<Span> = retrace(base, ORPHAN)
            .into_iter()
            .filter(|s| s.span_id != pp_reviews_call)
            .collect();

        let mut two_roots = retrace(base, TWO_ROOTS);
        two_roots[reviews_server].parent_id = None;

        let gone = [reviews_server, reviews_client, ratings_server];
        let missing_hop: Vec<Span> = retrace(base, MISSING_HOP)
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !gone.contains(i))
            .map(|(_, s)| s)
            .collect();

        let mut split = retrace(base, SPLIT_FRONT);
        for i in gone {
            split[i].trace_id = SPLIT_BACK;
        }
        split[reviews_server].parent_id = None;

        let mut skew = retrace(base, SKEW);
        let behind = 2_000_000_000;
        skew[ratings_server].start_unix_nanos -= behind;
        skew[ratings_server].end_unix_nanos -= behind;

        Self {
            complete_v2,
            complete_v1,
            orphan,
            two_roots,
            missing_hop,
            split,
            skew,
        }
    }

    fn all(&self) -> Vec<Span> {
        [
            &self.complete_v2,
            &self.complete_v1,
            &self.orphan,
            &self.two_roots,
            &self.missing_hop,
            &self.split,
            &self.skew,
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect()
    }
}

/// The query string of a recorded request as pairs.
fn query(r: &Recorded) -> Vec<(String, String)> {
    let url = reqwest::Url::parse(&format!("http://fake{}", r.uri)).unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// The traces that have a span of `service` (compared as the backend does) starting within
/// `[start, end]` nanoseconds, at most `limit`.
fn matching(
    traces: &[(u128, Vec<Span>)],
    service: &str,
    start: u64,
    end: u64,
    limit: usize,
) -> Vec<(u128, Vec<Span>)> {
    traces
        .iter()
        .filter(|(_, spans)| {
            spans.iter().any(|s| {
                s.service.eq_ignore_ascii_case(service)
                    && (start..=end).contains(&s.start_unix_nanos)
            })
        })
        .take(limit)
        .cloned()
        .collect()
}

fn number(q: &[(String, String)], key: &str) -> u64 {
    param(q, key)
        .unwrap_or_else(|| panic!("{key} is sent"))
        .parse()
        .unwrap()
}

/// A fake of `kind` ("jaeger", "zipkin" or "tempo") serving `spans` the way that backend does.
async fn fake(kind: &'static str, spans: Vec<Span>) -> FakeServer {
    let traces: Vec<(u128, Vec<Span>)> = group(spans).into_iter().collect();
    FakeServer::start(move |r, _| {
        let q = query(r);
        let path = r.uri.split('?').next().unwrap_or_default();
        match (kind, path) {
            ("jaeger", "/api/traces") => {
                let found = matching(
                    &traces,
                    param(&q, "service").unwrap(),
                    number(&q, "start") * 1000,
                    number(&q, "end") * 1000,
                    number(&q, "limit") as usize,
                );
                let spans: Vec<Span> = found.into_iter().flat_map(|(_, s)| s).collect();
                Reply::json(jaeger::to_json(&spans).to_string())
            }
            ("zipkin", "/api/v2/traces") => {
                let end = number(&q, "endTs") * 1_000_000;
                let start = end - number(&q, "lookback") * 1_000_000;
                let found = matching(
                    &traces,
                    param(&q, "serviceName").unwrap(),
                    start,
                    end,
                    number(&q, "limit") as usize,
                );
                let spans: Vec<Span> = found.into_iter().flat_map(|(_, s)| s).collect();
                Reply::json(zipkin::to_json(&spans).to_string())
            }
            ("tempo", "/api/search") => {
                let tags = param(&q, "tags").unwrap();
                let service = tags.strip_prefix("service.name=").unwrap();
                let found = matching(
                    &traces,
                    service,
                    number(&q, "start") * 1_000_000_000,
                    number(&q, "end") * 1_000_000_000,
                    number(&q, "limit") as usize,
                );
                Reply::json(tempo::search_json(&found).to_string())
            }
            ("tempo", p) if p.starts_with("/api/traces/") => {
                let id = u128::from_str_radix(&p["/api/traces/".len()..], 16).unwrap();
                match traces.iter().find(|(t, _)| *t == id) {
                    Some((_, spans)) => Reply::json(tempo::to_json(spans).to_string()),
                    None => Reply::status(404),
                }
            }
            _ => Reply::status(404),
        }
    })
    .await
}

fn backend(kind: &str, server: &FakeServer) -> Backend {
    match kind {
        "jaeger" => Backend::Jaeger(server.base_url()),
        "zipkin" => Backend::Zipkin(server.base_url()),
        _ => Backend::Tempo(server.base_url()),
    }
}

fn services() -> Vec<String> {
    ["productpage", "details", "reviews", "ratings"]
        .map(str::to_owned)
        .to_vec()
}

async fn check_with(kind: &'static str, spans: Vec<Span>) -> (Checked, Vec<Recorded>) {
    let server = fake(kind, spans).await;
    let window = Window::last(Duration::from_secs(15 * 60), 100);
    let checked = backends::check(
        &reqwest::Client::new(),
        &backend(kind, &server),
        &services(),
        &window,
    )
    .await
    .unwrap();
    (checked, server.requests())
}

fn result(checked: &Checked, trace_id: u128) -> &Judged {
    let id = format!("{trace_id:032x}");
    checked
        .results
        .iter()
        .find(|j| j.trace_id == id)
        .unwrap_or_else(|| panic!("trace {id} in {checked:#?}"))
}

fn rules(j: &Judged) -> Vec<&'static str> {
    j.problems.iter().map(|p| p.rule).collect()
}

const BACKENDS: [&str; 3] = ["jaeger", "zipkin", "tempo"];

/// Printed so that a run with `--nocapture` shows what a user would read.
static SHOWN: Mutex<()> = Mutex::new(());

#[tokio::test]
async fn complete_page_views_pass_on_every_backend() {
    let fixtures = Fixtures::make().await;
    for kind in BACKENDS {
        let spans: Vec<Span> = fixtures
            .complete_v2
            .iter()
            .chain(&fixtures.complete_v1)
            .cloned()
            .collect();
        let (checked, requests) = check_with(kind, spans).await;
        assert_eq!(
            (checked.traces, checked.complete, checked.broken),
            (2, 2, 0),
            "{kind}: {}",
            checked.text(true, "last 15m")
        );
        let v2 = result(&checked, fixtures.complete_v2[0].trace_id);
        assert_eq!(v2.spans, 7);
        assert_eq!(v2.request_ids, ["page-view-v2"]);
        assert!(v2.tree.contains("ratings SERVER"), "{kind}: {}", v2.tree);
        let v1 = result(&checked, fixtures.complete_v1[0].trace_id);
        assert_eq!(
            v1.spans, 5,
            "reviews v1 calls no ratings, and that is complete"
        );
        // One query per service (Tempo: a search per service, then one fetch per trace found).
        let searches: Vec<&Recorded> = requests
            .iter()
            .filter(|r| !r.uri.starts_with("/api/traces/") || kind != "tempo")
            .collect();
        assert_eq!(searches.len(), 4, "{kind}: {requests:?}");
        let _shown = SHOWN.lock();
        println!(
            "--- {kind}, complete ---\n{}",
            checked.text(true, "last 15m")
        );
    }
}

#[tokio::test]
async fn the_window_is_asked_for_in_each_backends_units() {
    let fixtures = Fixtures::make().await;
    let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    for kind in BACKENDS {
        let (_, requests) = check_with(kind, fixtures.complete_v1.clone()).await;
        let q = query(&requests[0]);
        let (start, end) = match kind {
            "jaeger" => (
                number(&q, "start") / 1_000_000,
                number(&q, "end") / 1_000_000,
            ),
            "zipkin" => {
                let end = number(&q, "endTs") / 1000;
                (end - number(&q, "lookback") / 1000, end)
            }
            _ => (number(&q, "start"), number(&q, "end")),
        };
        assert!(end >= before.as_secs(), "{kind}: the window ends now");
        // 15 minutes, give or take the second Tempo rounds up to.
        assert!(
            (900..=901).contains(&(end - start)),
            "{kind}: {start}..{end}"
        );
        assert_eq!(param(&q, "limit"), Some("100"));
    }
}

#[tokio::test]
async fn every_broken_variant_is_found_and_explained_on_every_backend() {
    let fixtures = Fixtures::make().await;
    for kind in BACKENDS {
        let (checked, _) = check_with(kind, fixtures.all()).await;
        // complete v2, complete v1, orphan, two roots, missing hop, split (2 traces), skew.
        assert_eq!(
            (checked.traces, checked.complete, checked.broken),
            (8, 2, 6),
            "{kind}: {}",
            checked.text(false, "")
        );

        let orphan = result(&checked, ORPHAN);
        assert_eq!(rules(orphan), ["orphan"], "{kind}");
        let p = &orphan.problems[0];
        assert!(
            // Zipkin keeps span names in lower case.
            p.what
                .to_lowercase()
                .starts_with("reviews' server span \"get /reviews/{product_id}\" has parent "),
            "{kind}: {}",
            p.what
        );
        assert!(p.what.ends_with("which is not in the trace"), "{}", p.what);
        assert!(
            p.cause.starts_with(
                "productpage did not forward its own span's context on its call to reviews"
            ),
            "{}",
            p.cause
        );
        assert!(p.cause.contains("(sampling, exporter off)"), "{}", p.cause);

        let two = result(&checked, TWO_ROOTS);
        assert_eq!(rules(two), ["roots"], "{kind}");
        let p = &two.problems[0];
        assert!(
            p.what
                .starts_with("2 roots: besides productpage's server span"),
            "{}",
            p.what
        );
        assert!(
            p.cause
                .starts_with("productpage sent the trace id to reviews without a parent span id"),
            "{}",
            p.cause
        );
        assert!(
            p.cause
                .contains("tied together only by x-request-id view-b"),
            "{kind}: {}",
            p.cause
        );

        let hop = result(&checked, MISSING_HOP);
        assert_eq!(rules(hop), ["missing-hop"], "{kind}");
        let p = &hop.problems[0];
        assert!(
            p.what.starts_with("productpage's client span")
                && p.what
                    .ends_with("called reviews, but no span of reviews is under that call"),
            "{}",
            p.what
        );
        assert!(
            p.cause
                .starts_with("reviews did not continue the trace productpage sent"),
            "{}",
            p.cause
        );

        let front = result(&checked, SPLIT_FRONT);
        assert_eq!(rules(front), ["missing-hop", "split"], "{kind}");
        let back = result(&checked, SPLIT_BACK);
        assert_eq!(
            rules(back),
            ["split"],
            "{kind}: the back half is a whole tree by itself"
        );
        let p = &back.problems[0];
        assert!(
            p.what
                .starts_with("one request (x-request-id view-d) is split over 2 traces: "),
            "{}",
            p.what
        );
        assert!(p.what.contains(&format!("{SPLIT_FRONT:032x}")));
        assert!(p.what.contains(&format!("{SPLIT_BACK:032x}")));
        assert!(
            p.cause.starts_with("reviews started a new trace instead of continuing the one of productpage: productpage did not forward the trace context on its call to reviews"),
            "{}",
            p.cause
        );
        assert!(p.cause.contains(
            "Only a backend that joins spans by x-request-id would show them as one trace"
        ));

        let skew = result(&checked, SKEW);
        assert_eq!(rules(skew), ["outside-parent"], "{kind}");
        let p = &skew.problems[0];
        assert!(
            p.what.starts_with("ratings' server span")
                && p.what
                    .contains("is not inside its parent reviews' client span")
                && p.what.contains(" before it"),
            "{}",
            p.what
        );
        assert!(
            p.cause
                .starts_with("the clocks of ratings and reviews disagree"),
            "{}",
            p.cause
        );

        assert!(result(&checked, fixtures.complete_v2[0].trace_id).complete);
        assert!(result(&checked, fixtures.complete_v1[0].trace_id).complete);
        let _shown = SHOWN.lock();
        println!(
            "--- {kind}, broken ---\n{}",
            checked.text(false, "last 15m")
        );
    }
}

/// A client reusing one x-request-id for several page views is not a split: every trace is
/// whole by itself.
#[tokio::test]
async fn complete_traces_sharing_a_request_id_are_not_a_split() {
    let first = page_view(ReviewsChoice::V1, "same-id").await;
    let second: Vec<Span> = first
        .iter()
        .map(|s| Span {
            trace_id: 0x77,
            ..s.clone()
        })
        .collect();
    let spans: Vec<Span> = first.into_iter().chain(second).collect();
    let (checked, _) = check_with("jaeger", spans).await;
    assert_eq!((checked.traces, checked.complete), (2, 2));
}

/// A backend that cannot be reached, or answers something else, is an error, not a verdict.
#[tokio::test]
async fn an_unreachable_or_wrong_backend_is_an_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let window = Window::last(Duration::from_secs(60), 10);
    let client = reqwest::Client::new();
    let err = backends::check(
        &client,
        &Backend::Jaeger(format!("http://{addr}")),
        &services(),
        &window,
    )
    .await
    .unwrap_err();
    assert!(err.0.starts_with("jaeger: cannot reach"), "{err}");
    let html = FakeServer::always(Reply::status(502)).await;
    let err = backends::check(
        &client,
        &Backend::Tempo(html.base_url()),
        &services(),
        &window,
    )
    .await
    .unwrap_err();
    assert!(err.0.contains("answered 502"), "{err}");
}
