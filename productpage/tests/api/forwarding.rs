//! Headers productpage forwards to its backends (docs/compatibility.md, items 24–32, 36).
//!
//! Deliberate difference from upstream (items 27–30, docs/compatibility.md,
//! “B3 headers forwarded verbatim”): B3 headers are forwarded verbatim, like every
//! other trace header, instead of being re-encoded by a B3 propagator. Sidecars therefore keep
//! `x-b3-parentspanid`/`x-b3-flags`, and a missing sampled flag is not turned into "deny".

use bookinfo_testing::Recorded;

use crate::helpers::{Backends, spawn_with};

const TRACE: [(&str, &str); 5] = [
    ("x-request-id", "34eeb41d-d267-9e49-8b84-dde403fc5b72"),
    ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
    ("x-b3-spanid", "e457b5a2e4d86bd1"),
    ("x-b3-sampled", "1"),
    ("sw8", "40c7fdf104e3de67"),
];

fn assert_carries(r: &Recorded, headers: &[(&str, &str)]) {
    for (name, value) in headers {
        assert_eq!(r.header(name), Some(*value), "{name} on {}", r.uri);
    }
}

async fn get_with(app: &crate::helpers::TestApp, path: &str, headers: &[(&str, &str)]) -> u16 {
    let mut req = app.client.get(app.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap().status().as_u16()
}

/// 24: trace headers reach reviews unchanged.
#[tokio::test]
async fn reviews_call_carries_trace_headers() {
    let backends = Backends::healthy().await;
    let app = spawn_with(&backends, &[]).await;
    assert_eq!(
        get_with(&app, "/api/v1/products/0/reviews", &TRACE).await,
        200
    );
    let reviews = backends.reviews.requests();
    assert_eq!(reviews.len(), 1);
    assert_carries(&reviews[0], &TRACE);
}

/// 25: and ratings.
#[tokio::test]
async fn ratings_call_carries_trace_headers() {
    let backends = Backends::healthy().await;
    let app = spawn_with(&backends, &[]).await;
    assert_eq!(
        get_with(&app, "/api/v1/products/0/ratings", &TRACE).await,
        200
    );
    assert_carries(&backends.ratings.requests()[0], &TRACE);
}

/// 26 (and 27–30 as documented above): every listed header to details and every reviews attempt.
#[tokio::test]
async fn listed_headers_reach_details_and_every_reviews_attempt() {
    let headers = [
        ("x-ot-span-context", "a;b;c"),
        ("x-datadog-trace-id", "1234"),
        ("x-datadog-parent-id", "5678"),
        ("x-datadog-sampling-priority", "1"),
        (
            "traceparent",
            "00-80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-01",
        ),
        ("tracestate", "vendor=value"),
        (
            "x-cloud-trace-context",
            "105445aa7843bc8bf206b12000100000/1;o=1",
        ),
        ("grpc-trace-bin", "AAARf5i5"),
        ("user-agent", "test-agent/1.0"),
        ("cookie", "foo=bar"),
        ("authorization", "Bearer token"),
        ("jwt", "eyJhbGciOi"),
        ("x-b3-parentspanid", "05e3ac9a4f6e3b90"),
        ("x-b3-flags", "1"),
        ("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"),
    ];
    let mut backends = Backends::healthy().await;
    backends.reviews =
        bookinfo_testing::FakeServer::always(bookinfo_testing::Reply::status(503)).await;
    let app = spawn_with(&backends, &[]).await;
    assert_eq!(get_with(&app, "/productpage", &headers).await, 200);
    let details = backends.details.requests();
    let reviews = backends.reviews.requests();
    assert_eq!(reviews.len(), 2);
    for r in details.iter().chain(reviews.iter()) {
        assert_carries(r, &headers);
    }
}

/// 31: a client cannot choose its own `end-user`.
#[tokio::test]
async fn incoming_end_user_is_not_forwarded() {
    let backends = Backends::healthy().await;
    let app = spawn_with(&backends, &[]).await;
    assert_eq!(
        get_with(&app, "/productpage", &[("end-user", "eve")]).await,
        200
    );
    assert_eq!(
        get_with(&app, "/api/v1/products/0/ratings", &[("end-user", "eve")]).await,
        200
    );
    for (name, r) in backends.all() {
        assert_eq!(r.header("end-user"), None, "{name}");
    }
}

/// 32: headers outside the list stay behind.
#[tokio::test]
async fn unlisted_headers_are_not_forwarded() {
    let backends = Backends::healthy().await;
    let app = spawn_with(&backends, &[]).await;
    let headers = [
        ("foo", "bar"),
        ("x-forwarded-for", "10.0.0.1"),
        ("x-envoy-attempt-count", "1"),
    ];
    assert_eq!(get_with(&app, "/productpage", &headers).await, 200);
    for (name, r) in backends.all() {
        for (h, _) in headers {
            assert_eq!(r.header(h), None, "{h} reached {name}");
        }
    }
}

/// 36: after sign-in, every backend call says who the user is, and carries the cookie.
#[tokio::test]
async fn signed_in_user_becomes_end_user() {
    let backends = Backends::healthy().await;
    let app = spawn_with(&backends, &[]).await;
    let cookie = app.login("jason").await;
    // An incoming end-user is replaced by the session's, not added to.
    let headers = [("cookie", cookie.as_str()), ("end-user", "eve")];
    assert_eq!(get_with(&app, "/productpage", &headers).await, 200);
    assert_eq!(
        get_with(&app, "/api/v1/products/0/ratings", &headers).await,
        200
    );
    let all = backends.all();
    assert_eq!(all.len(), 3);
    for (name, r) in all {
        let users: Vec<_> = r.headers.get_all("end-user").iter().collect();
        assert_eq!(users, ["jason"], "{name}");
        assert_eq!(r.header("cookie"), Some(cookie.as_str()), "{name}");
    }
}
