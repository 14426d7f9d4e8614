//! Header pass-through onto the ratings call: exactly the shared list arrives (behaviour 66).

use std::collections::BTreeSet;

use bookinfo_core::testing::{FakeServer, Reply};

use crate::helpers::{RATINGS_OK, client, fetch, spawn_with_ratings};

/// Every header the services forward, with a sample value.
pub const FORWARDED: &[(&str, &str)] = &[
    ("x-request-id", "r1"),
    ("x-ot-span-context", "ctx"),
    ("x-datadog-trace-id", "1"),
    ("x-datadog-parent-id", "2"),
    ("x-datadog-sampling-priority", "1"),
    (
        "traceparent",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    ),
    ("tracestate", "a=1"),
    (
        "x-cloud-trace-context",
        "105445aa7843bc8bf206b12000100000/1;o=1",
    ),
    ("grpc-trace-bin", "AAA="),
    ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
    ("x-b3-spanid", "e457b5a2e4d86bd1"),
    ("x-b3-parentspanid", "05e3ac9a4f6e3b90"),
    ("x-b3-sampled", "1"),
    ("x-b3-flags", "1"),
    ("sw8", "1-abc"),
    ("end-user", "jason"),
    ("user-agent", "test-agent/1"),
    ("cookie", "session=s1"),
    ("authorization", "Bearer t"),
    ("jwt", "j"),
    ("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"),
    ("baggage", "k=v"),
    ("uber-trace-id", "1:2:0:1"),
    ("uberctx-user", "jason"),
    ("ot-tracer-traceid", "1"),
    ("ot-baggage-k", "v"),
    ("x-datadog-origin", "synthetics"),
    ("x-datadog-tags", "_dd.p.dm=-0"),
    ("sw8-correlation", "a"),
    ("sw8-x", "0"),
    (
        "x-amzn-trace-id",
        "Root=1-5759e988-bd862e3fe1be46a994272793",
    ),
    ("x-client-trace-id", "c1"),
];

/// Headers that must never be forwarded.
pub const NOT_FORWARDED: &[(&str, &str)] = &[
    ("x-envoy-attempt-count", "1"),
    ("x-envoy-peer-metadata", "abc"),
    ("x-forwarded-for", "1.2.3.4"),
    ("x-forwarded-proto", "https"),
    ("forwarded", "for=1.2.3.4"),
    ("foo", "bar"),
    ("proxy-authorization", "Basic x"),
    ("x-b3", "nope"),
];

#[tokio::test]
async fn exactly_the_listed_headers_reach_ratings() {
    let ratings = FakeServer::always(Reply::json(RATINGS_OK)).await;
    let app = spawn_with_ratings(&ratings, &[]).await;
    let mut req = client().get(app.url("/reviews/0"));
    for (name, value) in FORWARDED.iter().chain(NOT_FORWARDED) {
        req = req.header(*name, *value);
    }
    // Repeated headers are kept, in order.
    req = req.header("tracestate", "b=2");
    let (status, _, _) = fetch(req).await;
    assert_eq!(status, 200);

    let seen = &ratings.requests()[0];
    let arrived: BTreeSet<&str> = seen.headers.keys().map(|k| k.as_str()).collect();
    // The list, plus `host` and the `accept: application/json` upstream sends.
    let expected: BTreeSet<&str> = FORWARDED
        .iter()
        .map(|(k, _)| *k)
        .chain(["host", "accept"])
        .collect();
    assert_eq!(arrived, expected);
    for (name, value) in FORWARDED {
        if *name != "tracestate" {
            assert_eq!(seen.header(name), Some(*value), "{name}");
        }
    }
    assert_eq!(seen.header("accept"), Some("application/json"));
    let tracestate: Vec<_> = seen.headers.get_all("tracestate").iter().collect();
    assert_eq!(tracestate, ["a=1", "b=2"]);
}

#[tokio::test]
async fn end_user_alone_is_forwarded() {
    // 66: what lets Istio route jason's reviews→ratings hop.
    let ratings = FakeServer::always(Reply::json(RATINGS_OK)).await;
    let app = spawn_with_ratings(&ratings, &[]).await;
    fetch(
        client()
            .get(app.url("/reviews/0"))
            .header("end-user", "jason"),
    )
    .await;
    fetch(client().get(app.url("/reviews/0"))).await;
    let seen = ratings.requests();
    assert_eq!(seen[0].header("end-user"), Some("jason"));
    assert_eq!(seen[1].header("end-user"), None);
}
