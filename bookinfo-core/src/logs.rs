//! Keeping logs bounded when clients or backends misbehave.
//!
//! * [`Throttle`]: at most one warning of a kind per interval, the next one saying how many
//!   were suppressed in between, so a backend that stays down, or a client that keeps sending
//!   garbage, costs a few lines a minute rather than one per request.
//! * [`truncated`]: a request-controlled value (a path, a method) cut to a bounded length for a
//!   log line, saying how much was cut.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How often a throttled warning of one kind may be written.
pub const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// Longest request-controlled value written to a log line, in bytes.
pub const MAX_LOGGED: usize = 256;

/// Rate limit for repeated warnings, keyed by a fixed set of kinds (string literals chosen by
/// the caller, so the map stays as small as the code that uses it).
#[derive(Debug)]
pub struct Throttle {
    interval: Duration,
    kinds: Mutex<Option<HashMap<&'static str, Window>>>,
}

#[derive(Debug)]
struct Window {
    last: Instant,
    suppressed: u64,
}

impl Throttle {
    /// A throttle allowing one warning of each kind per `interval`.
    pub const fn new(interval: Duration) -> Self {
        Self {
            interval,
            kinds: Mutex::new(None),
        }
    }

    /// Whether a warning of `kind` should be written now: `Some(n)` with the number of warnings
    /// of that kind suppressed since the last one written, `None` to suppress this one.
    pub fn allow(&self, kind: &'static str) -> Option<u64> {
        self.allow_at(kind, Instant::now())
    }

    fn allow_at(&self, kind: &'static str, now: Instant) -> Option<u64> {
        let mut kinds = self.kinds.lock().unwrap_or_else(PoisonError::into_inner);
        let kinds = kinds.get_or_insert_with(HashMap::new);
        match kinds.get_mut(kind) {
            None => {
                kinds.insert(
                    kind,
                    Window {
                        last: now,
                        suppressed: 0,
                    },
                );
                Some(0)
            }
            Some(w) if now.saturating_duration_since(w.last) >= self.interval => {
                let suppressed = w.suppressed;
                w.last = now;
                w.suppressed = 0;
                Some(suppressed)
            }
            Some(w) => {
                w.suppressed += 1;
                None
            }
        }
    }
}

/// The process-wide throttle for warnings about the same recurring condition.
pub static WARNINGS: Throttle = Throttle::new(WARN_INTERVAL);

/// Target of the warnings [`crate::throttled_warn!`] keeps out of the log. The log layer turns it off
/// ([`crate::telemetry::init`]); the trace bridge still records it on the request's span, so
/// every failed request explains itself in its trace while the log says it once per interval.
pub const SUPPRESSED_TARGET: &str = "bookinfo_core::logs::suppressed";

/// `tracing::warn!` at most once per [`WARN_INTERVAL`] for each `kind` (a string literal), with
/// a `suppressed` field counting the warnings of that kind left out since the last one. The
/// ones left out of the log still become events of the request's span (target
/// [`SUPPRESSED_TARGET`]).
///
/// ```
/// bookinfo_core::throttled_warn!("ratings-down", cause = "refused", "ratings unavailable");
/// ```
#[macro_export]
macro_rules! throttled_warn {
    ($kind:literal, $($rest:tt)+) => {
        if let Some(suppressed) = $crate::logs::WARNINGS.allow($kind) {
            ::tracing::warn!(suppressed, $($rest)+);
        } else {
            ::tracing::warn!(target: $crate::logs::SUPPRESSED_TARGET, $($rest)+);
        }
    };
}

/// `value` for a log line: itself when short, else its first [`MAX_LOGGED`] bytes (cut at a
/// character boundary) and how many bytes were left out.
pub fn truncated(value: &str) -> Cow<'_, str> {
    if value.len() <= MAX_LOGGED {
        return Cow::Borrowed(value);
    }
    let mut cut = MAX_LOGGED;
    while !value.is_char_boundary(cut) {
        cut -= 1;
    }
    Cow::Owned(format!("{}…(+{} bytes)", &value[..cut], value.len() - cut))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warning_per_interval_and_kind_with_the_count_left_out() {
        let t = Throttle::new(Duration::from_secs(10));
        let start = Instant::now();
        assert_eq!(t.allow_at("a", start), Some(0));
        for i in 1..=5 {
            assert_eq!(t.allow_at("a", start + Duration::from_secs(i)), None);
        }
        // Another kind is not held back by the first.
        assert_eq!(t.allow_at("b", start + Duration::from_secs(1)), Some(0));
        assert_eq!(t.allow_at("a", start + Duration::from_secs(10)), Some(5));
        assert_eq!(t.allow_at("a", start + Duration::from_secs(11)), None);
        assert_eq!(t.allow_at("a", start + Duration::from_secs(30)), Some(1));
    }

    #[test]
    fn long_values_are_cut_at_a_character_boundary() {
        assert_eq!(truncated("/productpage").to_string(), "/productpage");
        let long = "é".repeat(MAX_LOGGED);
        let shown = truncated(&long).to_string();
        assert!(shown.len() < MAX_LOGGED + 30, "{}", shown.len());
        assert!(
            shown.ends_with(&format!("…(+{} bytes)", MAX_LOGGED)),
            "{shown}"
        );
        let ascii = "a".repeat(64 * 1024);
        assert!(
            truncated(&ascii)
                .to_string()
                .ends_with(&format!("…(+{} bytes)", 64 * 1024 - MAX_LOGGED))
        );
    }
}
