//! One SERVER span per request, parented on the context the request carried.
//!
//! The middleware extracts every enabled trace format (first valid one in precedence wins),
//! settles the sampling decision — the caller's if it made one, ours if it deferred or sent
//! nothing — opens the span named `"{METHOD} {route}"`, and stores a [`RequestTrace`] in the
//! request so outbound calls can open their CLIENT spans under it explicitly (no reliance on a
//! "current span" that `tokio::spawn` would lose). Log lines written while the request is
//! handled carry `trace_id` and `span_id`.

use std::future::Future;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanContext, SpanKind, Status, TraceContextExt, TraceFlags, Tracer};
use opentelemetry::{Context, KeyValue};

use super::request::ForwardedBaggage;
use super::{RequestTrace, RootSampler, Tracing};
use bookinfo_propagation::{Sampling, TraceContext};

/// Whether a ratio sampler keeps `trace_id` (the low 63 bits compared against the ratio, so
/// every service agrees on the same trace).
fn root_keeps(root: RootSampler, trace_id: u128) -> bool {
    match root {
        RootSampler::AlwaysOn => true,
        RootSampler::AlwaysOff => false,
        RootSampler::Ratio(r) => {
            let low = u64::try_from(trace_id & u128::from(u64::MAX)).unwrap_or(u64::MAX) >> 1;
            #[allow(
                clippy::cast_precision_loss,
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss
            )]
            let bound = (r.clamp(0.0, 1.0) * (1u64 << 63) as f64) as u64;
            low < bound
        }
    }
}

/// The method as an attribute value, without allocating for the common ones.
pub(super) fn method_value(method: &str) -> opentelemetry::Value {
    match method {
        "GET" => "GET".into(),
        "POST" => "POST".into(),
        "PUT" => "PUT".into(),
        "DELETE" => "DELETE".into(),
        "HEAD" => "HEAD".into(),
        "OPTIONS" => "OPTIONS".into(),
        "PATCH" => "PATCH".into(),
        other => other.to_owned().into(),
    }
}

/// The remote parent as OpenTelemetry sees it, with the decision already settled, in the
/// service's `base` context.
fn remote_parent(base: &Context, ctx: &TraceContext, sampled: bool) -> Context {
    let flags = if sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    let sc = SpanContext::new(
        opentelemetry::trace::TraceId::from(ctx.trace_id.value()),
        opentelemetry::trace::SpanId::from(ctx.span_id.get()),
        flags,
        true,
        opentelemetry::trace::TraceState::default(),
    );
    base.with_remote_span_context(sc)
}

/// The tracing middleware on its own, for a router that has nothing else around its routes.
/// [`crate::server::harden`] runs the same SERVER span inside the one middleware of its own.
pub async fn middleware(State(tracing): State<Tracing>, req: Request, next: Next) -> Response {
    traced(&tracing, req, |req| next.run(req)).await
}

/// Serves `req` with `inner` inside its SERVER span (see the module docs).
pub(crate) async fn traced<F, Fut>(tracing: &Tracing, mut req: Request, inner: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let Some(p) = tracing.inner.as_ref() else {
        return inner(req).await;
    };
    if p.excluded.iter().any(|e| e == req.uri().path()) {
        return inner(req).await;
    }
    // Declared before the span's context, so dropped after it (see `Tracing::shutdown`).
    let _live = p.live.token();
    let method = req.method().clone();
    // Unmatched requests are named by method alone (semantic conventions): raw paths would give
    // every scanner probe its own span name.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let extracted = bookinfo_propagation::extract(req.headers(), &p.propagation);
    if !extracted.malformed.is_empty() {
        tracing::debug!(malformed = ?extracted.malformed, "ignoring malformed trace headers");
    }

    // Few, useful attributes: every one is allocated, recorded and encoded for every request.
    let mut attributes = Vec::with_capacity(5);
    attributes.push(KeyValue::new(
        "http.request.method",
        method_value(method.as_str()),
    ));
    attributes.push(KeyValue::new("url.path", req.uri().path().to_owned()));
    if let Some(guid) = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
    {
        attributes.push(KeyValue::new("guid:x-request-id", guid.to_owned()));
    }
    let name = match &route {
        Some(route) => {
            attributes.push(KeyValue::new(
                "http.route",
                super::interned(&[route.as_str()]),
            ));
            super::interned(&[method.as_str(), " ", route.as_str()])
        }
        None => super::interned(&[method.as_str()]),
    };
    let builder = p
        .tracer
        .span_builder(name)
        .with_kind(SpanKind::Server)
        .with_attributes(attributes);

    let (parent, debug) = match &extracted.context {
        Some(ctx) => {
            let sampled = match ctx.sampling {
                Sampling::Sampled | Sampling::Debug => true,
                Sampling::NotSampled => false,
                Sampling::Deferred => root_keeps(p.root, ctx.trace_id.value()),
            };
            (
                remote_parent(&p.base, ctx, sampled),
                ctx.sampling == Sampling::Debug,
            )
        }
        None => {
            // A decision without ids (`b3: 0|1|d`) still binds the new root.
            let root = match extracted.decision.and_then(Sampling::is_sampled) {
                Some(sampled) => p.base.with_value(super::DecisionOnly(sampled)),
                None => p.base.clone(),
            };
            (root, extracted.decision == Some(Sampling::Debug))
        }
    };
    let span = p.tracer.build_with_context(builder, &parent);
    let cx = parent.with_span(span);
    if extracted.baggage_malformed {
        tracing::debug!("dropping invalid baggage members");
    }
    let baggage = if p.propagation.baggage() {
        ForwardedBaggage::Valid(
            extracted
                .baggage
                .as_ref()
                .and_then(bookinfo_propagation::Baggage::header_value)
                .and_then(|v| http::HeaderValue::from_str(&v).ok()),
        )
    } else {
        ForwardedBaggage::AsReceived
    };
    let trace = RequestTrace {
        cx: cx.clone(),
        incoming: extracted.context,
        formats: p.propagation.inject_set(extracted.arrived),
        debug,
        baggage,
        tracer: p.tracer.clone(),
        live: p.live.token(),
    };
    // Log lines carry the ids: the access-log middleware, inside this one, opens a span with
    // them under the service's own log span (`crate::server::observe`).
    req.extensions_mut().insert(std::sync::Arc::new(trace));

    // While the handler runs, the SERVER span's context is the current one: the service's own
    // `tracing` spans and log events find their place in the trace from it (see `bridge`).
    let resp = inner(req).with_context(cx.clone()).await;

    let status = resp.status();
    let span = cx.span();
    span.set_attribute(KeyValue::new(
        "http.response.status_code",
        i64::from(status.as_u16()),
    ));
    if status.is_server_error() {
        // HTTP conventions: the status code is the error's type, and says all the description
        // would.
        span.set_attribute(KeyValue::new(
            "error.type",
            super::interned(&[status.as_str()]),
        ));
        span.set_status(Status::error(""));
    }
    span.end();
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_sampling_is_a_pure_function_of_the_trace_id() {
        assert!(root_keeps(RootSampler::AlwaysOn, 5));
        assert!(!root_keeps(RootSampler::AlwaysOff, 5));
        assert!(root_keeps(RootSampler::Ratio(1.0), u128::MAX));
        assert!(!root_keeps(RootSampler::Ratio(0.0), 0));
        let kept = (0..1000u128)
            .filter(|i| {
                root_keeps(
                    RootSampler::Ratio(0.5),
                    i.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835),
                )
            })
            .count();
        assert!((350..650).contains(&kept), "{kept}");
    }
}
