//! Logging set-up.
//!
//! [`init`] installs one `tracing` subscriber for the process: human-readable lines by default,
//! one JSON object per line with `LOG_FORMAT=json`, filtered by `RUST_LOG` (default `info`).
//! Lines written while a request is served carry its `trace_id` and `span_id` (see
//! [`crate::trace::server`]). Unless standard output is a terminal, a runtime worker gathers its
//! lines and writes them when it runs out of work (`batched`; warnings and errors at once), so a
//! service that has nothing to do has written every line. Span export is per service
//! ([`crate::trace::Tracing`]) and flushed by each service's `run` after it drains.
//!
//! The same subscriber carries the services' own spans and events into their traces
//! ([`crate::trace::bridge`]). `RUST_LOG` filters the log lines only: what a trace shows is set
//! per service by `TRACE_DETAIL`, so quieting the log does not empty the traces.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

mod batched;
mod text;

pub use batched::{finish_thread, flush_thread};
pub(crate) use text::{InService, service_label};
pub use text::{TextFields, TextLines};

use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry};

use crate::config::{ConfigErrors, EnvReader, Lookup};

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Telemetry settings, read from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryConfig {
    pub service: String,
    pub log_format: LogFormat,
    pub filter: String,
}

impl TelemetryConfig {
    pub fn from_env(service: &str, lookup: &dyn Lookup) -> Result<Self, ConfigErrors> {
        let mut env = EnvReader::new(lookup);
        let log_format = match env
            .string("LOG_FORMAT", "text")
            .to_ascii_lowercase()
            .as_str()
        {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                env.error(
                    "LOG_FORMAT",
                    format!("{other:?} is not one of `text`, `json`"),
                );
                LogFormat::Text
            }
        };
        let filter = env.string("RUST_LOG", "info");
        if EnvFilter::try_new(&filter).is_err() {
            env.error("RUST_LOG", format!("{filter:?} is not a valid log filter"));
        }
        env.finish(Self {
            service: service.to_owned(),
            log_format,
            filter,
        })
    }
}

/// Which events become log lines: `RUST_LOG` (`directives`; `info` when invalid), except the
/// warnings the throttle keeps out of the log, whatever `RUST_LOG` says (they still reach the
/// traces: [`crate::logs::SUPPRESSED_TARGET`]).
pub fn log_filter(directives: &str) -> EnvFilter {
    let off = format!("{}=off", crate::logs::SUPPRESSED_TARGET);
    EnvFilter::try_new(format!("{directives},{off}"))
        .unwrap_or_else(|_| EnvFilter::new(format!("info,{off}")))
}

/// Install the process-wide subscriber, writing to standard output. A second call (tests, the
/// all-in-one launcher) keeps the first subscriber.
///
/// Text lines are coloured only when standard output is a terminal: a log file or a container's
/// log collector gets plain text, not escape codes, written by [`TextLines`] (the same layout,
/// at a fraction of the cost per line).
pub fn init(config: &TelemetryConfig) {
    let colour = std::io::stdout().is_terminal();
    let filter = log_filter(&config.filter);
    let lines: Box<dyn Layer<Registry> + Send + Sync> = match config.log_format {
        LogFormat::Text if colour => tracing_subscriber::fmt::layer()
            .with_target(true)
            .with_ansi(true)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .event_format(TextLines)
            .fmt_fields(TextFields)
            .with_writer(batched::Batched)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(batched::Batched)
            .with_ansi(false)
            .flatten_event(true)
            .with_current_span(true)
            .boxed(),
    };
    let installed = tracing_subscriber::registry()
        .with(lines.with_filter(filter))
        .with(crate::trace::bridge::layer())
        .try_init()
        .is_ok();
    if installed && (colour || config.log_format == LogFormat::Json) {
        CONTEXT_IN_SPANS.store(true, Ordering::Relaxed);
    }
}

/// Whether the process's log lines show only what spans hold: the service serving a request
/// and, in participating mode, the request's ids. [`TextLines`] reads the ids from the request's
/// OpenTelemetry context and the service from [`InService`]; the coloured and JSON formats of
/// `tracing-subscriber` need the service's log span entered, and a span per participating
/// request holding its ids.
static CONTEXT_IN_SPANS: AtomicBool = AtomicBool::new(false);

pub(crate) fn context_in_spans() -> bool {
    CONTEXT_IN_SPANS.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_format_is_validated() {
        let ok = TelemetryConfig::from_env("details", &[("LOG_FORMAT", "JSON")]).unwrap();
        assert_eq!(ok.log_format, LogFormat::Json);
        let bad = TelemetryConfig::from_env("details", &[("LOG_FORMAT", "xml")]).unwrap_err();
        assert!(bad.mentions("LOG_FORMAT"));
    }
}
