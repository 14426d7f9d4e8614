//! The trace of the request being served: what the SERVER span middleware ([`super::server`])
//! stores in the request, and what each outbound attempt opens its CLIENT span
//! ([`super::client`]) from.

use opentelemetry::Context;
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, SpanKind, TraceContextExt, Tracer};
use opentelemetry_sdk::trace::SdkTracer;
use tokio_util::task::task_tracker::TaskTrackerToken;

use super::client::ClientSpan;
use bookinfo_propagation::{FormatSet, Sampling, SpanId, TraceContext, TraceId};

/// The trace state of the request being served, kept in its extensions.
#[derive(Clone, Debug)]
pub struct RequestTrace {
    /// Context holding the SERVER span: the parent of every CLIENT span of this request.
    pub(super) cx: Context,
    /// What the caller sent (trace-id width, `tracestate`, in-header baggage are kept from it).
    pub(super) incoming: Option<TraceContext>,
    /// Formats to write downstream: those that arrived, or the configured defaults.
    pub(super) formats: FormatSet,
    /// The caller asked for debug (forced) sampling; it travels on.
    pub(super) debug: bool,
    /// What becomes of the `baggage` header on the way out.
    pub(crate) baggage: ForwardedBaggage,
    pub(super) tracer: SdkTracer,
    /// Held while the request's spans can still end (declared last: dropped after `cx`).
    pub(super) live: TaskTrackerToken,
}

/// What a participating service sends on as `baggage`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ForwardedBaggage {
    /// `baggage` is not among the propagators read: the header is forwarded as it arrived, like
    /// any other header on the forwarding list.
    AsReceived,
    /// The header was read: only its valid members within the W3C limits go on, re-encoded;
    /// `None` when there were none (then no `baggage` header is sent).
    Valid(Option<http::HeaderValue>),
}

impl RequestTrace {
    /// The server span's ids, as hex (for logs and tests).
    pub fn ids(&self) -> (String, String) {
        let sc = self.cx.span().span_context().clone();
        (sc.trace_id().to_string(), sc.span_id().to_string())
    }

    /// The trace id (32 hex digits) when this request is sampled, so its spans are exported and
    /// a tracing backend will have the trace; `None` otherwise (a link would lead nowhere).
    pub fn sampled_trace_id(&self) -> Option<String> {
        let sc = self.cx.span().span_context().clone();
        sc.is_sampled().then(|| sc.trace_id().to_string())
    }

    /// Open the CLIENT span for one attempt of `GET url` to `destination`. `attempt` counts
    /// from 0; a retry is its own span with `http.request.resend_count`.
    pub fn client_span(
        &self,
        method: &str,
        destination: &str,
        url: &str,
        attempt: u32,
    ) -> ClientSpan {
        let mut attributes = Vec::with_capacity(5);
        attributes.push(KeyValue::new(
            "http.request.method",
            super::server::method_value(method),
        ));
        attributes.push(KeyValue::new("url.full", url.to_owned()));
        let (host, port) = super::client::server_of(url);
        if let Some(host) = host {
            attributes.push(KeyValue::new("server.address", host));
        }
        if let Some(port) = port {
            attributes.push(KeyValue::new("server.port", i64::from(port)));
        }
        if attempt > 0 {
            attributes.push(KeyValue::new(
                "http.request.resend_count",
                i64::from(attempt),
            ));
        }
        let builder = self
            .tracer
            .span_builder(super::interned(&[method, " ", destination]))
            .with_kind(SpanKind::Client)
            .with_attributes(attributes);
        let span = self.tracer.build_with_context(builder, &self.cx);
        let inject = self.inject_context(span.span_context());
        ClientSpan {
            span,
            inject,
            formats: self.formats,
            _live: self.live.clone(),
        }
    }

    /// The context written downstream: the client span's ids, the caller's trace-id width,
    /// vendor state and in-header baggage, and the settled decision (debug stays debug).
    fn inject_context(&self, sc: &opentelemetry::trace::SpanContext) -> Option<TraceContext> {
        let value = u128::from_be_bytes(sc.trace_id().to_bytes());
        let narrow = self
            .incoming
            .as_ref()
            .is_some_and(|i| i.trace_id.is_64bit());
        let trace_id = if narrow {
            TraceId::new_64(u64::try_from(value & u128::from(u64::MAX)).ok()?)?
        } else {
            TraceId::new(value)?
        };
        let span_id = SpanId::new(u64::from_be_bytes(sc.span_id().to_bytes()))?;
        let sampling = match (sc.is_sampled(), self.debug) {
            (false, _) => Sampling::NotSampled,
            (true, true) => Sampling::Debug,
            (true, false) => Sampling::Sampled,
        };
        let mut ctx = TraceContext::new(trace_id, span_id, sampling);
        let server = self.cx.span().span_context().span_id();
        ctx.parent_span_id = SpanId::new(u64::from_be_bytes(server.to_bytes()));
        if let Some(incoming) = &self.incoming {
            ctx.trace_state = incoming.trace_state.clone();
            ctx.baggage = incoming.baggage.clone();
        }
        Some(ctx)
    }
}
