//! Proof that one request is one complete trace tree (docs/tracing-design.md, “Tree rules”), in
//! every setup a user can have: no mesh, an Istio mesh with the Zipkin (B3) or the OpenTelemetry
//! (W3C) provider, and callers that speak each supported trace format — and that the services' own
//! span ids never leave holes.
//!
//! All four real services run in participating mode, exporting OTLP to an in-test collector;
//! the emulated sidecars and gateway report Zipkin spans to the same collector. `x-request-id`
//! is never unique per request here, so no backend could be completing the tree by guessing from
//! it.

#![allow(clippy::unwrap_used)] // Test helpers: a failed unwrap is a failed test.

use std::sync::Arc;
use std::time::Duration;

use bookinfo_launcher::{ReviewsChoice, Service, Stack, StackOptions};
use bookinfo_testing::{FakeServer, Recorded, Reply};
use bookinfo_tracecheck::mesh::{Flavor, Role, Sidecar, Ztunnel};
use bookinfo_tracecheck::{Collector, Span, check, render, render_detailed};

const WAIT: Duration = Duration::from_secs(10);

/// The tree of `GET /productpage` with reviews v2 and no mesh (docs/tracing-design.md,
/// “Expected trees”).
const APP_TREE: &str = "\
productpage SERVER GET /productpage
  productpage CLIENT GET details
    details SERVER GET /details/{*rest}
  productpage CLIENT GET reviews
    reviews SERVER GET /reviews/{product_id}
      reviews CLIENT GET ratings
        ratings SERVER GET /ratings/{*rest}
";

/// Participating services behind an emulated mesh: every app span sits between the sidecar
/// spans of its own pod (docs/tracing-design.md, “Tree rules”, rule 6).
const MESH_TREE: &str = "\
istio-ingressgateway SERVER gateway /productpage
  istio-ingressgateway CLIENT gateway-upstream /productpage
    productpage.default SERVER inbound /productpage
      productpage SERVER GET /productpage
        productpage CLIENT GET details
          productpage.default CLIENT outbound /details/0
            details.default SERVER inbound /details/0
              details SERVER GET /details/{*rest}
        productpage CLIENT GET reviews
          productpage.default CLIENT outbound /reviews/0
            reviews.default SERVER inbound /reviews/0
              reviews SERVER GET /reviews/{product_id}
                reviews CLIENT GET ratings
                  reviews.default CLIENT outbound /ratings/0
                    ratings.default SERVER inbound /ratings/0
                      ratings SERVER GET /ratings/{*rest}
";

/// Pass-through services behind the mesh: only sidecar spans, still one connected tree, as
/// upstream BookInfo gives.
const PASS_THROUGH_MESH_TREE: &str = "\
istio-ingressgateway SERVER gateway /productpage
  istio-ingressgateway CLIENT gateway-upstream /productpage
    productpage.default SERVER inbound /productpage
      productpage.default CLIENT outbound /details/0
        details.default SERVER inbound /details/0
      productpage.default CLIENT outbound /reviews/0
        reviews.default SERVER inbound /reviews/0
          reviews.default CLIENT outbound /ratings/0
            ratings.default SERVER inbound /ratings/0
";

fn participating(collector: &Collector) -> Vec<(String, String)> {
    vec![
        ("OTEL_TRACES_EXPORTER".into(), "otlp".into()),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
            collector.otlp_endpoint(),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY".into(), "20".into()),
    ]
}

fn with(mut env: Vec<(String, String)>, extra: &[(&str, &str)]) -> Arc<Vec<(String, String)>> {
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    Arc::new(env)
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn get_page(url: String, headers: &[(&str, &str)]) -> String {
    let mut req = client().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

/// Assert `spans` form one complete tree that renders as `expected`.
fn assert_tree(spans: &[Span], expected: &str) {
    let violations = check(spans);
    assert!(
        violations.is_empty(),
        "incomplete trace:\n{}\n{}",
        violations
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
        render(spans)
    );
    assert_eq!(render(spans), expected);
}

/// Report the caller's own span, as an instrumented client would, so the tree has its root.
async fn report_client_span(collector: &Collector, trace_hex: &str, span_hex: &str) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    let span = serde_json::json!([{
        "traceId": trace_hex, "id": span_hex, "name": "GET /productpage", "kind": "CLIENT",
        "timestamp": now - 60_000_000, "duration": 120_000_000,
        "localEndpoint": {"serviceName": "client"}
    }]);
    let resp = client()
        .post(collector.zipkin_endpoint())
        .json(&span)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
}

async fn no_mesh_stack(env: Arc<Vec<(String, String)>>) -> Stack {
    Stack::start(StackOptions::ephemeral(ReviewsChoice::V2), env)
        .await
        .expect("stack starts")
}

#[tokio::test]
async fn no_mesh_one_request_is_one_tree() {
    let collector = Collector::start().await.unwrap();
    let stack = no_mesh_stack(with(participating(&collector), &[])).await;
    get_page(format!("http://{}/productpage", stack.productpage), &[]).await;
    let spans = collector.wait_for(7, WAIT).await;
    assert_tree(&spans, APP_TREE);
    let root = spans.iter().find(|s| s.parent_id.is_none()).unwrap();
    assert_eq!(root.attribute("http.route"), Some("/productpage"));
    assert_eq!(root.attribute("service.version"), Some("v1"));
    stack.stop().await.unwrap();
    assert!(collector.rejected().is_empty());
}

/// Health probes and metric scrapes make no spans (they would crowd out the page views), while
/// the page view next to them is still one complete tree; `TRACE_EXCLUDED_PATHS` changes the list.
#[tokio::test]
async fn probes_and_scrapes_are_not_traced() {
    let collector = Collector::start().await.unwrap();
    let stack = no_mesh_stack(with(participating(&collector), &[])).await;
    for path in ["/health", "/metrics", "/health", "/metrics"] {
        let resp = client()
            .get(format!("http://{}{path}", stack.productpage))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
    }
    get_page(format!("http://{}/productpage", stack.productpage), &[]).await;
    let spans = settled(&collector, 7).await;
    assert_tree(&spans, APP_TREE);
    stack.stop().await.unwrap();

    // With the list emptied, a probe is a trace of its own again.
    let collector = Collector::start().await.unwrap();
    let stack = no_mesh_stack(with(
        participating(&collector),
        &[("TRACE_EXCLUDED_PATHS", "")],
    ))
    .await;
    let resp = client()
        .get(format!("http://{}/health", stack.productpage))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let spans = collector.wait_for(1, WAIT).await;
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].name, "GET /health");
    stack.stop().await.unwrap();
}

/// Every format a caller may use (no mesh): the caller's span is the root, ours hang under it.
#[tokio::test]
async fn incoming_formats_are_continued() {
    let trace128 = "4bf92f3577b34da6a3ce929d0e0e4736";
    let trace64 = "a3ce929d0e0e4736";
    let span = "00f067aa0ba902b7";
    // (case, headers the caller sends, the trace id they carry)
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "b3 single",
            vec![("b3", format!("{trace128}-{span}-1"))],
            trace128,
        ),
        (
            "b3 multi",
            vec![
                ("x-b3-traceid", trace128.to_owned()),
                ("x-b3-spanid", span.to_owned()),
                ("x-b3-sampled", "1".to_owned()),
            ],
            trace128,
        ),
        (
            "traceparent",
            vec![("traceparent", format!("00-{trace128}-{span}-01"))],
            trace128,
        ),
        // Trace a3ce929d0e0e4736, span 00f067aa0ba902b7, sampled (docs/tracing-design.md,
        // “x-ot-span-context”).
        (
            "x-ot-span-context",
            vec![(
                "x-ot-span-context",
                "EhQJNkcODp2SzqMRtwKpC6pn8AAYAQ==".to_owned(),
            )],
            trace64,
        ),
        (
            "ot-tracer",
            vec![
                ("ot-tracer-traceid", trace64.to_owned()),
                ("ot-tracer-spanid", span.to_owned()),
                ("ot-tracer-sampled", "true".to_owned()),
            ],
            trace64,
        ),
        (
            "uber-trace-id",
            vec![("uber-trace-id", format!("{trace128}:{span}:0:1"))],
            trace128,
        ),
    ];
    for (name, headers, trace) in cases {
        let collector = Collector::start().await.unwrap();
        let stack = no_mesh_stack(with(participating(&collector), &[])).await;
        report_client_span(&collector, trace, span).await;
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        get_page(
            format!("http://{}/productpage", stack.productpage),
            &headers,
        )
        .await;
        let spans = collector.wait_for(8, WAIT).await;
        let expected = format!(
            "client CLIENT GET /productpage\n{}",
            APP_TREE
                .lines()
                .map(|l| format!("  {l}\n"))
                .collect::<String>()
        );
        let violations = check(&spans);
        assert!(
            violations.is_empty(),
            "{name}: {violations:?}\n{}",
            render(&spans)
        );
        assert_eq!(render(&spans), expected, "{name}");
        let want = u128::from_str_radix(trace, 16).unwrap();
        assert!(
            spans.iter().all(|s| s.trace_id == want),
            "{name}: one trace id"
        );
        stack.stop().await.unwrap();
    }
}

/// Wait for `n` spans, then a little longer, so that a test counting them sees any extra.
async fn settled(collector: &Collector, n: usize) -> Vec<Span> {
    collector.wait_for(n, WAIT).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    collector.spans()
}

/// Real productpage and reviews v2, with a recording ratings: what crossed the last hop.
async fn recorded_at_ratings(
    env: Arc<Vec<(String, String)>>,
    headers: &[(&str, &str)],
) -> Recorded {
    let ratings = FakeServer::always(Reply::json(
        r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#,
    ))
    .await;
    let stack = Stack::start(
        StackOptions::ephemeral(ReviewsChoice::V2).with_env(
            Service::Reviews,
            "RATINGS_SERVICE_PORT",
            &ratings.port(),
        ),
        env,
    )
    .await
    .unwrap();
    get_page(format!("http://{}/productpage", stack.productpage), headers).await;
    stack.stop().await.unwrap();
    let seen = ratings.requests();
    assert_eq!(seen.len(), 1);
    seen[0].clone()
}

#[tokio::test]
async fn unsampled_exports_nothing_but_propagates_the_decision() {
    let collector = Collector::start().await.unwrap();
    let trace = "80f198ee56343ba864fe8b2a57d3eff7";
    let seen = recorded_at_ratings(
        with(participating(&collector), &[]),
        &[
            ("x-b3-traceid", trace),
            ("x-b3-spanid", "e457b5a2e4d86bd1"),
            ("x-b3-sampled", "0"),
        ],
    )
    .await;
    assert_eq!(seen.header("x-b3-traceid"), Some(trace));
    assert_eq!(seen.header("x-b3-sampled"), Some("0"));
    let child = seen.header("x-b3-spanid").unwrap();
    assert_ne!(
        child, "e457b5a2e4d86bd1",
        "a real child span id, not the caller's"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        collector.spans().is_empty(),
        "nothing exported: {:?}",
        collector.spans()
    );
}

#[tokio::test]
async fn debug_is_recorded_and_stays_debug() {
    let collector = Collector::start().await.unwrap();
    let trace = "80f198ee56343ba864fe8b2a57d3eff7";
    // Roots would not be sampled at all; a debug request still is.
    let env = with(
        participating(&collector),
        &[("OTEL_TRACES_SAMPLER", "parentbased_always_off")],
    );
    let seen = recorded_at_ratings(env, &[("b3", &format!("{trace}-e457b5a2e4d86bd1-d"))]).await;
    // `{trace}-{span}-{sampling}-{parent}`: the sampling state is the third field.
    assert_eq!(
        seen.header("b3").map(|b| b.split('-').nth(2) == Some("d")),
        Some(true),
        "{:?}",
        seen.headers
    );
    let spans = settled(&collector, 6).await;
    assert_eq!(
        spans.len(),
        6,
        "productpage server + 2 clients, details server, reviews server + client"
    );
    let want = u128::from_str_radix(trace, 16).unwrap();
    assert!(spans.iter().all(|s| s.trace_id == want));
}

#[tokio::test]
async fn deferred_b3_gets_our_decision_which_is_then_propagated() {
    let collector = Collector::start().await.unwrap();
    let seen = recorded_at_ratings(
        with(participating(&collector), &[]),
        &[
            ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
            ("x-b3-spanid", "e457b5a2e4d86bd1"),
        ],
    )
    .await;
    assert_eq!(
        seen.header("x-b3-sampled"),
        Some("1"),
        "deferred is not turned into deny"
    );
    assert_eq!(settled(&collector, 6).await.len(), 6);
}

#[tokio::test]
async fn malformed_headers_start_a_new_trace_and_are_not_forwarded() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("b3", &[("b3", "zzzz-e457b5a2e4d86bd1-1")]),
        (
            "x-b3",
            &[("x-b3-traceid", "abc"), ("x-b3-spanid", "e457b5a2e4d86bd1")],
        ),
        (
            "traceparent",
            &[(
                "traceparent",
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            )],
        ),
        (
            "x-ot-span-context",
            &[("x-ot-span-context", "not base64 at all!")],
        ),
        (
            "ot-tracer",
            &[
                ("ot-tracer-traceid", "xyz"),
                ("ot-tracer-spanid", "00f067aa0ba902b7"),
            ],
        ),
        ("uber-trace-id", &[("uber-trace-id", "zz:yy:0:1")]),
    ];
    for (name, headers) in cases {
        let collector = Collector::start().await.unwrap();
        let seen = recorded_at_ratings(with(participating(&collector), &[]), headers).await;
        for (k, v) in *headers {
            assert_ne!(seen.header(k), Some(*v), "{name}: malformed {k} forwarded");
        }
        let spans = settled(&collector, 6).await;
        let roots: Vec<_> = spans.iter().filter(|s| s.parent_id.is_none()).collect();
        assert_eq!(roots.len(), 1, "{name}: {}", render(&spans));
        assert_eq!(
            roots[0].label(),
            "productpage SERVER GET /productpage",
            "{name}"
        );
        // The new trace continues downstream in the default formats.
        let root_trace = format!("{:032x}", roots[0].trace_id);
        assert_eq!(
            seen.header("x-b3-traceid"),
            Some(root_trace.as_str()),
            "{name}"
        );
        assert!(
            seen.header("traceparent")
                .is_some_and(|t| t.contains(&root_trace)),
            "{name}"
        );
    }
}

/// An emulated mesh around a running stack.
struct Mesh {
    gateway: Sidecar,
    pp_to_reviews: Sidecar,
    /// ratings' inbound sidecar: what it received is what crossed the last hop.
    ratings_in: Sidecar,
    _proxies: Vec<Sidecar>,
    stack: Stack,
}

async fn mesh(flavor: Flavor, collector: &Collector, env: Vec<(String, String)>) -> Mesh {
    let zipkin = collector.zipkin_endpoint();
    let proxy = |role, service: &'static str| {
        let zipkin = zipkin.clone();
        async move {
            Sidecar::start(role, flavor, service, &zipkin)
                .await
                .unwrap()
        }
    };
    let gateway = proxy(Role::Gateway, "istio-ingressgateway").await;
    let pp_in = proxy(Role::Inbound, "productpage.default").await;
    let details_in = proxy(Role::Inbound, "details.default").await;
    let reviews_in = proxy(Role::Inbound, "reviews.default").await;
    let ratings_in = proxy(Role::Inbound, "ratings.default").await;
    let pp_to_details = proxy(Role::Outbound, "productpage.default").await;
    let pp_to_reviews = proxy(Role::Outbound, "productpage.default").await;
    let reviews_to_ratings = proxy(Role::Outbound, "reviews.default").await;
    let stack = Stack::start(
        StackOptions::ephemeral(ReviewsChoice::V2)
            .with_env(
                Service::Productpage,
                "DETAILS_SERVICE_PORT",
                &pp_to_details.port(),
            )
            .with_env(
                Service::Productpage,
                "REVIEWS_SERVICE_PORT",
                &pp_to_reviews.port(),
            )
            .with_env(
                Service::Reviews,
                "RATINGS_SERVICE_PORT",
                &reviews_to_ratings.port(),
            ),
        Arc::new(env),
    )
    .await
    .unwrap();
    gateway.set_upstream(pp_in.addr);
    pp_in.set_upstream(stack.productpage);
    pp_to_details.set_upstream(details_in.addr);
    details_in.set_upstream(stack.details);
    pp_to_reviews.set_upstream(reviews_in.addr);
    reviews_in.set_upstream(stack.reviews);
    reviews_to_ratings.set_upstream(ratings_in.addr);
    ratings_in.set_upstream(stack.ratings);
    Mesh {
        gateway,
        pp_to_reviews,
        ratings_in,
        _proxies: vec![
            pp_in,
            details_in,
            reviews_in,
            pp_to_details,
            reviews_to_ratings,
        ],
        stack,
    }
}

#[tokio::test]
async fn zipkin_mesh_and_participating_services_make_one_tree() {
    let collector = Collector::start().await.unwrap();
    let m = mesh(Flavor::Zipkin, &collector, participating(&collector)).await;
    get_page(
        format!("http://{}/productpage", m.gateway.addr),
        &[("x-request-id", "fixed")],
    )
    .await;
    let spans = collector.wait_for(16, WAIT).await;
    assert_tree(&spans, MESH_TREE);
    m.stack.stop().await.unwrap();
}

#[tokio::test]
async fn opentelemetry_mesh_and_participating_services_make_one_tree() {
    let collector = Collector::start().await.unwrap();
    let m = mesh(Flavor::OpenTelemetry, &collector, participating(&collector)).await;
    get_page(format!("http://{}/productpage", m.gateway.addr), &[]).await;
    let spans = collector.wait_for(16, WAIT).await;
    assert_tree(&spans, MESH_TREE);
    m.stack.stop().await.unwrap();
}

#[tokio::test]
async fn pass_through_services_keep_the_mesh_tree_complete() {
    let collector = Collector::start().await.unwrap();
    let m = mesh(Flavor::Zipkin, &collector, Vec::new()).await;
    get_page(format!("http://{}/productpage", m.gateway.addr), &[]).await;
    let spans = collector.wait_for(9, WAIT).await;
    assert_tree(&spans, PASS_THROUGH_MESH_TREE);
    assert!(
        spans.iter().all(|s| s.source == "zipkin"),
        "no app spans in pass-through mode"
    );
    m.stack.stop().await.unwrap();
}

#[tokio::test]
async fn a_retried_reviews_call_shows_both_attempts() {
    let collector = Collector::start().await.unwrap();
    let m = mesh(Flavor::Zipkin, &collector, participating(&collector)).await;
    m.pp_to_reviews.abort_next(1);
    let html = get_page(format!("http://{}/productpage", m.gateway.addr), &[]).await;
    assert!(html.contains("Book Reviews"), "the retry succeeded");
    let spans = collector.wait_for(18, WAIT).await;
    let expected = MESH_TREE.replace(
        "        productpage CLIENT GET reviews\n",
        "        productpage CLIENT GET reviews\n          productpage.default CLIENT outbound /reviews/0\n        productpage CLIENT GET reviews\n",
    );
    assert_tree(&spans, &expected);
    let attempts: Vec<_> = spans.iter().filter(|s| s.name == "GET reviews").collect();
    assert_eq!(attempts.len(), 2);
    assert_eq!(
        attempts
            .iter()
            .filter(|s| s.attribute("http.request.resend_count") == Some("1"))
            .count(),
        1,
        "the second attempt is marked as a resend"
    );
    m.stack.stop().await.unwrap();
}

#[tokio::test]
async fn two_hundred_concurrent_requests_make_two_hundred_trees() {
    const N: usize = 200;
    let collector = Collector::start().await.unwrap();
    let stack = no_mesh_stack(with(participating(&collector), &[])).await;
    let url = format!("http://{}/productpage", stack.productpage);
    let mut tasks = tokio::task::JoinSet::new();
    let gate = Arc::new(tokio::sync::Semaphore::new(32));
    for _ in 0..N {
        let (url, gate) = (url.clone(), gate.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire().await.unwrap();
            // The same x-request-id on every request: completeness cannot come from it.
            get_page(url, &[("x-request-id", "same-for-all")]).await;
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let spans = collector.wait_for(N * 7, Duration::from_secs(30)).await;
    let traces = bookinfo_tracecheck::collector::group(spans);
    assert_eq!(traces.len(), N, "one trace per request");
    for spans in traces.values() {
        assert_tree(spans, APP_TREE);
    }
    stack.stop().await.unwrap();
}

#[tokio::test]
async fn traces_started_for_64_bit_formats_use_64_bit_ids() {
    // A Lightstep-era Envoy reads only `x-ot-span-context`, which has room for 64 bits: a trace
    // we start must fit, or the next hop would report the low half as another trace.
    let collector = Collector::start().await.unwrap();
    let stack = no_mesh_stack(with(
        participating(&collector),
        &[("OTEL_PROPAGATORS", "xot")],
    ))
    .await;
    get_page(format!("http://{}/productpage", stack.productpage), &[]).await;
    let spans = collector.wait_for(7, WAIT).await;
    assert_tree(&spans, APP_TREE);
    assert!(
        spans[0].trace_id <= u128::from(u64::MAX),
        "{:032x}",
        spans[0].trace_id
    );
    stack.stop().await.unwrap();
}

#[tokio::test]
async fn spans_are_flushed_on_graceful_shutdown() {
    let collector = Collector::start().await.unwrap();
    let mut env = participating(&collector);
    // Batches would wait a minute; only the shutdown flush can deliver them in time.
    env.retain(|(k, _)| k != "OTEL_BSP_SCHEDULE_DELAY");
    let stack = no_mesh_stack(with(env, &[("OTEL_BSP_SCHEDULE_DELAY", "60000")])).await;
    get_page(format!("http://{}/productpage", stack.productpage), &[]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(collector.spans().is_empty(), "still batched");
    stack.stop().await.unwrap();
    let spans = collector.wait_for(7, Duration::from_secs(2)).await;
    assert_tree(&spans, APP_TREE);
}

/// One page view with the services exporting as `exporter` says, to `collector`: the exact app
/// tree must arrive, every span through the receiver named `source`, nothing rejected.
async fn exporter_reports_the_same_tree(
    collector: &Collector,
    exporter: &[(&str, String)],
    source: &str,
) {
    let mut env: Vec<(String, String)> = exporter
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    env.push(("OTEL_BSP_SCHEDULE_DELAY".into(), "20".into()));
    let stack = no_mesh_stack(with(env, &[])).await;
    get_page(format!("http://{}/productpage", stack.productpage), &[]).await;
    let spans = collector.wait_for(7, WAIT).await;
    assert_tree(&spans, APP_TREE);
    assert!(spans.iter().all(|s| s.source == source));
    assert!(
        collector.rejected().is_empty(),
        "{:?}",
        collector.rejected()
    );
    stack.stop().await.unwrap();
}

#[tokio::test]
async fn zipkin_exporter_reports_the_same_tree() {
    // Istio's default provider is Zipkin: the services can report straight to it.
    let collector = Collector::start().await.unwrap();
    let exporter = [
        ("OTEL_TRACES_EXPORTER", "zipkin".to_owned()),
        ("OTEL_EXPORTER_ZIPKIN_ENDPOINT", collector.zipkin_endpoint()),
    ];
    exporter_reports_the_same_tree(&collector, &exporter, "zipkin").await;
}

#[tokio::test]
async fn otlp_grpc_exporter_reports_the_same_tree() {
    let collector = Collector::start().await.unwrap();
    let endpoint = collector.otlp_grpc_endpoint().expect("gRPC receiver");
    let exporter = [
        ("OTEL_TRACES_EXPORTER", "otlp".to_owned()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
    ];
    exporter_reports_the_same_tree(&collector, &exporter, "otlp-grpc").await;
}

// ---------------------------------------------------------------------------------------------
// What happened inside the hops (docs/tracing-design.md, “A service's own work”): the services'
// own spans and log events, the database call, and span status and errors after the
// OpenTelemetry HTTP, database and exception conventions.

/// Install the process-wide subscriber, as every service binary does, with the log lines off:
/// the services' own spans and events reach their traces through it.
fn bridged() {
    let config =
        bookinfo_core::telemetry::TelemetryConfig::from_env("tests", &[("RUST_LOG", "off")])
            .unwrap();
    bookinfo_core::telemetry::init(&config);
}

/// A page view with ratings v2 reading MySQL: the database call is a CLIENT span of ratings.
const DB_TREE: &str = "\
productpage SERVER GET /productpage
  productpage CLIENT GET details
    details SERVER GET /details/{*rest}
  productpage CLIENT GET reviews
    reviews SERVER GET /reviews/{product_id}
      reviews CLIENT GET ratings
        ratings SERVER GET /ratings/{*rest}
          ratings CLIENT SELECT ratings
";

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The one span labelled `label`.
fn one<'a>(spans: &'a [Span], label: &str) -> &'a Span {
    let found: Vec<_> = spans.iter().filter(|s| s.label() == label).collect();
    assert_eq!(found.len(), 1, "{label}:\n{}", render_detailed(spans));
    found[0]
}

/// A reviews v2 stack whose ratings runs with `ratings_env`, exporting to `collector`.
async fn stack_with_ratings(
    collector: &Collector,
    ratings_env: &[(&str, &str)],
    env: &[(&str, &str)],
) -> Stack {
    let mut options = StackOptions::ephemeral(ReviewsChoice::V2);
    for (k, v) in ratings_env {
        options = options.with_env(Service::Ratings, k, v);
    }
    Stack::start(options, with(participating(collector), env))
        .await
        .unwrap()
}

/// `host:port:user:password` of the MariaDB the tests start (scripts/test.sh), or a loud skip.
fn test_mysql() -> Option<[String; 4]> {
    let Ok(spec) = std::env::var("BOOKINFO_TEST_MYSQL") else {
        eprintln!(
            "\n*** SKIPPED: set BOOKINFO_TEST_MYSQL=host:port:user:password \
             (see ratings/scripts/mariadb-test-server.sh) to run the MySQL trace test ***\n"
        );
        return None;
    };
    let mut parts = spec.splitn(4, ':').map(str::to_owned);
    Some([(); 4].map(|()| parts.next().unwrap_or_default()))
}

/// ratings v2 against the real MariaDB: the `SELECT` is a CLIENT span under ratings' SERVER
/// span, with the database conventions' attributes (db.system.name, db.namespace,
/// db.collection.name, db.operation.name, the query text, which holds no values, and the
/// server's address), and no error.
#[tokio::test]
async fn ratings_v2_shows_its_mysql_query_in_the_tree() {
    let Some([host, port, user, password]) = test_mysql() else {
        return;
    };
    bridged();
    let collector = Collector::start().await.unwrap();
    let ratings = [
        ("SERVICE_VERSION", "v2"),
        ("DB_TYPE", "mysql"),
        ("MYSQL_DB_HOST", host.as_str()),
        ("MYSQL_DB_PORT", port.as_str()),
        ("MYSQL_DB_USER", user.as_str()),
        ("MYSQL_DB_PASSWORD", password.as_str()),
    ];
    let stack = stack_with_ratings(&collector, &ratings, &[]).await;
    let html = get_page(format!("http://{}/productpage", stack.productpage), &[]).await;
    assert!(html.contains("glyphicon-star"), "the stars were read");
    let spans = collector.wait_for(8, WAIT).await;
    assert_tree(&spans, DB_TREE);
    let db = one(&spans, "ratings CLIENT SELECT ratings");
    for (key, value) in [
        ("db.system.name", "mysql"),
        ("db.namespace", "test"),
        ("db.collection.name", "ratings"),
        ("db.operation.name", "SELECT"),
        ("db.query.text", "SELECT Rating FROM ratings"),
        ("server.address", host.as_str()),
        ("server.port", port.as_str()),
        ("service.name", "ratings"),
    ] {
        assert_eq!(db.attribute(key), Some(value), "{key}");
    }
    assert!(!db.is_error() && db.events.is_empty(), "{db:?}");
    stack.stop().await.unwrap();
}

/// ratings v2 with its database down: the refused connection marks the database span, ratings'
/// 500 marks its SERVER span and reviews' CLIENT span, and the events say why at each step.
#[tokio::test]
async fn an_unreachable_database_marks_each_span_with_its_reason() {
    bridged();
    let collector = Collector::start().await.unwrap();
    let port = closed_port().to_string();
    let ratings = [
        ("SERVICE_VERSION", "v2"),
        ("DB_TYPE", "mysql"),
        ("MYSQL_DB_HOST", "127.0.0.1"),
        ("MYSQL_DB_PORT", port.as_str()),
        ("RATINGS_DB_TIMEOUT_SECONDS", "5"),
    ];
    let stack = stack_with_ratings(&collector, &ratings, &[]).await;
    get_page(format!("http://{}/productpage", stack.productpage), &[]).await;
    let spans = collector.wait_for(8, WAIT).await;
    assert_tree(&spans, DB_TREE);

    // The database span: a connection failure, named by the error.type convention.
    let db = one(&spans, "ratings CLIENT SELECT ratings");
    assert!(db.is_error(), "{db:?}");
    assert_eq!(db.attribute("error.type"), Some("connection_refused"));
    assert_eq!(db.attribute("server.port"), Some(port.as_str()));
    let exception = db.event("exception").expect("an exception event");
    assert!(
        exception
            .attribute("exception.type")
            .is_some_and(|t| t.starts_with("mysql_async::")),
        "{exception:?}"
    );
    assert!(
        exception
            .attribute("exception.message")
            .is_some_and(|m| !m.is_empty())
    );

    // ratings answered 500: a server error (HTTP conventions), with the exception it logged.
    let server = one(&spans, "ratings SERVER GET /ratings/{*rest}");
    assert!(server.is_error());
    assert_eq!(server.attribute("error.type"), Some("500"));
    let logged = server.event("exception").expect("the logged error");
    assert_eq!(
        logged.attribute("exception.type"),
        Some("ratings::RatingsError::DatabaseUnreachable")
    );
    assert!(
        logged
            .attribute("exception.message")
            .is_some_and(|m| m.starts_with("could not connect to ratings database: ")),
        "{logged:?}"
    );

    // reviews' call got the 500; reviews itself still answered 200, saying why in an event.
    let call = one(&spans, "reviews CLIENT GET ratings");
    assert!(call.is_error());
    assert_eq!(call.attribute("error.type"), Some("500"));
    assert_eq!(call.attribute("http.response.status_code"), Some("500"));
    let reviews = one(&spans, "reviews SERVER GET /reviews/{product_id}");
    assert!(!reviews.is_error());
    let unavailable = reviews.event("ratings unavailable").expect("a warning");
    assert_eq!(unavailable.attribute("level"), Some("WARN"));
    assert!(
        unavailable
            .attribute("cause")
            .is_some_and(|c| c.contains("500"))
    );
    stack.stop().await.unwrap();
}

/// A faulty ratings (`v-faulty`, always failing): its SERVER span carries the injected fault
/// as an event and the 503 as its status, and so does reviews' call, through every exporter.
#[tokio::test]
async fn an_injected_fault_is_an_event_of_the_span_it_failed() {
    bridged();
    let collector = Collector::start().await.unwrap();
    let exporters: [(&str, Vec<(&str, String)>); 3] = [
        (
            "otlp",
            vec![
                ("OTEL_TRACES_EXPORTER", "otlp".to_owned()),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.otlp_endpoint()),
            ],
        ),
        (
            "otlp-grpc",
            vec![
                ("OTEL_TRACES_EXPORTER", "otlp".to_owned()),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
                (
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    collector.otlp_grpc_endpoint().unwrap(),
                ),
            ],
        ),
        (
            "zipkin",
            vec![
                ("OTEL_TRACES_EXPORTER", "zipkin".to_owned()),
                ("OTEL_EXPORTER_ZIPKIN_ENDPOINT", collector.zipkin_endpoint()),
            ],
        ),
    ];
    for (source, exporter) in exporters {
        collector.clear();
        let mut env: Vec<(String, String)> = exporter
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        env.push(("OTEL_BSP_SCHEDULE_DELAY".into(), "20".into()));
        let stack = Stack::start(
            StackOptions::ephemeral(ReviewsChoice::V2)
                .with_env(Service::Ratings, "SERVICE_VERSION", "v-faulty")
                .with_env(Service::Ratings, "RATINGS_FAULT_PROBABILITY", "1"),
            Arc::new(env),
        )
        .await
        .unwrap();
        get_page(format!("http://{}/productpage", stack.productpage), &[]).await;
        let spans = collector.wait_for(7, WAIT).await;
        assert_tree(&spans, APP_TREE);
        assert!(spans.iter().all(|s| s.source == source), "{source}");

        let ratings = one(&spans, "ratings SERVER GET /ratings/{*rest}");
        assert!(ratings.is_error(), "{source}: {ratings:?}");
        assert_eq!(ratings.attribute("error.type"), Some("503"), "{source}");
        let fault = ratings
            .event("injected fault: answering 503")
            .unwrap_or_else(|| panic!("{source}: {ratings:?}"));
        assert_eq!(fault.attribute("fault"), Some("abort"), "{source}");
        assert_eq!(fault.attribute("level"), Some("WARN"), "{source}");

        let call = one(&spans, "reviews CLIENT GET ratings");
        assert!(call.is_error(), "{source}");
        assert_eq!(call.attribute("error.type"), Some("503"), "{source}");
        let reviews = one(&spans, "reviews SERVER GET /reviews/{product_id}");
        assert!(
            reviews
                .event("ratings unavailable")
                .and_then(|e| e.attribute("cause"))
                .is_some_and(|c| c.contains("503")),
            "{source}: {reviews:?}"
        );
        // Everything else went well: no other span is an error.
        let errors: Vec<_> = spans
            .iter()
            .filter(|s| s.is_error())
            .map(Span::label)
            .collect();
        assert_eq!(errors.len(), 2, "{source}: {errors:?}");
        stack.stop().await.unwrap();
    }
    assert!(
        collector.rejected().is_empty(),
        "{:?}",
        collector.rejected()
    );
}

/// A delayed ratings (`v-delayed`, always late): why reviews waited is an event of ratings'
/// SERVER span; nothing failed, so no span is an error.
#[tokio::test]
async fn a_delayed_answer_says_why_it_was_late() {
    bridged();
    let collector = Collector::start().await.unwrap();
    let ratings = [
        ("SERVICE_VERSION", "v-delayed"),
        ("RATINGS_FAULT_PROBABILITY", "1"),
        ("RATINGS_DELAY_SECONDS", "0.05"),
    ];
    let stack = stack_with_ratings(&collector, &ratings, &[]).await;
    get_page(format!("http://{}/productpage", stack.productpage), &[]).await;
    let spans = collector.wait_for(7, WAIT).await;
    assert_tree(&spans, APP_TREE);
    let ratings = one(&spans, "ratings SERVER GET /ratings/{*rest}");
    let fault = ratings
        .event("injected fault: answering late")
        .unwrap_or_else(|| panic!("{ratings:?}"));
    assert_eq!(fault.attribute("fault"), Some("delay"));
    assert_eq!(fault.attribute("delay_s"), Some("0.05"));
    assert!(
        spans.iter().all(|s| !s.is_error()),
        "{}",
        render_detailed(&spans)
    );
    stack.stop().await.unwrap();
}

/// productpage retries reviews after a 503 (the mesh aborts the first attempt): the first
/// attempt's span is an error typed by its status code, the second is marked as a resend, and
/// productpage's SERVER span says what happened in between, in order.
#[tokio::test]
async fn a_retried_reviews_call_says_why_it_was_retried() {
    bridged();
    let collector = Collector::start().await.unwrap();
    let m = mesh(Flavor::Zipkin, &collector, participating(&collector)).await;
    m.pp_to_reviews.abort_next(1);
    get_page(format!("http://{}/productpage", m.gateway.addr), &[]).await;
    let spans = collector.wait_for(18, WAIT).await;
    let mut attempts: Vec<_> = spans.iter().filter(|s| s.name == "GET reviews").collect();
    attempts.sort_by_key(|s| s.start_unix_nanos);
    assert_eq!(attempts.len(), 2, "{}", render_detailed(&spans));
    assert!(attempts[0].is_error());
    assert_eq!(attempts[0].attribute("error.type"), Some("503"));
    assert_eq!(
        attempts[0].attribute("http.response.status_code"),
        Some("503")
    );
    assert!(!attempts[1].is_error());
    assert_eq!(
        attempts[1].attribute("http.request.resend_count"),
        Some("1")
    );

    let page = one(&spans, "productpage SERVER GET /productpage");
    assert!(!page.is_error(), "the retry saved the page");
    let names: Vec<_> = page.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["backend answered with an error", "retrying"]);
    assert_eq!(page.events[0].attribute("destination"), Some("reviews"));
    assert_eq!(page.events[0].attribute("status"), Some("503"));
    assert_eq!(page.events[1].attribute("destination"), Some("reviews"));
    assert_eq!(page.events[1].attribute("attempt"), Some("1"));
    m.stack.stop().await.unwrap();
}

/// details refuses the connection: productpage's CLIENT span is an error typed
/// `connection_refused` with the exception, and its SERVER span (the page still renders)
/// records the failed call.
#[tokio::test]
async fn a_refused_connection_is_named_on_the_calling_span() {
    bridged();
    let collector = Collector::start().await.unwrap();
    let port = closed_port().to_string();
    let stack = Stack::start(
        StackOptions::ephemeral(ReviewsChoice::V2).with_env(
            Service::Productpage,
            "DETAILS_SERVICE_PORT",
            &port,
        ),
        with(participating(&collector), &[]),
    )
    .await
    .unwrap();
    get_page(format!("http://{}/productpage", stack.productpage), &[]).await;
    let spans = collector.wait_for(6, WAIT).await;
    let expected = APP_TREE.replace("    details SERVER GET /details/{*rest}\n", "");
    assert_tree(&spans, &expected);
    let call = one(&spans, "productpage CLIENT GET details");
    assert!(call.is_error());
    assert_eq!(call.attribute("error.type"), Some("connection_refused"));
    assert_eq!(call.attribute("http.response.status_code"), None);
    let exception = call.event("exception").expect("an exception event");
    assert!(
        exception
            .attribute("exception.message")
            .is_some_and(|m| m.contains(&port)),
        "{exception:?}"
    );
    let page = one(&spans, "productpage SERVER GET /productpage");
    assert!(!page.is_error());
    let failed = page.event("backend call failed").expect("a warning");
    assert_eq!(failed.attribute("destination"), Some("details"));
    stack.stop().await.unwrap();
}

/// `TRACE_DETAIL=full` adds the page rendering as a span of productpage's own; the default
/// (`basic`) tree is the tree of hops. Pass-through services make no span at any level.
#[tokio::test]
async fn full_detail_adds_the_rendering_and_pass_through_stays_empty() {
    bridged();
    let collector = Collector::start().await.unwrap();
    let stack = no_mesh_stack(with(participating(&collector), &[("TRACE_DETAIL", "full")])).await;
    get_page(format!("http://{}/productpage", stack.productpage), &[]).await;
    let spans = collector.wait_for(8, WAIT).await;
    let expected = format!("{APP_TREE}  productpage INTERNAL render productpage\n");
    assert_tree(&spans, &expected);
    stack.stop().await.unwrap();

    collector.clear();
    let stack = no_mesh_stack(with(participating(&collector), &[])).await;
    get_page(format!("http://{}/productpage", stack.productpage), &[]).await;
    assert_tree(&settled(&collector, 7).await, APP_TREE);
    stack.stop().await.unwrap();

    let m = mesh(
        Flavor::Zipkin,
        &collector,
        vec![("TRACE_DETAIL".into(), "full".into())],
    )
    .await;
    collector.clear();
    get_page(
        format!("http://{}/productpage", m.gateway.addr),
        &[("x-request-id", "r")],
    )
    .await;
    let spans = settled(&collector, 9).await;
    assert_tree(&spans, PASS_THROUGH_MESH_TREE);
    m.stack.stop().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Istio ambient mode: ztunnel carries connections and makes no span; a waypoint, where a
// destination has one, makes the hop's only mesh span (one SERVER span per request, with the
// provider's headers). The ingress gateway is the usual Envoy gateway and sends straight to
// productpage's pods. Each row runs with both providers: the trees are the same, only the
// headers that carry them differ.

/// Which destinations have a waypoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Waypoints {
    None,
    /// One waypoint for the reviews Service only.
    Reviews,
    /// One waypoint for the whole namespace: details, reviews and ratings.
    Namespace,
}

impl Waypoints {
    /// The waypoint in front of `destination`, by the name its spans carry (Istio reports a
    /// proxy as `<deployment>.<namespace>`).
    fn for_destination(self, destination: &str) -> Option<&'static str> {
        match (self, destination) {
            (Waypoints::Namespace, _) => Some("waypoint.default"),
            (Waypoints::Reviews, "reviews") => Some("reviews-waypoint.default"),
            _ => None,
        }
    }
}

/// A running stack in an emulated ambient mesh.
struct Ambient {
    gateway: Sidecar,
    _ztunnels: Vec<Ztunnel>,
    _waypoints: Vec<Sidecar>,
    stack: Stack,
}

async fn ambient(
    flavor: Flavor,
    waypoints: Waypoints,
    collector: &Collector,
    env: Vec<(String, String)>,
) -> Ambient {
    let zipkin = collector.zipkin_endpoint();
    let gateway = Sidecar::start(Role::Gateway, flavor, "istio-ingressgateway", &zipkin)
        .await
        .unwrap();
    let to_productpage = Ztunnel::start().await.unwrap();
    let to_details = Ztunnel::start().await.unwrap();
    let to_reviews = Ztunnel::start().await.unwrap();
    let to_ratings = Ztunnel::start().await.unwrap();
    let stack = Stack::start(
        StackOptions::ephemeral(ReviewsChoice::V2)
            .with_env(
                Service::Productpage,
                "DETAILS_SERVICE_PORT",
                &to_details.port(),
            )
            .with_env(
                Service::Productpage,
                "REVIEWS_SERVICE_PORT",
                &to_reviews.port(),
            )
            .with_env(Service::Reviews, "RATINGS_SERVICE_PORT", &to_ratings.port()),
        Arc::new(env),
    )
    .await
    .unwrap();
    gateway.set_upstream(to_productpage.addr());
    to_productpage.set_upstream(stack.productpage);
    let mut placed = Vec::new();
    for (ztunnel, destination, pod) in [
        (&to_details, "details", stack.details),
        (&to_reviews, "reviews", stack.reviews),
        (&to_ratings, "ratings", stack.ratings),
    ] {
        match waypoints.for_destination(destination) {
            Some(name) => {
                let waypoint = Sidecar::start(Role::Waypoint, flavor, name, &zipkin)
                    .await
                    .unwrap();
                waypoint.set_upstream(pod);
                ztunnel.set_upstream(waypoint.addr);
                placed.push(waypoint);
            }
            None => ztunnel.set_upstream(pod),
        }
    }
    Ambient {
        gateway,
        _ztunnels: vec![to_productpage, to_details, to_reviews, to_ratings],
        _waypoints: placed,
        stack,
    }
}

/// One page view through the gateway of an ambient mesh: exactly `expected`, nothing more.
async fn ambient_row(waypoints: Waypoints, participating_services: bool, expected: &str) {
    let spans_expected = expected.lines().count();
    for flavor in [Flavor::Zipkin, Flavor::OpenTelemetry] {
        let collector = Collector::start().await.unwrap();
        let env = if participating_services {
            participating(&collector)
        } else {
            Vec::new()
        };
        let a = ambient(flavor, waypoints, &collector, env).await;
        get_page(format!("http://{}/productpage", a.gateway.addr), &[]).await;
        let spans = settled(&collector, spans_expected).await;
        assert_eq!(
            spans.len(),
            spans_expected,
            "{flavor:?} {waypoints:?}:\n{}",
            render(&spans)
        );
        let violations = check(&spans);
        assert!(
            violations.is_empty(),
            "{flavor:?} {waypoints:?}: {violations:?}\n{}",
            render(&spans)
        );
        assert_eq!(render(&spans), expected, "{flavor:?} {waypoints:?}");
        if !participating_services {
            assert!(
                spans.iter().all(|s| s.source == "zipkin"),
                "mesh spans only"
            );
        }
        a.stack.stop().await.unwrap();
    }
}

/// Ambient without waypoints, pass-through services: ztunnel makes no span, so the gateway's
/// two spans are the whole trace (without a gateway there would be none at all).
const AMBIENT_GATEWAY_ONLY: &str = "\
istio-ingressgateway SERVER gateway /productpage
  istio-ingressgateway CLIENT gateway-upstream /productpage
";

/// Ambient without waypoints, participating services: the services' own tree, complete by
/// itself, under the gateway's spans.
const AMBIENT_TREE: &str = "\
istio-ingressgateway SERVER gateway /productpage
  istio-ingressgateway CLIENT gateway-upstream /productpage
    productpage SERVER GET /productpage
      productpage CLIENT GET details
        details SERVER GET /details/{*rest}
      productpage CLIENT GET reviews
        reviews SERVER GET /reviews/{product_id}
          reviews CLIENT GET ratings
            ratings SERVER GET /ratings/{*rest}
";

/// A waypoint for reviews, pass-through services: its span hangs off the gateway's, because
/// productpage forwarded the gateway's context verbatim.
const AMBIENT_REVIEWS_WAYPOINT_PASS_THROUGH: &str = "\
istio-ingressgateway SERVER gateway /productpage
  istio-ingressgateway CLIENT gateway-upstream /productpage
    reviews-waypoint.default SERVER waypoint /reviews/0
";

/// A waypoint for reviews, participating services: the waypoint sits between productpage's
/// CLIENT span and reviews' SERVER span.
const AMBIENT_REVIEWS_WAYPOINT_TREE: &str = "\
istio-ingressgateway SERVER gateway /productpage
  istio-ingressgateway CLIENT gateway-upstream /productpage
    productpage SERVER GET /productpage
      productpage CLIENT GET details
        details SERVER GET /details/{*rest}
      productpage CLIENT GET reviews
        reviews-waypoint.default SERVER waypoint /reviews/0
          reviews SERVER GET /reviews/{product_id}
            reviews CLIENT GET ratings
              ratings SERVER GET /ratings/{*rest}
";

/// A namespace waypoint, pass-through services: one waypoint span per call, each a child of the
/// context its caller forwarded (the gateway's for productpage's calls, the reviews waypoint's
/// for reviews' call).
const AMBIENT_NAMESPACE_WAYPOINT_PASS_THROUGH: &str = "\
istio-ingressgateway SERVER gateway /productpage
  istio-ingressgateway CLIENT gateway-upstream /productpage
    waypoint.default SERVER waypoint /details/0
    waypoint.default SERVER waypoint /reviews/0
      waypoint.default SERVER waypoint /ratings/0
";

/// A namespace waypoint, participating services.
const AMBIENT_NAMESPACE_WAYPOINT_TREE: &str = "\
istio-ingressgateway SERVER gateway /productpage
  istio-ingressgateway CLIENT gateway-upstream /productpage
    productpage SERVER GET /productpage
      productpage CLIENT GET details
        waypoint.default SERVER waypoint /details/0
          details SERVER GET /details/{*rest}
      productpage CLIENT GET reviews
        waypoint.default SERVER waypoint /reviews/0
          reviews SERVER GET /reviews/{product_id}
            reviews CLIENT GET ratings
              waypoint.default SERVER waypoint /ratings/0
                ratings SERVER GET /ratings/{*rest}
";

#[tokio::test]
async fn ambient_without_waypoints_pass_through_leaves_only_the_gateway() {
    ambient_row(Waypoints::None, false, AMBIENT_GATEWAY_ONLY).await;
}

#[tokio::test]
async fn ambient_without_waypoints_participating_is_complete_on_its_own() {
    ambient_row(Waypoints::None, true, AMBIENT_TREE).await;
}

#[tokio::test]
async fn ambient_reviews_waypoint_pass_through() {
    ambient_row(
        Waypoints::Reviews,
        false,
        AMBIENT_REVIEWS_WAYPOINT_PASS_THROUGH,
    )
    .await;
}

#[tokio::test]
async fn ambient_reviews_waypoint_participating() {
    ambient_row(Waypoints::Reviews, true, AMBIENT_REVIEWS_WAYPOINT_TREE).await;
}

#[tokio::test]
async fn ambient_namespace_waypoint_pass_through() {
    ambient_row(
        Waypoints::Namespace,
        false,
        AMBIENT_NAMESPACE_WAYPOINT_PASS_THROUGH,
    )
    .await;
}

#[tokio::test]
async fn ambient_namespace_waypoint_participating() {
    ambient_row(Waypoints::Namespace, true, AMBIENT_NAMESPACE_WAYPOINT_TREE).await;
}

// ---------------------------------------------------------------------------------------------
// Mixed chains: a caller that forwards every format with one trace id, as upstream's
// productpage does (tracing-mixed-chains.md). What crossed the last hop is read at ratings'
// inbound sidecar, before it writes anything.

const MIXED_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const MIXED_SPAN: &str = "00f067aa0ba902b7";
const MIXED_STATE: &str = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";

/// The mesh tree under the caller's own span.
fn under_the_client(tree: &str) -> String {
    format!(
        "client CLIENT GET /productpage\n{}",
        tree.lines().map(|l| format!("  {l}\n")).collect::<String>()
    )
}

/// The id of the one span labelled `label`, as 16 hex digits.
fn id_of(spans: &[Span], label: &str) -> String {
    let found: Vec<&Span> = spans.iter().filter(|s| s.label() == label).collect();
    assert_eq!(found.len(), 1, "{label}");
    format!("{:016x}", found[0].span_id)
}

/// `x-ot-span-context` for a sampled context with baggage `user=jason`, built from the
/// Lightstep carrier's protobuf layout (docs/tracing-design.md, “x-ot-span-context”): `basic_ctx` (field 2) holding
/// `trace_id` (1, fixed64), `span_id` (2, fixed64), `sampled` (3, varint) and one
/// `baggage_items` entry (4).
fn xot_with_user_jason(trace_low64: u64, span: u64) -> String {
    use base64::Engine;
    let mut basic = vec![0x09];
    basic.extend_from_slice(&trace_low64.to_le_bytes());
    basic.push(0x11);
    basic.extend_from_slice(&span.to_le_bytes());
    basic.extend_from_slice(&[0x18, 0x01]);
    basic.extend_from_slice(&[0x22, 0x0d, 0x0a, 0x04]);
    basic.extend_from_slice(b"user");
    basic.extend_from_slice(&[0x12, 0x05]);
    basic.extend_from_slice(b"jason");
    let mut carrier = vec![0x12, u8::try_from(basic.len()).unwrap()];
    carrier.extend_from_slice(&basic);
    base64::engine::general_purpose::STANDARD.encode(carrier)
}

fn header<'a>(h: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn a_mixed_chain_behind_a_zipkin_mesh_keeps_tracestate_and_in_header_baggage() {
    // The example carrier of docs/tracing-design.md, “x-ot-span-context”, is exactly this caller's context.
    assert_eq!(
        xot_with_user_jason(0xa3ce_929d_0e0e_4736, 0x00f0_67aa_0ba9_02b7),
        "EiMJNkcODp2SzqMRtwKpC6pn8AAYASINCgR1c2VyEgVqYXNvbg=="
    );
    let collector = Collector::start().await.unwrap();
    let m = mesh(Flavor::Zipkin, &collector, participating(&collector)).await;
    report_client_span(&collector, MIXED_TRACE, MIXED_SPAN).await;
    let traceparent = format!("00-{MIXED_TRACE}-{MIXED_SPAN}-01");
    let xot = xot_with_user_jason(0xa3ce_929d_0e0e_4736, 0x00f0_67aa_0ba9_02b7);
    get_page(
        format!("http://{}/productpage", m.gateway.addr),
        &[
            ("x-b3-traceid", MIXED_TRACE),
            ("x-b3-spanid", MIXED_SPAN),
            ("x-b3-sampled", "1"),
            ("traceparent", &traceparent),
            ("tracestate", MIXED_STATE),
            ("x-ot-span-context", &xot),
            ("baggage", "userId=alice"),
        ],
    )
    .await;
    let spans = collector.wait_for(17, WAIT).await;
    assert_tree(&spans, &under_the_client(MESH_TREE));

    let last = m.ratings_in.received();
    assert_eq!(last.len(), 1);
    let last = &last[0];
    let reviews_client = id_of(&spans, "reviews CLIENT GET ratings");
    let sidecar = id_of(&spans, "reviews.default CLIENT outbound /ratings/0");
    // B3, rewritten by reviews' outbound sidecar.
    assert_eq!(header(last, "x-b3-traceid"), Some(MIXED_TRACE));
    assert_eq!(header(last, "x-b3-spanid"), Some(sidecar.as_str()));
    // W3C, written by reviews (the Zipkin sidecar leaves it), with the caller's vendor state.
    assert_eq!(
        header(last, "traceparent"),
        Some(format!("00-{MIXED_TRACE}-{reviews_client}-01").as_str())
    );
    assert_eq!(header(last, "tracestate"), Some(MIXED_STATE));
    // x-ot-span-context, re-encoded by reviews, the caller's baggage item still inside.
    let span = u64::from_str_radix(&reviews_client, 16).unwrap();
    assert_eq!(
        header(last, "x-ot-span-context"),
        Some(xot_with_user_jason(0xa3ce_929d_0e0e_4736, span).as_str())
    );
    assert_eq!(header(last, "baggage"), Some("userId=alice"));
    m.stack.stop().await.unwrap();
}

/// Where no sidecar writes `x-b3-*` (here, W3C is the mesh's format), a service that got both
/// B3 forms must write both: B3 readers that know only `x-b3-*` (upstream's Ruby details and
/// Java reviews) would otherwise lose the trace.
#[tokio::test]
async fn both_b3_forms_cross_an_opentelemetry_mesh() {
    let collector = Collector::start().await.unwrap();
    let mut env = participating(&collector);
    env.push((
        "OTEL_PROPAGATORS".into(),
        "tracecontext,baggage,b3multi".into(),
    ));
    let m = mesh(Flavor::OpenTelemetry, &collector, env).await;
    report_client_span(&collector, MIXED_TRACE, MIXED_SPAN).await;
    get_page(
        format!("http://{}/productpage", m.gateway.addr),
        &[
            ("traceparent", &format!("00-{MIXED_TRACE}-{MIXED_SPAN}-01")),
            ("b3", &format!("{MIXED_TRACE}-{MIXED_SPAN}-1")),
            ("x-b3-traceid", MIXED_TRACE),
            ("x-b3-spanid", MIXED_SPAN),
            ("x-b3-sampled", "1"),
        ],
    )
    .await;
    let spans = collector.wait_for(17, WAIT).await;
    assert_tree(&spans, &under_the_client(MESH_TREE));
    let last = m.ratings_in.received();
    let last = &last[0];
    let client = id_of(&spans, "reviews CLIENT GET ratings");
    let server = id_of(&spans, "reviews SERVER GET /reviews/{product_id}");
    let sidecar = id_of(&spans, "reviews.default CLIENT outbound /ratings/0");
    assert_eq!(
        header(last, "traceparent"),
        Some(format!("00-{MIXED_TRACE}-{sidecar}-01").as_str())
    );
    assert_eq!(
        header(last, "b3"),
        Some(format!("{MIXED_TRACE}-{client}-1-{server}").as_str())
    );
    assert_eq!(header(last, "x-b3-traceid"), Some(MIXED_TRACE));
    assert_eq!(header(last, "x-b3-spanid"), Some(client.as_str()));
    assert_eq!(header(last, "x-b3-parentspanid"), Some(server.as_str()));
    assert_eq!(header(last, "x-b3-sampled"), Some("1"));
    m.stack.stop().await.unwrap();
}

#[tokio::test]
async fn only_valid_baggage_within_the_limits_crosses_a_zipkin_mesh() {
    let many: Vec<String> = (0..70).map(|i| format!("k{i}=v")).collect();
    let kept: Vec<String> = (0..64).map(|i| format!("k{i}=v")).collect();
    let cases: [(&str, String, Option<String>); 3] = [
        (
            "invalid members",
            "userId=alice,not a member,isProduction=false;prop".into(),
            Some("userId=alice,isProduction=false;prop".into()),
        ),
        ("more than 64 members", many.join(","), Some(kept.join(","))),
        ("nothing valid", "no value,k y=v".into(), None),
    ];
    for (name, sent, expected) in cases {
        let collector = Collector::start().await.unwrap();
        let m = mesh(Flavor::Zipkin, &collector, participating(&collector)).await;
        get_page(
            format!("http://{}/productpage", m.gateway.addr),
            &[("baggage", &sent)],
        )
        .await;
        let spans = collector.wait_for(16, WAIT).await;
        assert_tree(&spans, MESH_TREE);
        let last = m.ratings_in.received();
        assert_eq!(header(&last[0], "baggage"), expected.as_deref(), "{name}");
        m.stack.stop().await.unwrap();
    }
    // Pass-through services forward it as it came, as upstream's do.
    let collector = Collector::start().await.unwrap();
    let m = mesh(Flavor::Zipkin, &collector, Vec::new()).await;
    get_page(
        format!("http://{}/productpage", m.gateway.addr),
        &[("baggage", "userId=alice,not a member")],
    )
    .await;
    collector.wait_for(9, WAIT).await;
    let last = m.ratings_in.received();
    assert_eq!(
        header(&last[0], "baggage"),
        Some("userId=alice,not a member")
    );
    m.stack.stop().await.unwrap();
}
