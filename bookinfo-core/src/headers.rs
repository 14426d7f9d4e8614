//! The one list of request headers that BookInfo services forward to their downstreams.
//!
//! Istio's sidecars can only join their spans into one trace if every service copies the trace
//! context of the request it is serving onto the requests it makes. Upstream BookInfo keeps three
//! hand-synchronised copies of this list (Python, Ruby, Java) and each misses formats. Here there
//! is exactly one list, used by every service for every outbound call.
//!
//! Forwarding is an allow-list: anything not named here (`host`, hop-by-hop headers, `x-envoy-*`,
//! `x-forwarded-*`, ...) is never copied, because the outbound sidecar trusts `x-envoy-*` headers
//! coming from the local application.

use http::HeaderMap;

use crate::trace::ForwardedBaggage;

/// The W3C baggage header.
const BAGGAGE: &str = "baggage";

/// Headers forwarded verbatim when present, in upstream's order followed by the formats
/// upstream forgot (docs/tracing-design.md, “Headers we read and write”, says what each is).
pub const FORWARDED: &[&str] = &[
    // Upstream BookInfo's list.
    "x-request-id",
    "x-ot-span-context",
    "x-datadog-trace-id",
    "x-datadog-parent-id",
    "x-datadog-sampling-priority",
    "traceparent",
    "tracestate",
    "x-cloud-trace-context",
    "grpc-trace-bin",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
    "sw8",
    "end-user",
    "user-agent",
    "cookie",
    "authorization",
    "jwt",
    // Formats upstream drops.
    "b3",
    "baggage",
    "uber-trace-id",
    "x-datadog-origin",
    "x-datadog-tags",
    "sw8-correlation",
    "sw8-x",
    "x-amzn-trace-id",
    "x-client-trace-id",
];

/// Header-name prefixes forwarded verbatim: baggage items of the Jaeger and OpenTracing formats
/// and the OpenTracing basic-tracer context.
pub const FORWARDED_PREFIXES: &[&str] = &["uberctx-", "ot-tracer-", "ot-baggage-"];

/// The header that carries the signed-in user; productpage sets it from its session and never
/// trusts an incoming value, the other services forward it so Istio can route on it.
pub const END_USER: &str = "end-user";

/// Whether a (lower-case) header name is forwarded.
pub fn is_forwarded(name: &str) -> bool {
    FORWARDED.contains(&name) || FORWARDED_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The subset of `incoming` that is forwarded downstream, values and repetitions kept verbatim.
pub fn forwarded_headers(incoming: &HeaderMap) -> HeaderMap {
    select(incoming, is_forwarded)
}

/// Each header of `incoming` whose name passes `keep`, in order, repeated values included: one
/// pass over the map, no lookups.
fn select(incoming: &HeaderMap, keep: impl Fn(&str) -> bool) -> HeaderMap {
    let mut selected = HeaderMap::new();
    for (name, value) in incoming {
        if keep(name.as_str()) {
            selected.append(name.clone(), value.clone());
        }
    }
    selected
}

/// What an outbound call carries from the request being served: the forwarded headers
/// (which a handler may still edit, as productpage does with `end-user`) and, in participating
/// mode, the request's trace, so that each outbound attempt becomes a child span of it.
///
/// It is an extractor: a handler takes `forwarded: Forwarded` and passes `&forwarded` to
/// [`Client::call`](crate::client::Client::call).
#[derive(Clone, Debug, Default)]
pub struct Forwarded {
    pub headers: HeaderMap,
    pub trace: Option<std::sync::Arc<crate::trace::RequestTrace>>,
}

impl Forwarded {
    /// What calls made while serving the request of `parts` carry (see the type's docs). A
    /// handler that calls out only sometimes builds it then, instead of taking the extractor:
    /// details does, as it calls Google Books only when configured to.
    pub fn of(parts: &http::request::Parts) -> Self {
        let trace = parts
            .extensions
            .get::<std::sync::Arc<crate::trace::RequestTrace>>()
            .cloned();
        let headers = match &trace {
            // Participating: every call writes its own span's context instead, so the caller's
            // trace headers are not even copied; `baggage`, when it was read, goes on as its
            // valid members only (docs/tracing-mixed-chains.md, "Mixed chains").
            Some(trace) => match &trace.baggage {
                ForwardedBaggage::AsReceived => select(&parts.headers, |name| {
                    is_forwarded(name) && !bookinfo_propagation::is_owned(name)
                }),
                ForwardedBaggage::Valid(valid) => {
                    let mut headers = select(&parts.headers, |name| {
                        is_forwarded(name)
                            && !bookinfo_propagation::is_owned(name)
                            && name != BAGGAGE
                    });
                    if let Some(value) = valid {
                        headers.insert(BAGGAGE, value.clone());
                    }
                    headers
                }
            },
            None => forwarded_headers(&parts.headers),
        };
        Self { headers, trace }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Forwarded {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self::of(parts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use http::header::HeaderName;

    #[test]
    fn list_is_lower_case_and_unique() {
        for (i, name) in FORWARDED.iter().enumerate() {
            assert_eq!(*name, name.to_ascii_lowercase());
            assert!(HeaderName::from_bytes(name.as_bytes()).is_ok(), "{name}");
            assert!(!FORWARDED[..i].contains(name), "duplicate {name}");
        }
    }

    #[test]
    fn keeps_listed_and_prefixed_drops_the_rest() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("x-request-id", "r1"),
            ("uberctx-user", "jason"),
            ("ot-baggage-k", "v"),
            ("ot-tracer-traceid", "a"),
            ("host", "example"),
            ("x-envoy-attempt-count", "1"),
            ("x-forwarded-for", "1.2.3.4"),
            ("connection", "keep-alive"),
            ("foo", "bar"),
        ] {
            h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        let forwarded = forwarded_headers(&h);
        let mut names: Vec<_> = forwarded.keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "ot-baggage-k",
                "ot-tracer-traceid",
                "uberctx-user",
                "x-request-id"
            ]
        );
    }

    #[test]
    fn repeated_values_are_kept_in_order() {
        let mut h = HeaderMap::new();
        h.append("tracestate", HeaderValue::from_static("a=1"));
        h.append("tracestate", HeaderValue::from_static("b=2"));
        let forwarded = forwarded_headers(&h);
        let values: Vec<_> = forwarded.get_all("tracestate").iter().collect();
        assert_eq!(values, ["a=1", "b=2"]);
    }
}
