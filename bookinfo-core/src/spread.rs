//! How an outbound client uses its connections, so that successive calls spread over every
//! version behind one name wherever balancing is decided per connection.
//!
//! # Why
//!
//! A Kubernetes Service without a mesh (kube-proxy picks a backend for each new connection),
//! Istio's ambient mode without a waypoint (ztunnel balances per TCP connection) and docker
//! compose (the client picks one of the addresses Docker's DNS answers, per connection) all
//! decide once per connection. A client that keeps one pooled keep-alive connection then sends
//! every call to the same backend: refreshing the product page never changes the reviews
//! version. Upstream's productpage and reviews open a new connection per call, on purpose.
//!
//! # The design: connections retired after use, at a bounded rate
//!
//! Calls use ordinary pooled keep-alive connections, but a call may *retire* its connection:
//! it sends `Connection: close`, so the connection is closed after the answer and the next call
//! opens a new one, which the balancer places afresh. Retirements are rationed per destination
//! by a token bucket ([`RETIRE_BURST`] at once, [`RETIRE_RATE`] per second after that):
//!
//! * at the pace of people and demo scripts (a refresh, a `curl` loop, 30 page views in a row)
//!   every call retires its connection, so every call is placed afresh exactly as upstream's
//!   connection per call is, under a random balancer and a round-robin one alike;
//! * under load the budget runs out and calls reuse pooled connections; there are then as many
//!   connections as concurrent calls, each placed independently, so load spreads too, and the
//!   few retirements per second keep replacing them, so new pods get traffic within seconds.
//!
//! Fixed sets of long-lived connections ("lanes") do not meet the first point: with a random
//! balancer, the versions a small set lands on are themselves a draw. With 30 views spread
//! round-robin over 3, 6 or 12 connections placed at random among three versions, some version
//! gets fewer than 5 views in 78 %, 26 % and 25 % of cases; with a connection per call (as
//! here, at demo pace) in 3.7 %, the balancer's own luck.
//!
//! Host names are resolved for every new connection, and when the answer has several
//! addresses (docker compose gives every container of a name), new connections take them in
//! turn: sorted, then rotated by a per-name counter, so none is left out and none depends on
//! the resolver's order (glibc sorts answers by address rules, which would pin one).
//!
//! # What it costs
//!
//! `GET /productpage` at 64 connections, reviews v2 (three backend calls per page), the four
//! services as separate release processes on loopback, 20 s per policy, one run of
//! `scripts/bench-connections.sh` on a 2-core machine that wrk and other builds were sharing
//! (load average 8 to 12, so only the ratios mean much):
//!
//! | `BACKEND_CONNECTIONS` | pages/s | p50 | p99 |
//! | --- | ---: | ---: | ---: |
//! | `pooled` | 5885 | 9.5 ms | 81.9 ms |
//! | `spread` (default) | 7421 | 8.0 ms | 33.9 ms |
//! | `per-call` | 1677 | 35.5 ms | 107.3 ms |
//!
//! On that loaded machine `spread` cost nothing measurable against `pooled` (a second run gave
//! 6925 and 7341 pages/s, p99 67 and 36 ms), while a connection per call cut throughput to
//! about a quarter. Alternating short rounds on a quiet machine later showed the retirements'
//! cost at the first rate of 100 a second: [`RETIRE_RATE`] has the figures.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper_util::client::legacy::connect::dns::Name;

/// How many calls in a row may each retire their connection before the rate applies. A demo's
/// burst of page views (istio.io's scripts send up to 100, a test 30) stays within it or close.
pub const RETIRE_BURST: u32 = 64;

/// Retirements per second per destination once the burst is spent. Under load this is what
/// `spread` costs over `pooled`: at 100 a second, pooled connections gave 1.06 times the page
/// throughput (median of 7 alternating rounds, 16 connections, `GET /productpage` with reviews
/// v2). At 20, the page throughput rose by 1.034 and 1.035 (9 rounds at 16 and at 64
/// connections), and pooled was 1.025 times ahead (15 rounds; the same stack against itself
/// spreads by ±0.08 per round). At this rate the 64 connections of a loaded caller are all
/// replaced within about three seconds, so new pods still get traffic promptly. Faster demo
/// traffic still spreads: a connection then serves a few calls in a row.
pub const RETIRE_RATE: u32 = 20;

/// How an outbound client uses connections (`BACKEND_CONNECTIONS`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Connections {
    /// Keep-alive connections, retired after use at a bounded rate (see the module docs).
    #[default]
    Spread,
    /// Keep-alive connections reused for as long as they stay open: the cheapest, but behind a
    /// per-connection balancer a client sticks to one backend.
    Pooled,
    /// A new connection for every call, as upstream's services do.
    PerCall,
}

impl Connections {
    /// The names `BACKEND_CONNECTIONS` accepts.
    pub const NAMES: &'static str = "spread, pooled, per-call";

    /// The value as written in `BACKEND_CONNECTIONS`.
    pub fn name(self) -> &'static str {
        match self {
            Connections::Spread => "spread",
            Connections::Pooled => "pooled",
            Connections::PerCall => "per-call",
        }
    }
}

impl fmt::Display for Connections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Connections {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "spread" => Ok(Connections::Spread),
            "pooled" => Ok(Connections::Pooled),
            "per-call" => Ok(Connections::PerCall),
            other => Err(format!(
                "unknown connection policy {other:?}; expected one of {}",
                Connections::NAMES
            )),
        }
    }
}

/// Decides, call by call, whether the call's connection is closed after it.
#[derive(Debug)]
pub(crate) struct Retirement {
    policy: Connections,
    start: Instant,
    buckets: Mutex<HashMap<Box<str>, Bucket>>,
}

impl Retirement {
    pub(crate) fn new(policy: Connections) -> Self {
        Self {
            policy,
            start: Instant::now(),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether this call to `destination` retires its connection.
    pub(crate) fn retire(&self, destination: &str) -> bool {
        match self.policy {
            Connections::Pooled => false,
            Connections::PerCall => true,
            Connections::Spread => {
                let now = self.start.elapsed();
                let Ok(mut buckets) = self.buckets.lock() else {
                    return false;
                };
                match buckets.get_mut(destination) {
                    Some(bucket) => bucket.take(now),
                    None => {
                        let mut bucket = Bucket::default();
                        let taken = bucket.take(now);
                        buckets.insert(destination.into(), bucket);
                        taken
                    }
                }
            }
        }
    }
}

/// A token bucket kept as one number (the generic cell rate algorithm): the time at which the
/// bucket would be full again. It starts full.
#[derive(Debug, Default, Clone, Copy)]
struct Bucket {
    /// When the next token is due, measured from [`Retirement::start`].
    due: Duration,
}

impl Bucket {
    const INTERVAL: Duration = Duration::from_nanos(1_000_000_000 / RETIRE_RATE as u64);

    /// Take a token at time `now`, if one is left.
    fn take(&mut self, now: Duration) -> bool {
        let tolerance = Self::INTERVAL * (RETIRE_BURST - 1);
        let due = self.due.max(now);
        if due > now + tolerance {
            return false;
        }
        self.due = due + Self::INTERVAL;
        true
    }
}

/// Looks host names up. The system resolver in services; tests substitute a fixed table.
pub trait HostLookup: Send + Sync + fmt::Debug + 'static {
    /// Every address of `host`.
    fn lookup(&self, host: &str) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;
}

/// The operating system's resolver (`getaddrinfo`), run off the async threads.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemLookup;

impl HostLookup for SystemLookup {
    fn lookup(&self, host: &str) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>> {
        let host = host.to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// The order in which a new connection tries `addrs` on its `turn`: the addresses of the
/// family the resolver put first, sorted and rotated by `turn`, then the others, sorted. The
/// family stays the resolver's choice; among its addresses, successive connections start at
/// successive ones.
pub fn spread_order(addrs: &[IpAddr], turn: usize) -> Vec<IpAddr> {
    let Some(first) = addrs.first() else {
        return Vec::new();
    };
    let v4 = first.is_ipv4();
    let (mut preferred, mut others): (Vec<IpAddr>, Vec<IpAddr>) =
        addrs.iter().partition(|a| a.is_ipv4() == v4);
    preferred.sort_unstable();
    preferred.dedup();
    others.sort_unstable();
    others.dedup();
    let n = preferred.len();
    preferred.rotate_left(turn % n);
    preferred.extend(others);
    preferred
}

/// A resolver for the HTTP client that spreads new connections over every address of a name.
#[derive(Debug, Clone)]
pub(crate) struct SpreadResolver {
    lookup: Arc<dyn HostLookup>,
    turns: Arc<Mutex<HashMap<String, usize>>>,
}

impl SpreadResolver {
    pub(crate) fn new(lookup: Arc<dyn HostLookup>) -> Self {
        Self {
            lookup,
            turns: Arc::default(),
        }
    }

    fn next_turn(&self, host: &str) -> usize {
        let Ok(mut turns) = self.turns.lock() else {
            return 0;
        };
        let turn = turns.entry(host.to_owned()).or_insert(0);
        let now = *turn;
        *turn = turn.wrapping_add(1);
        now
    }
}

impl tower_service::Service<Name> for SpreadResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let host = name.as_str().to_owned();
        let lookup = self.lookup.lookup(&host);
        let turn = self.next_turn(&host);
        Box::pin(async move {
            let addrs = lookup.await?;
            if addrs.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{host} has no address"),
                ));
            }
            // Port 0: the connector puts the URL's port in.
            let ordered: Vec<SocketAddr> = spread_order(&addrs, turn)
                .into_iter()
                .map(|ip| SocketAddr::new(ip, 0))
                .collect();
            Ok(ordered.into_iter())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print() {
        for c in [
            Connections::Spread,
            Connections::Pooled,
            Connections::PerCall,
        ] {
            assert_eq!(c.name().parse::<Connections>(), Ok(c));
            assert_eq!(c.to_string(), c.name());
        }
        assert_eq!(
            " Per-Call ".parse::<Connections>(),
            Ok(Connections::PerCall)
        );
        let err = "lanes".parse::<Connections>().unwrap_err();
        assert!(
            err.contains("\"lanes\"") && err.contains("per-call"),
            "{err}"
        );
        assert_eq!(Connections::default(), Connections::Spread);
    }

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let mut bucket = Bucket::default();
        let t0 = Duration::from_secs(5);
        let burst = (0..200).take_while(|_| bucket.take(t0)).count();
        assert_eq!(burst, RETIRE_BURST as usize);
        assert!(!bucket.take(t0));
        // One interval later, exactly one more.
        let t1 = t0 + Bucket::INTERVAL;
        assert!(bucket.take(t1));
        assert!(!bucket.take(t1));
        // Half a second of nothing refills half a second's worth; a long pause refills no
        // more than the burst.
        let t2 = t1 + Duration::from_millis(500);
        let refilled = (0..200).take_while(|_| bucket.take(t2)).count();
        assert_eq!(refilled, RETIRE_RATE as usize / 2);
        let t3 = t2 + Duration::from_secs(60);
        let refilled = (0..200).take_while(|_| bucket.take(t3)).count();
        assert_eq!(refilled, RETIRE_BURST as usize);
    }

    #[test]
    fn retirement_per_policy_and_per_destination() {
        assert!(!Retirement::new(Connections::Pooled).retire("reviews"));
        let per_call = Retirement::new(Connections::PerCall);
        assert!((0..1000).all(|_| per_call.retire("reviews")));
        let spread = Retirement::new(Connections::Spread);
        // The first calls of a burst all retire, and each destination has its own budget.
        assert!((0..30).all(|_| spread.retire("reviews")));
        assert!((0..30).all(|_| spread.retire("details")));
    }

    #[test]
    fn spread_order_rotates_within_the_first_family() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let answer = [
            ip("10.0.0.3"),
            ip("fd00::1"),
            ip("10.0.0.1"),
            ip("10.0.0.2"),
        ];
        let firsts: Vec<IpAddr> = (0..4).map(|t| spread_order(&answer, t)[0]).collect();
        assert_eq!(
            firsts,
            [
                ip("10.0.0.1"),
                ip("10.0.0.2"),
                ip("10.0.0.3"),
                ip("10.0.0.1")
            ]
        );
        assert_eq!(
            spread_order(&answer, 1),
            [
                ip("10.0.0.2"),
                ip("10.0.0.3"),
                ip("10.0.0.1"),
                ip("fd00::1")
            ]
        );
        // The resolver's family choice stays.
        let v6_first = [ip("fd00::2"), ip("10.0.0.1"), ip("fd00::1")];
        assert_eq!(
            spread_order(&v6_first, 0),
            [ip("fd00::1"), ip("fd00::2"), ip("10.0.0.1")]
        );
        assert!(spread_order(&[], 3).is_empty());
        assert_eq!(
            spread_order(&[ip("10.0.0.1"), ip("10.0.0.1")], 1),
            [ip("10.0.0.1")]
        );
    }
}
