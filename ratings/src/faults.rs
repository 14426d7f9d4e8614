//! Faults the service injects into itself, selected by `SERVICE_VERSION`.
//!
//! Upstream builds these images to demonstrate resilience features without a service mesh fault
//! rule: `v-faulty` fails a share of GETs, `v-delayed` answers a share of them late, and
//! `v-unavailable` / `v-unhealthy` flip between working and failing on a fixed period. Upstream
//! flips a flag from a timer; here the phase is derived from the time since start-up, which gives
//! the same schedule without a background task.

use std::time::{Duration, Instant};

use crate::config::{FaultSettings, Version};
use crate::error::RatingsError;

/// The fault schedule of this process.
#[derive(Debug)]
pub struct Faults {
    kind: Kind,
    started: Instant,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    None,
    Faulty { probability: f64 },
    Delayed { probability: f64, delay: Duration },
    Unavailable { period: Duration },
    Unhealthy { period: Duration },
}

impl Faults {
    /// The schedule for `version`, starting now.
    pub fn new(version: &Version, settings: &FaultSettings) -> Faults {
        let kind = match version {
            Version::Faulty => Kind::Faulty {
                probability: settings.probability,
            },
            Version::Delayed => Kind::Delayed {
                probability: settings.probability,
                delay: settings.delay,
            },
            Version::Unavailable => Kind::Unavailable {
                period: settings.period,
            },
            Version::Unhealthy => Kind::Unhealthy {
                period: settings.period,
            },
            Version::Memory | Version::Database => Kind::None,
        };
        Faults {
            kind,
            started: Instant::now(),
        }
    }

    /// Apply the fault, if any, to a `GET /ratings/<id>`: fail it, delay it, or let it through.
    /// Each injected fault is logged as a warning, so that the request's trace says why it
    /// failed or was late (an event on ratings' SERVER span).
    pub async fn before_get(&self) -> Result<(), RatingsError> {
        match &self.kind {
            Kind::Faulty { probability } if coin(*probability) => {
                tracing::warn!(fault = "abort", "injected fault: answering 503");
                Err(RatingsError::Unavailable)
            }
            Kind::Delayed { probability, delay } if coin(*probability) => {
                tracing::warn!(
                    fault = "delay",
                    delay_s = delay.as_secs_f64(),
                    "injected fault: answering late"
                );
                tokio::time::sleep(*delay).await;
                Ok(())
            }
            Kind::Unavailable { period } | Kind::Unhealthy { period }
                if in_failing_phase(self.started.elapsed(), *period) =>
            {
                tracing::warn!(
                    fault = "unavailable",
                    period_s = period.as_secs_f64(),
                    "injected fault: unavailable for this period"
                );
                Err(RatingsError::Unavailable)
            }
            _ => Ok(()),
        }
    }

    /// Whether `/health` reports healthy (only `v-unhealthy` ever reports otherwise).
    pub fn healthy(&self) -> bool {
        match &self.kind {
            Kind::Unhealthy { period } => !in_failing_phase(self.started.elapsed(), *period),
            _ => true,
        }
    }
}

/// True with the given probability (0 never, 1 always).
fn coin(probability: f64) -> bool {
    rand::random::<f64>() < probability
}

/// Phases alternate every `period`, starting with the working one.
fn in_failing_phase(elapsed: Duration, period: Duration) -> bool {
    let period = period.as_nanos().max(1);
    (elapsed.as_nanos() / period) % 2 == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_alternate_starting_available() {
        let p = Duration::from_secs(60);
        let at = |s: f64| in_failing_phase(Duration::from_secs_f64(s), p);
        assert!(!at(0.0));
        assert!(!at(59.9));
        assert!(at(60.0));
        assert!(at(119.9));
        assert!(!at(120.0));
        assert!(at(180.5));
    }

    #[test]
    fn coin_extremes_are_certain() {
        assert!((0..1000).all(|_| coin(1.0)));
        assert!((0..1000).all(|_| !coin(0.0)));
    }

    #[test]
    fn memory_and_database_have_no_faults() {
        let s = FaultSettings {
            probability: 1.0,
            delay: Duration::from_secs(7),
            period: Duration::from_nanos(1),
        };
        for v in [Version::Memory, Version::Database] {
            let f = Faults::new(&v, &s);
            assert_eq!(f.kind, Kind::None);
            assert!(f.healthy());
        }
        assert!(matches!(
            Faults::new(&Version::Unavailable, &s).kind,
            Kind::Unavailable { .. }
        ));
    }
}
