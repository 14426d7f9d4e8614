//! The text log format written when standard output is not a terminal (a file, a pipe, a
//! container's log): the same layout as `tracing-subscriber`'s default text format without
//! colour, written with fewer formatting calls.
//!
//! ```text
//! 2026-12-05T21:57:32.127489Z  INFO svc{service=details version=v1}: access: request method=GET path=/details/0 route=/details/{*rest} status=200 duration_ms=0.054
//! ```
//!
//! Every service writes one access line per request, so this is on every request's path. The
//! default formatter styles each part through `nu-ansi-term` even when colour is off, and
//! writes every field through `fmt::Debug`. This one writes strings and numbers directly.
//! Measured gain (callgrind, `GET /details/0` alone): 52,500 to 44,200 instructions per
//! request, 16 % of all details does per request; see docs/performance.md.
//!
//! Values are written bare when they are short tokens (letters, digits and `-_./:{}*[]@%+,`),
//! and otherwise quoted with Rust's string escaping, so a value can never end a line or fake a
//! field: a client-controlled path with a space or a control character shows up quoted.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The event formatter (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub struct TextLines;

/// The field formatter: `key=value` pairs separated by spaces; the `message` field bare and
/// first.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextFields;

impl<S, N> FormatEvent<S, N> for TextLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write_timestamp(&mut w, SystemTime::now())?;
        w.write_str(level_label(*event.metadata().level()))?;
        let service = SERVICE.get();
        w.write_str(service)?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                if !service.is_empty() && is_service_span(span.metadata()) {
                    continue;
                }
                w.write_str(span.name())?;
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    w.write_char('{')?;
                    w.write_str(fields)?;
                    w.write_char('}')?;
                }
                w.write_str(": ")?;
            }
        }
        write_request_ids(&mut w)?;
        w.write_str(event.metadata().target())?;
        w.write_str(": ")?;
        ctx.format_fields(w.by_ref(), event)?;
        w.write_char('\n')
    }
}

thread_local! {
    /// The label of the service whose request this thread is working on (see [`InService`]), or
    /// nothing.
    static SERVICE: Cell<&'static str> = const { Cell::new("") };
}

/// What a service's log span looks like at the start of a line: `svc{service=… version=…}: `.
pub(crate) fn service_label(name: &str, version: &str) -> String {
    format!("svc{{service={name} version={version}}}: ")
}

/// Whether `span` is a service's log span (`crate::server::ServiceId::span`), which the label
/// of [`InService`] stands for.
fn is_service_span(span: &tracing::Metadata<'_>) -> bool {
    span.name() == "svc" && span.target() == crate::trace::bridge::LOG_CONTEXT
}

pin_project_lite::pin_project! {
    /// `inner`, with `label` (from [`service_label`]) at the start of every line [`TextLines`]
    /// writes while `inner` is polled or dropped: the text format's stand-in for the service's
    /// log span, which the other formats get entered around each request. Entering and leaving
    /// that shared span on every poll, and on the request future's drop, costs a look-up in the
    /// subscriber's span registry and an atomic reference count each time; a thread-local costs
    /// neither. Measured gain (callgrind, page views, pass-through, release builds): details
    /// from 44,500 to 41,100 instructions per request, productpage from 217,900 to 208,800 per
    /// page (docs/performance.md, “Fourth round”).
    pub(crate) struct InService<F> {
        label: &'static str,
        #[pin]
        inner: Option<F>,
    }

    impl<F> PinnedDrop for InService<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            let outer = SERVICE.replace(this.label);
            this.inner.set(None);
            SERVICE.set(outer);
        }
    }
}

impl<F> InService<F> {
    pub(crate) fn new(label: &'static str, inner: F) -> Self {
        Self {
            label,
            inner: Some(inner),
        }
    }
}

impl<F: Future> Future for InService<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let Some(inner) = this.inner.as_pin_mut() else {
            return Poll::Pending;
        };
        let outer = SERVICE.replace(this.label);
        let polled = inner.poll(cx);
        SERVICE.set(outer);
        polled
    }
}

impl<'w> FormatFields<'w> for TextFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = Fields {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

/// Writes `key=value` pairs; remembers the first write error.
struct Fields<'w> {
    writer: Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl Fields<'_> {
    fn key(&mut self, field: &Field) -> fmt::Result {
        if !self.first {
            self.writer.write_char(' ')?;
        }
        self.first = false;
        if field.name() == "message" {
            return Ok(());
        }
        self.writer.write_str(field.name())?;
        self.writer.write_char('=')
    }

    fn put(&mut self, field: &Field, write: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = self.key(field).and_then(|()| write(&mut self.writer));
        }
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let message = field.name() == "message";
        self.put(field, |w| {
            if message || is_token(value) {
                w.write_str(value)
            } else {
                write!(w, "{value:?}")
            }
        });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, |w| w.write_str(itoa::Buffer::new().format(value)));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, |w| w.write_str(itoa::Buffer::new().format(value)));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, |w| w.write_str(if value { "true" } else { "false" }));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, |w| write!(w, "{value:?}"));
    }
}

/// `request{trace_id=… span_id=…}: ` when the line is written while a participating request is
/// served: the ids of its SERVER span, read from the OpenTelemetry context that the tracing
/// middleware makes current for the request (`crate::trace::server`). The other log formats
/// get the same label from a span per request ([`crate::server`]); reading the context here
/// instead saves formatting the ids into that span and making, recording and closing it:
/// 5,700 of details' 55,700 instructions per participating request (callgrind,
/// `GET /details/0` alone; docs/performance.md).
fn write_request_ids(w: &mut Writer<'_>) -> fmt::Result {
    use opentelemetry::trace::TraceContextExt as _;
    opentelemetry::Context::map_current(|cx| {
        if !cx.has_active_span() {
            return Ok(());
        }
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return Ok(());
        }
        w.write_str("request{trace_id=")?;
        write_hex(w, u128::from_be_bytes(sc.trace_id().to_bytes()), 32)?;
        w.write_str(" span_id=")?;
        write_hex(
            w,
            u128::from(u64::from_be_bytes(sc.span_id().to_bytes())),
            16,
        )?;
        w.write_str("}: ")
    })
}

/// The low `digits` hex digits of `value`, as the propagation headers write ids.
fn write_hex(w: &mut Writer<'_>, value: u128, digits: usize) -> fmt::Result {
    let (text, start) = bookinfo_propagation::hex_digits(value, digits);
    w.write_str(std::str::from_utf8(&text[start..]).map_err(|_| fmt::Error)?)
}

/// Whether `value` can be written without quotes: non-empty, short, and made only of characters
/// that cannot be mistaken for the line's own structure.
fn is_token(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 256
        && value.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'_'
                        | b'.'
                        | b'/'
                        | b':'
                        | b'{'
                        | b'}'
                        | b'*'
                        | b'['
                        | b']'
                        | b'@'
                        | b'%'
                        | b'+'
                        | b','
                )
        })
}

/// The level, padded as the default format pads it, with the separators around it.
fn level_label(level: Level) -> &'static str {
    match level {
        Level::TRACE => " TRACE ",
        Level::DEBUG => " DEBUG ",
        Level::INFO => "  INFO ",
        Level::WARN => "  WARN ",
        Level::ERROR => " ERROR ",
    }
}

/// `2026-12-05T21:57:32.127489Z`: UTC, microseconds.
fn write_timestamp(w: &mut Writer<'_>, now: SystemTime) -> fmt::Result {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = civil_date(secs / 86_400);
    let of_day = secs % 86_400;
    let mut text = [0u8; 27];
    put_digits(&mut text[0..4], u64::from(year));
    text[4] = b'-';
    put_digits(&mut text[5..7], u64::from(month));
    text[7] = b'-';
    put_digits(&mut text[8..10], u64::from(day));
    text[10] = b'T';
    put_digits(&mut text[11..13], of_day / 3600);
    text[13] = b':';
    put_digits(&mut text[14..16], of_day / 60 % 60);
    text[16] = b':';
    put_digits(&mut text[17..19], of_day % 60);
    text[19] = b'.';
    put_digits(&mut text[20..26], u64::from(since.subsec_micros()));
    text[26] = b'Z';
    // Only ASCII digits and separators were written.
    w.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
}

/// Write `value`'s last `out.len()` decimal digits into `out`, zero-padded.
fn put_digits(out: &mut [u8], mut value: u64) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + u8::try_from(value % 10).unwrap_or(0);
        value /= 10;
    }
}

/// The proleptic Gregorian date of a day counted from 1970-01-01, by the usual era arithmetic
/// (400-year cycles of 146,097 days, years starting in March so the leap day comes last).
fn civil_date(days: u64) -> (u32, u32, u32) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let march_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * march_month + 2) / 5 + 1;
    let month = if march_month < 10 {
        march_month + 3
    } else {
        march_month - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (
        u32::try_from(year).unwrap_or(u32::MAX),
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tracing::Instrument as _;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[test]
    fn dates_match_known_days() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(59), (1970, 3, 1));
        assert_eq!(civil_date(11_016), (2000, 2, 29));
        assert_eq!(civil_date(11_017), (2000, 3, 1));
        assert_eq!(civil_date(20_792), (2026, 12, 5));
        assert_eq!(civil_date(47_541), (2100, 3, 1));
    }

    #[test]
    fn timestamps_are_rfc3339_with_microseconds() {
        let at = UNIX_EPOCH + Duration::new(1_796_507_852, 127_489_321);
        let mut text = String::new();
        write_timestamp(&mut Writer::new(&mut text), at).unwrap();
        assert_eq!(text, "2026-12-05T21:57:32.127489Z");
    }

    /// Lines written through a real subscriber with this format.
    fn lines(emit: impl FnOnce()) -> String {
        #[derive(Clone)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink(Arc::default());
        let writer = sink.clone();
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .event_format(TextLines)
                .fmt_fields(TextFields)
                .with_writer(move || writer.clone()),
        );
        tracing::subscriber::with_default(subscriber, emit);
        let bytes = sink.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn a_line_has_time_level_scope_target_message_and_fields() {
        let text = lines(|| {
            let span = tracing::info_span!("svc", service = "details", version = "v1");
            let _in = span.enter();
            tracing::info!(
                target: "access",
                method = "GET",
                path = "/details/0",
                status = 200u16,
                ok = true,
                delta = -3i64,
                duration_ms = 0.5f64,
                "request"
            );
        });
        let (time, rest) = text.split_at(27);
        assert!(time.ends_with('Z') && time.as_bytes()[10] == b'T', "{text}");
        assert_eq!(
            rest,
            "  INFO svc{service=details version=v1}: access: request method=GET \
             path=/details/0 status=200 ok=true delta=-3 duration_ms=0.5\n"
        );
    }

    #[test]
    fn lines_of_a_service_s_future_carry_its_label_while_it_runs_and_is_dropped() {
        struct LogOnDrop;
        impl Drop for LogOnDrop {
            fn drop(&mut self) {
                tracing::warn!(target: "t", "dropped");
            }
        }
        let label: &'static str = Box::leak(service_label("details", "v1").into_boxed_str());
        let text = lines(|| {
            let mut cx = Context::from_waker(std::task::Waker::noop());
            let done = std::pin::pin!(InService::new(label, async {
                tracing::info!(target: "t", "inside");
            }));
            assert!(done.poll(&mut cx).is_ready());
            tracing::info!(target: "t", "outside");
            // Its own log span entered too: the label is written once.
            let span = tracing::info_span!(
                target: crate::trace::bridge::LOG_CONTEXT,
                "svc",
                service = "details",
                version = "v1"
            );
            let mut both = Box::pin(InService::new(
                label,
                async {
                    tracing::info!(target: "t", "both");
                }
                .instrument(span),
            ));
            assert!(both.as_mut().poll(&mut cx).is_ready());
            let mut pending = Box::pin(InService::new(label, async {
                let _guard = LogOnDrop;
                std::future::pending::<()>().await;
            }));
            assert!(pending.as_mut().poll(&mut cx).is_pending());
            drop(pending);
            tracing::info!(target: "t", "after");
        });
        let rest: Vec<&str> = text.lines().map(|l| &l[27..]).collect();
        assert_eq!(
            rest,
            [
                "  INFO svc{service=details version=v1}: t: inside",
                "  INFO t: outside",
                "  INFO svc{service=details version=v1}: t: both",
                "  WARN svc{service=details version=v1}: t: dropped",
                "  INFO t: after",
            ],
            "{text}"
        );
    }

    #[test]
    fn values_that_could_break_the_line_are_quoted() {
        let text = lines(|| {
            tracing::warn!(
                target: "t",
                path = "/a b\nfake=1",
                empty = "",
                "message stays bare"
            );
        });
        assert!(
            text.ends_with("  WARN t: message stays bare path=\"/a b\\nfake=1\" empty=\"\"\n"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 1);
    }
}
