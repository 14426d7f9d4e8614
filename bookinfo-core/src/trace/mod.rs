//! Distributed tracing: the participating mode in which a service creates its own SERVER and
//! CLIENT spans, exports them, and re-injects the trace context in every format the request used.
//!
//! * [`config`]: the standard `OTEL_*` variables, and the choice between pass-through and
//!   participating mode.
//! * [`Tracing`]: the per-service handle (a tracer provider with its exporter, or nothing in
//!   pass-through mode). Per service, not global, so that several services can run in one
//!   process (the launcher, the cross-service tests) and still report as themselves.
//! * [`server`]: the middleware that opens one SERVER span per request, parented on the
//!   extracted context, and keeps it in the request as a [`RequestTrace`].
//! * [`RequestTrace`]: the trace of the request being served, from which each outbound attempt
//!   opens its CLIENT span.
//! * [`client`]: one CLIENT span per outbound attempt, explicitly parented on the server span,
//!   whose context is what gets injected downstream.
//! * [`otlp`], [`zipkin`]: the OTLP/HTTP and Zipkin v2 exporters (OTLP/gRPC comes from
//!   `opentelemetry-otlp`).
//! * [`batch`]: the span processor for OTLP/HTTP, which encodes each span when it ends; the
//!   other exporters use the SDK's batch processor.
//! * [`bridge`]: the service's own `tracing` spans and log events inside a request, carried into
//!   the request's trace through `tracing-opentelemetry` (`TRACE_DETAIL` says how much).
//! * [`db`]: CLIENT spans for database calls; [`error_type`]: the `error.type` of failed calls.
//!
//! The header formats themselves live in [`bookinfo_propagation`]; this module maps them onto
//! OpenTelemetry's span contexts and the SDK's sampler and exporters.

pub mod batch;
pub mod bridge;
pub mod client;
pub mod config;
pub mod db;
pub mod error_type;
pub mod otlp;
mod post;
mod request;
pub mod server;
pub mod zipkin;

use std::borrow::Cow;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::trace::{Link, SpanKind, TraceContextExt, TraceId};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, IdGenerator, RandomIdGenerator, Sampler,
    SamplingDecision, SamplingResult, SdkTracer, SdkTracerProvider, ShouldSample, SpanExporter,
};
use tokio_util::task::TaskTracker;

pub use bridge::{Detail, carry};
pub use client::ClientSpan;
pub use config::{Exporter, RootSampler, TracingConfig};
pub use db::{Database, DbCall};
pub(crate) use request::ForwardedBaggage;
pub use request::RequestTrace;

use bookinfo_propagation::{Format, FormatSet, Propagation};

/// The tracing handle of one service; cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Tracing {
    inner: Option<Arc<Participating>>,
}

#[derive(Debug)]
struct Participating {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    propagation: Propagation,
    root: RootSampler,
    /// The context each request starts from: it names this service's tracer and detail level
    /// for the spans and events of the service's own code (see [`bridge`]).
    base: Context,
    /// Paths served without a span (see [`TracingConfig::excluded_paths`]).
    excluded: Box<[String]>,
    /// One token per open span holder (request trace, client span, middleware frame): shutdown
    /// closes the tracker and waits (bounded) until every token is dropped, so that spans of
    /// requests still being torn down are exported too.
    live: TaskTracker,
}

impl Tracing {
    /// Pass-through mode: no spans, trace headers forwarded verbatim.
    pub fn pass_through() -> Self {
        Self::default()
    }

    /// Start span export as configured. Must run inside a Tokio runtime (the gRPC exporter needs
    /// one). An exporter that cannot be built is logged and leaves the service in pass-through
    /// mode: a service that cannot export must not inject span ids of its own.
    pub fn start(config: &TracingConfig) -> Self {
        let Some(exporter) = &config.exporter else {
            return Self::pass_through();
        };
        let propagation = match config.propagators.as_deref().map(Propagation::parse) {
            None => Propagation::default(),
            Some(Ok(p)) => p,
            Some(Err(e)) => {
                tracing::error!(cause = %e, "OTEL_PROPAGATORS is invalid; staying in pass-through mode");
                return Self::pass_through();
            }
        };
        let builder = SdkTracerProvider::builder();
        let builder = match exporter {
            Exporter::OtlpHttp { endpoint } => {
                builder.with_span_processor(batch::EncodingProcessor::new(
                    otlp::OtlpHttpExporter::new(
                        endpoint,
                        config.export_timeout,
                        &config.otlp_headers,
                    ),
                    config.batch_delay,
                    config.batch_queue,
                ))
            }
            Exporter::OtlpGrpc { endpoint } => match opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .with_timeout(config.export_timeout)
                .build()
            {
                Ok(e) => builder.with_span_processor(sdk_batch(e, config)),
                Err(e) => {
                    tracing::error!(cause = %e, "cannot build the span exporter; staying in pass-through mode");
                    return Self::pass_through();
                }
            },
            #[allow(deprecated)] // Still Istio's default provider's wire format.
            Exporter::Zipkin { endpoint } => builder.with_span_processor(sdk_batch(
                zipkin::ZipkinExporter::new(endpoint, config.export_timeout),
                config,
            )),
        };
        let mut attributes = vec![KeyValue::new(
            "service.version",
            config.service_version.clone(),
        )];
        attributes.extend(
            config
                .resource
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        );
        let resource = Resource::builder_empty()
            .with_service_name(config.service_name.clone())
            .with_attributes(attributes)
            .build();
        let root = match config.root_sampler {
            RootSampler::AlwaysOn => Sampler::AlwaysOn,
            RootSampler::AlwaysOff => Sampler::AlwaysOff,
            RootSampler::Ratio(r) => Sampler::TraceIdRatioBased(r),
        };
        let sampler = DecidedFirst(if config.parent_based {
            Sampler::ParentBased(Box::new(root))
        } else {
            root
        });
        let mut builder = builder.with_resource(resource).with_sampler(sampler);
        if only_64bit_formats(propagation.inject_default()) {
            // New traces must fit the only formats we would write them in.
            builder = builder.with_id_generator(NarrowTraceIds::default());
        }
        let provider = builder.build();
        let tracer = provider.tracer("bookinfo");
        let base = bridge::Bridge::context(tracer.clone(), config.detail);
        tracing::info!(exporter = ?exporter, detail = ?config.detail, "participating in traces: own spans are created and exported");
        Self {
            inner: Some(Arc::new(Participating {
                provider,
                tracer,
                propagation,
                root: config.root_sampler,
                base,
                excluded: config.excluded_paths.clone().into_boxed_slice(),
                live: TaskTracker::new(),
            })),
        }
    }

    /// Whether this service creates, injects and exports its own spans.
    pub fn is_participating(&self) -> bool {
        self.inner.is_some()
    }

    /// Export what is buffered and stop the exporter (graceful shutdown). Bounded: a collector
    /// that is down must not hold the process past its termination grace period.
    pub async fn shutdown(&self) {
        let Some(inner) = self.inner.clone() else {
            return;
        };
        // A request whose client went away is dropped, not finished, and the server may drop it
        // a moment after it has stopped counting connections; its spans end on that drop. Give
        // such stragglers a bounded moment: a span that ends after the provider shut down is
        // discarded without a word.
        inner.live.close();
        let _ = tokio::time::timeout(Duration::from_secs(2), inner.live.wait()).await;
        let flushed = tokio::task::spawn_blocking(move || inner.provider.shutdown());
        match tokio::time::timeout(Duration::from_secs(5), flushed).await {
            Ok(Ok(Ok(()))) => tracing::info!("spans flushed"),
            Ok(Ok(Err(e))) => tracing::warn!(cause = %e, "span exporter shutdown failed"),
            Ok(Err(_)) | Err(_) => tracing::warn!("span exporter did not shut down in time"),
        }
    }
}

/// Whether every format in `formats` carries only 64-bit trace ids (`x-ot-span-context`,
/// `ot-tracer-*`), so that traces started here must use 64-bit ids: a 128-bit id would be cut to
/// its low half on the wire, and the next hop would report a different trace.
fn only_64bit_formats(formats: FormatSet) -> bool {
    !formats.is_empty()
        && formats
            .iter()
            .all(|f| matches!(f, Format::OtSpanContext | Format::OtTrace))
}

/// Random ids with the high half of every trace id zero (see [`only_64bit_formats`]).
#[derive(Debug, Default)]
struct NarrowTraceIds(RandomIdGenerator);

impl IdGenerator for NarrowTraceIds {
    fn new_trace_id(&self) -> TraceId {
        loop {
            let wide = u128::from_be_bytes(self.0.new_trace_id().to_bytes());
            let narrow = wide & u128::from(u64::MAX);
            if narrow != 0 {
                return TraceId::from(narrow);
            }
        }
    }

    fn new_span_id(&self) -> opentelemetry::trace::SpanId {
        self.0.new_span_id()
    }
}

/// The SDK's batch processor with our delay and queue size, for the exporters that take whole
/// spans (OTLP/gRPC, Zipkin). Spans dropped because the queue was full are reported by the SDK's
/// own warnings (target `opentelemetry_sdk`).
fn sdk_batch<E: SpanExporter + 'static>(exporter: E, config: &TracingConfig) -> BatchSpanProcessor {
    BatchSpanProcessor::builder(exporter)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_scheduled_delay(config.batch_delay)
                .with_max_queue_size(config.batch_queue)
                .build(),
        )
        .build()
}

/// Span names and attribute values that repeat for every span of a route or destination
/// (`GET /productpage`, `GET details`, `details`), each built once and then shared. Otherwise
/// every span would format and allocate its name, and allocate each such value, again.
///
/// A process has a handful of routes and destinations, so the strings are kept for its whole
/// life; the cap bounds what unusual methods or hosts could add, and past it strings are simply
/// built per span again.
static INTERNED: Interner = Interner::new(256);

/// `parts` joined: shared when this text was seen before, or could still be kept.
pub(crate) fn interned(parts: &[&str]) -> Cow<'static, str> {
    INTERNED.get(parts)
}

/// Keeps at most `max` strings for the life of the process.
struct Interner {
    kept: RwLock<Vec<&'static str>>,
    max: usize,
}

impl Interner {
    const fn new(max: usize) -> Self {
        Self {
            kept: RwLock::new(Vec::new()),
            max,
        }
    }

    fn get(&self, parts: &[&str]) -> Cow<'static, str> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let is = |kept: &&&'static str| {
            let mut rest: &str = kept;
            rest.len() == len
                && parts.iter().all(|p| match rest.strip_prefix(p) {
                    Some(after) => {
                        rest = after;
                        true
                    }
                    None => false,
                })
        };
        if let Some(kept) = self
            .kept
            .read()
            .ok()
            .and_then(|all| all.iter().find(is).copied())
        {
            return Cow::Borrowed(kept);
        }
        let joined = parts.concat();
        let Ok(mut all) = self.kept.write() else {
            return Cow::Owned(joined);
        };
        if let Some(kept) = all.iter().find(is) {
            return Cow::Borrowed(*kept);
        }
        if all.len() >= self.max {
            return Cow::Owned(joined);
        }
        let kept: &'static str = Box::leak(joined.into_boxed_str());
        all.push(kept);
        Cow::Borrowed(kept)
    }
}

/// A sampling decision that arrived without a parent span (B3 `b3: 0|1|d`), carried in the
/// parent [`Context`] of a new root span so the sampler can honour it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DecisionOnly(pub bool);

/// The configured sampler, except that a root span whose caller already decided (see
/// [`DecisionOnly`]) follows that decision: the downstream services will follow it too.
#[derive(Clone, Debug)]
struct DecidedFirst(Sampler);

impl ShouldSample for DecidedFirst {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let forced = parent_context
            .filter(|cx| !cx.has_active_span())
            .and_then(|cx| cx.get::<DecisionOnly>());
        match forced {
            Some(DecisionOnly(sampled)) => SamplingResult {
                decision: if *sampled {
                    SamplingDecision::RecordAndSample
                } else {
                    SamplingDecision::Drop
                },
                attributes: Vec::new(),
                trace_state: opentelemetry::trace::TraceState::default(),
            },
            None => {
                self.0
                    .should_sample(parent_context, trace_id, name, span_kind, attributes, links)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(cow: Cow<'static, str>) -> Option<*const u8> {
        match cow {
            Cow::Borrowed(s) => Some(s.as_ptr()),
            Cow::Owned(_) => None,
        }
    }

    #[test]
    fn interned_text_is_the_joined_parts_and_is_shared() {
        let a = interned(&["GET", " ", "/interned-test/{id}"]);
        let b = interned(&["GET /interned-test/", "{id}"]);
        assert_eq!(a, "GET /interned-test/{id}");
        assert_eq!(b, a);
        assert!(shared(a.clone()).is_some());
        assert_eq!(shared(a.clone()), shared(b.clone()));
        // Prefixes and extensions of a kept string are different strings.
        assert_eq!(interned(&["GET /interned-test/"]), "GET /interned-test/");
        assert_eq!(
            interned(&["GET /interned-test/{id}", "x"]),
            "GET /interned-test/{id}x"
        );
        assert_eq!(interned(&[]), "");
    }

    #[test]
    fn interning_is_bounded() {
        let interner = Interner::new(3);
        let mut kept = 0;
        for i in 0..10 {
            let text = format!("bounded-{i}");
            let first = interner.get(&[&text]);
            let again = interner.get(&["bounded-", &i.to_string()]);
            assert_eq!(first, text);
            assert_eq!(again, text);
            if shared(first.clone()).is_some() && shared(first.clone()) == shared(again.clone()) {
                kept += 1;
            }
        }
        assert_eq!(kept, 3);
        assert_eq!(interner.kept.read().map(|all| all.len()).ok(), Some(3));
    }
}
