//! A service's own work inside its spans: the `tracing` spans and log events written while a
//! request is served, carried into that request's trace.
//!
//! The SERVER and CLIENT spans of a request are made directly with the SDK ([`super::server`],
//! [`super::client`]). What a handler does in between is described with ordinary `tracing`
//! spans and events, and this module puts them in the trace:
//!
//! * **Spans** go through `tracing-opentelemetry`'s layer. Each `tracing` span becomes an
//!   OpenTelemetry span whose parent is the OpenTelemetry context current when it was opened:
//!   the request's SERVER span (the server middleware makes it current while the handler runs),
//!   or an enclosing bridged span. That layer builds every span with one tracer, but one process
//!   may run several services, each with its own tracer provider (the launcher, the tests). So
//!   the tracer it is given, [`RequestTracer`], has no provider of its own: it builds each span
//!   with the tracer the request's context names (a `Bridge`, put there by the middleware).
//!   Outside a participating request there is none, and the span is not recorded.
//! * **Log events** are added to the OpenTelemetry span current when they are written, by a
//!   small layer of our own ([`SpanEvents`]). The `tracing-opentelemetry` layer records events
//!   only onto spans it made itself, while most of a request's events (a backend that failed,
//!   a retry) happen directly under the SDK's SERVER span. Errors follow the exception
//!   conventions: an `exception` event with `exception.type` and `exception.message`.
//!
//! Both layers look only at the services' own code (the targets in [`OWN_TARGETS`]), and only
//! while a sampled participating request is served: in pass-through mode, outside requests and
//! in unsampled requests, a span or event is turned down after one thread-local lookup, before
//! anything is built.
//!
//! How much is bridged is chosen per service with `TRACE_DETAIL` ([`Detail`]).
//! docs/tracing-design.md, “A service's own work”, draws what each level adds to a page view.

use std::borrow::Cow;
use std::fmt;
use std::time::SystemTime;

use opentelemetry::trace::noop::{NoopSpan, NoopTracer};
use opentelemetry::trace::{SpanBuilder, SpanContext, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::SdkTracer;
use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{self, Filter, Layer};
use tracing_subscriber::registry::LookupSpan;

/// How much of a service's own work its traces show (`TRACE_DETAIL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Detail {
    /// Spans at INFO and above (the database calls) and events at WARN and above (failures,
    /// retries, injected faults). A page view's tree is the tree of hops, plus the database.
    #[default]
    Basic,
    /// Also DEBUG spans (page rendering) and INFO and DEBUG events.
    Full,
}

impl Detail {
    /// `basic` or `full`, in any case.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "basic" => Some(Self::Basic),
            "full" => Some(Self::Full),
            _ => None,
        }
    }

    /// The most verbose level of bridged spans.
    fn spans(self) -> Level {
        match self {
            Self::Basic => Level::INFO,
            Self::Full => Level::DEBUG,
        }
    }

    /// The most verbose level of bridged events.
    fn events(self) -> Level {
        match self {
            Self::Basic => Level::WARN,
            Self::Full => Level::DEBUG,
        }
    }
}

/// What the context of a participating request carries for the bridge: the tracer of the
/// service serving it and that service's [`Detail`].
#[derive(Debug)]
pub(crate) struct Bridge {
    tracer: SdkTracer,
    detail: Detail,
}

impl Bridge {
    /// The context every request of one service starts from.
    pub(crate) fn context(tracer: SdkTracer, detail: Detail) -> Context {
        Context::new().with_value(Self { tracer, detail })
    }
}

/// The code whose spans and events are bridged: the services and the shared runtime. Library
/// spans and events (HTTP, database drivers, the SDK itself) never are.
pub const OWN_TARGETS: &[&str] = &[
    "productpage",
    "details",
    "reviews",
    "ratings",
    "bookinfo_core",
];

/// The target of spans that only label log lines (the service, the request's ids): they are
/// not work, and never become spans of their own.
pub const LOG_CONTEXT: &str = "bookinfo::log_context";

fn own(meta: &Metadata<'_>) -> bool {
    own_target(meta.target())
}

fn own_target(target: &str) -> bool {
    OWN_TARGETS.iter().any(|own| {
        target
            .strip_prefix(own)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Span,
    Event,
}

/// Whether the current context is a sampled participating request that wants `kind` at `level`.
fn wanted(kind: Kind, level: &Level) -> bool {
    Context::map_current(|cx| {
        cx.get::<Bridge>().is_some_and(|bridge| {
            let most = match kind {
                Kind::Span => bridge.detail.spans(),
                Kind::Event => bridge.detail.events(),
            };
            *level <= most && cx.span().span_context().is_sampled()
        })
    })
}

/// Whether a `tracing` span at `level` opened here would become part of a trace. Code that would
/// otherwise build a span only to have it dropped (its fields formatted for the log, say) asks
/// first.
pub fn traced(level: Level) -> bool {
    wanted(Kind::Span, &level)
}

/// The per-layer filter of both bridge layers.
#[derive(Debug, Clone, Copy)]
struct Only(Kind);

impl Only {
    fn is_kind(self, meta: &Metadata<'_>) -> bool {
        match self.0 {
            Kind::Span => meta.is_span(),
            Kind::Event => meta.is_event(),
        }
    }
}

impl<S> Filter<S> for Only {
    fn enabled(&self, meta: &Metadata<'_>, _: &layer::Context<'_, S>) -> bool {
        self.is_kind(meta) && own(meta) && wanted(self.0, meta.level())
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.is_kind(meta) && own(meta) && *meta.level() <= Level::DEBUG {
            // Decided per span or event: it depends on the request being served.
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::DEBUG)
    }
}

/// Both bridge layers, for the process-wide subscriber ([`crate::telemetry::init`]).
pub fn layer<S>() -> impl Layer<S> + Send + Sync + 'static
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync + 'static,
{
    let spans = tracing_opentelemetry::layer()
        .with_tracer(RequestTracer)
        // Few attributes: each is built and exported for every span. Code locations, thread
        // names and busy/idle times add nothing a reader of a BookInfo trace needs.
        .with_location(false)
        .with_threads(false)
        .with_tracked_inactivity(false)
        .with_target(false)
        .with_filter(Only(Kind::Span));
    spans.and_then(SpanEvents.with_filter(Only(Kind::Event)))
}

/// The tracer given to `tracing-opentelemetry`: it builds each span with the tracer of the
/// service whose request the parent context belongs to, and builds an unrecorded span when the
/// parent belongs to no participating request.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestTracer;

impl Tracer for RequestTracer {
    type Span = BridgedSpan;

    fn build_with_context(&self, builder: SpanBuilder, parent_cx: &Context) -> BridgedSpan {
        match parent_cx.get::<Bridge>() {
            Some(bridge) => {
                BridgedSpan::Recorded(bridge.tracer.build_with_context(builder, parent_cx))
            }
            None => {
                BridgedSpan::Unrecorded(NoopTracer::new().build_with_context(builder, parent_cx))
            }
        }
    }
}

/// A span built by [`RequestTracer`].
#[derive(Debug)]
// The recorded span is the case that matters; boxing it would cost an allocation per span to
// save a few bytes on spans that are dropped at once.
#[allow(clippy::large_enum_variant)]
pub enum BridgedSpan {
    Recorded(opentelemetry_sdk::trace::Span),
    Unrecorded(NoopSpan),
}

impl opentelemetry::trace::Span for BridgedSpan {
    fn add_event_with_timestamp<T>(
        &mut self,
        name: T,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    ) where
        T: Into<Cow<'static, str>>,
    {
        match self {
            Self::Recorded(s) => s.add_event_with_timestamp(name, timestamp, attributes),
            Self::Unrecorded(s) => s.add_event_with_timestamp(name, timestamp, attributes),
        }
    }

    fn span_context(&self) -> &SpanContext {
        match self {
            Self::Recorded(s) => s.span_context(),
            Self::Unrecorded(s) => s.span_context(),
        }
    }

    fn is_recording(&self) -> bool {
        match self {
            Self::Recorded(s) => s.is_recording(),
            Self::Unrecorded(s) => s.is_recording(),
        }
    }

    fn set_attribute(&mut self, attribute: KeyValue) {
        match self {
            Self::Recorded(s) => s.set_attribute(attribute),
            Self::Unrecorded(s) => s.set_attribute(attribute),
        }
    }

    fn set_status(&mut self, status: Status) {
        match self {
            Self::Recorded(s) => s.set_status(status),
            Self::Unrecorded(s) => s.set_status(status),
        }
    }

    fn update_name<T>(&mut self, new_name: T)
    where
        T: Into<Cow<'static, str>>,
    {
        match self {
            Self::Recorded(s) => s.update_name(new_name),
            Self::Unrecorded(s) => s.update_name(new_name),
        }
    }

    fn add_link(&mut self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        match self {
            Self::Recorded(s) => s.add_link(span_context, attributes),
            Self::Unrecorded(s) => s.add_link(span_context, attributes),
        }
    }

    fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        match self {
            Self::Recorded(s) => s.end_with_timestamp(timestamp),
            Self::Unrecorded(s) => s.end_with_timestamp(timestamp),
        }
    }
}

/// Adds each log event to the OpenTelemetry span current where it is written: the SERVER span
/// of the request, or the bridged span the event is written in.
///
/// The event is named by its message. Its fields become attributes (`error.type` and a `cause`
/// or `error` field included), plus `level`. An ERROR event is an exception instead
/// (OpenTelemetry's exception conventions): an `exception` event whose `exception.message` is
/// the message followed by the cause, and whose `exception.type` is the event's `error.type`
/// field, or else the module that wrote it.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpanEvents;

impl<S: Subscriber> Layer<S> for SpanEvents {
    fn on_event(&self, event: &Event<'_>, _: layer::Context<'_, S>) {
        let mut fields = EventFields::default();
        event.record(&mut fields);
        let (name, attributes) = fields.into_event(event.metadata());
        Context::map_current(|cx| cx.span().add_event(name, attributes));
    }
}

/// An event's fields, sorted for [`SpanEvents`].
#[derive(Debug, Default)]
struct EventFields {
    message: Option<String>,
    /// A `cause` or `error` field: (name, text).
    cause: Option<(&'static str, String)>,
    error_type: Option<String>,
    rest: Vec<KeyValue>,
}

impl EventFields {
    fn text(&mut self, field: &Field, text: String) {
        match field.name() {
            "message" => self.message = Some(text),
            name @ ("cause" | "error") => self.cause = Some((name, text)),
            "error.type" => self.error_type = Some(text),
            name => self.rest.push(KeyValue::new(name, text)),
        }
    }

    fn into_event(self, meta: &'static Metadata<'static>) -> (Cow<'static, str>, Vec<KeyValue>) {
        let Self {
            message,
            cause,
            error_type,
            mut rest,
        } = self;
        if *meta.level() == Level::ERROR {
            let message = match (message, cause) {
                (Some(message), Some((_, cause))) => format!("{message}: {cause}"),
                (Some(text), None) | (None, Some((_, text))) => text,
                (None, None) => meta.name().to_owned(),
            };
            let kind = error_type.unwrap_or_else(|| meta.target().to_owned());
            rest.push(KeyValue::new("exception.type", kind));
            rest.push(KeyValue::new("exception.message", message));
            return (Cow::Borrowed("exception"), rest);
        }
        if let Some((name, cause)) = cause {
            rest.push(KeyValue::new(name, cause));
        }
        if let Some(kind) = error_type {
            rest.push(KeyValue::new("error.type", kind));
        }
        rest.push(KeyValue::new("level", meta.level().as_str()));
        let name = message.map_or(Cow::Borrowed(meta.name()), Cow::Owned);
        (name, rest)
    }
}

impl Visit for EventFields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.text(field, format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, value.to_owned());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.text(field, crate::client::error_chain(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.rest.push(KeyValue::new(field.name(), value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match i64::try_from(value) {
            Ok(value) => self.rest.push(KeyValue::new(field.name(), value)),
            Err(_) => self.text(field, value.to_string()),
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.rest.push(KeyValue::new(field.name(), value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.rest.push(KeyValue::new(field.name(), value));
    }
}

/// `future`, run in the OpenTelemetry context current now: for work a request hands to another
/// task (`tokio::spawn` starts the task in an empty context), so that its spans and events still
/// land in the request's trace.
pub fn carry<F: std::future::Future>(future: F) -> opentelemetry::context::WithContext<F> {
    opentelemetry::context::FutureExt::with_current_context(future)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use opentelemetry::trace::{
        Span as _, SpanId, TraceFlags, TraceId, TraceState, TracerProvider,
    };
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// A request's context as the server middleware makes it: a remote parent, this service's
    /// bridge.
    fn request(detail: Detail, sampled: bool) -> Context {
        let tracer = SdkTracerProvider::builder().build().tracer("test");
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        let parent = SpanContext::new(
            TraceId::from(7u128),
            SpanId::from(9u64),
            flags,
            true,
            TraceState::default(),
        );
        Bridge::context(tracer, detail).with_remote_span_context(parent)
    }

    #[test]
    fn the_request_and_its_detail_decide_what_is_bridged() {
        assert!(!traced(Level::ERROR), "outside a request nothing is");
        {
            let _in = request(Detail::Basic, true).attach();
            assert!(traced(Level::INFO));
            assert!(!traced(Level::DEBUG));
            assert!(wanted(Kind::Event, &Level::WARN));
            assert!(!wanted(Kind::Event, &Level::INFO));
        }
        {
            let _in = request(Detail::Full, true).attach();
            assert!(traced(Level::DEBUG));
            assert!(wanted(Kind::Event, &Level::DEBUG));
            assert!(!traced(Level::TRACE));
        }
        {
            let _in = request(Detail::Full, false).attach();
            assert!(
                !traced(Level::ERROR),
                "an unsampled request bridges nothing"
            );
        }
        assert!(!traced(Level::ERROR));
    }

    #[test]
    fn spans_are_built_by_the_tracer_the_parent_names() {
        let recorded = RequestTracer.build_with_context(
            SpanBuilder::from_name("work"),
            &request(Detail::Basic, true),
        );
        assert!(recorded.is_recording());
        assert_eq!(recorded.span_context().trace_id(), TraceId::from(7u128));
        let dropped =
            RequestTracer.build_with_context(SpanBuilder::from_name("work"), &Context::new());
        assert!(!dropped.is_recording());
    }

    #[test]
    fn own_code_only() {
        for target in ["ratings", "ratings::db::mysql", "bookinfo_core::trace::db"] {
            assert!(own_target(target), "{target}");
        }
        for target in [
            "ratings_extra",
            "mysql_async::conn",
            "access",
            LOG_CONTEXT,
            "opentelemetry_sdk",
        ] {
            assert!(!own_target(target), "{target}");
        }
    }

    type Seen = Arc<Mutex<Vec<(String, Vec<(String, String)>)>>>;

    /// What [`SpanEvents`] would add for each event.
    struct Capture(Seen);

    impl<S: Subscriber> Layer<S> for Capture {
        fn on_event(&self, event: &Event<'_>, _: layer::Context<'_, S>) {
            let mut fields = EventFields::default();
            event.record(&mut fields);
            let (name, attributes) = fields.into_event(event.metadata());
            let attributes = attributes
                .into_iter()
                .map(|kv| (kv.key.to_string(), kv.value.to_string()))
                .collect();
            if let Ok(mut seen) = self.0.lock() {
                seen.push((name.into_owned(), attributes));
            }
        }
    }

    #[test]
    fn warnings_are_events_and_errors_are_exceptions() {
        let seen = Seen::default();
        let subscriber = tracing_subscriber::registry().with(Capture(seen.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(destination = "reviews", attempt = 1u32, "retrying");
            tracing::error!(
                error.type = "ratings::RatingsError::SelectFailed",
                cause = "denied",
                "could not perform select"
            );
            tracing::error!(cause = "gone", "lost");
        });
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
        assert_eq!(
            seen,
            [
                (
                    "retrying".to_owned(),
                    pairs(&[
                        ("destination", "reviews"),
                        ("attempt", "1"),
                        ("level", "WARN")
                    ])
                ),
                (
                    "exception".to_owned(),
                    pairs(&[
                        ("exception.type", "ratings::RatingsError::SelectFailed"),
                        ("exception.message", "could not perform select: denied"),
                    ])
                ),
                (
                    "exception".to_owned(),
                    pairs(&[
                        ("exception.type", "bookinfo_core::trace::bridge::tests"),
                        ("exception.message", "lost: gone"),
                    ])
                ),
            ]
        );
    }
}
