//! `bookinfo-load`: drive a BookInfo deployment like a small crowd.
//!
//! Virtual users (workers) each send one request after another: anonymous views of
//! `/productpage`, views as a signed-in user (`POST /login` once per worker, then the page with
//! the session cookie: istio.io routes `jason` to reviews v2), and the JSON API routes. The mix
//! is a fixed, evenly interleaved cycle of the weighted kinds, so a run is repeatable. With a
//! rate, all workers share one ticker and together send at most that many requests a second.
//!
//! Every answer is counted by status and by route; every product page by the reviews version
//! it shows ([`page::reviews_version`]); every latency goes into an HDR histogram.

pub mod page;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::sync::watch;

use crate::page::reviews_version;

/// The API routes, called in turn.
pub const API_ROUTES: [&str; 4] = [
    "/api/v1/products",
    "/api/v1/products/0",
    "/api/v1/products/0/reviews",
    "/api/v1/products/0/ratings",
];

/// One kind of request in the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `GET /productpage` without a session.
    Anonymous,
    /// `GET /productpage` as the worker's user (signing in first).
    SignedIn,
    /// One of [`API_ROUTES`], in turn.
    Api,
}

/// How often each kind is sent, relative to the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix {
    pub anonymous: u32,
    pub signed_in: u32,
    pub api: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Self {
            anonymous: 5,
            signed_in: 3,
            api: 2,
        }
    }
}

impl std::str::FromStr for Mix {
    type Err = String;

    /// `anonymous=5,signed-in=3,api=2`; kinds left out get weight 0.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut mix = Mix {
            anonymous: 0,
            signed_in: 0,
            api: 0,
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (kind, weight) = part.split_once('=').unwrap_or((part, "1"));
            let weight: u32 = weight
                .trim()
                .parse()
                .map_err(|_| format!("weight {weight:?} of {kind:?} is not a whole number"))?;
            if weight > 1000 {
                return Err(format!("weight {weight} of {kind:?} is over 1000"));
            }
            match kind.trim() {
                "anonymous" => mix.anonymous = weight,
                "signed-in" => mix.signed_in = weight,
                "api" => mix.api = weight,
                other => {
                    return Err(format!(
                        "unknown kind {other:?}: use anonymous, signed-in and api, e.g. anonymous=5,signed-in=3,api=2"
                    ));
                }
            }
        }
        if mix.anonymous + mix.signed_in + mix.api == 0 {
            return Err("at least one kind needs a weight above 0".to_owned());
        }
        Ok(mix)
    }
}

impl Mix {
    /// One cycle of the mix, each kind spread evenly through it (smooth weighted round robin).
    pub fn cycle(&self) -> Vec<Kind> {
        let weights = [
            (Kind::Anonymous, i64::from(self.anonymous)),
            (Kind::SignedIn, i64::from(self.signed_in)),
            (Kind::Api, i64::from(self.api)),
        ];
        let total: i64 = weights.iter().map(|(_, w)| w).sum();
        let mut current = [0i64; 3];
        let mut out = Vec::new();
        for _ in 0..total {
            for (c, (_, w)) in current.iter_mut().zip(weights) {
                *c += w;
            }
            let mut best = 0;
            for i in 1..3 {
                if current[i] > current[best] {
                    best = i;
                }
            }
            current[best] -= total;
            out.push(weights[best].0);
        }
        out
    }
}

/// What to send, where, and for how long.
#[derive(Debug, Clone)]
pub struct Plan {
    /// productpage's base URL, e.g. `http://localhost:9080` (no trailing slash needed).
    pub target: String,
    pub mix: Mix,
    /// Users signed in as, one per worker in turn.
    pub users: Vec<String>,
    /// Workers, each with at most one request in flight.
    pub concurrency: usize,
    /// Requests per second across all workers; unlimited when `None`.
    pub rate: Option<f64>,
    /// Stop after this many requests.
    pub requests: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Give up on one request after this long (counted as an error).
    pub timeout: Duration,
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub target: String,
    pub elapsed_seconds: f64,
    /// Requests answered or failed (requests cut short by a stop are not counted).
    pub requests: u64,
    pub rate_per_second: f64,
    /// Requests with no answer (refused, timed out) or a 5xx answer.
    pub errors: u64,
    /// Answers by status code; `error` for requests that got no answer.
    pub by_status: BTreeMap<String, u64>,
    /// Requests by route (`GET /productpage`, `GET /productpage (signed in)`, `POST /login`,
    /// each API route).
    pub by_route: BTreeMap<String, u64>,
    /// Product pages (status 200) by the reviews version they show.
    pub reviews_versions: BTreeMap<String, u64>,
    /// The same, per viewer: `anonymous` or the signed-in user's name.
    pub reviews_versions_by_user: BTreeMap<String, BTreeMap<String, u64>>,
    pub latency_ms: Latency,
    /// The first few distinct reasons requests failed.
    pub first_errors: Vec<String>,
}

impl Summary {
    /// Whether every request got an answer below 500.
    pub fn ok(&self) -> bool {
        self.errors == 0
    }
}

fn counts(map: &BTreeMap<String, u64>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join("  ")
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} requests to {} in {:.1} s ({:.1}/s), {} errors",
            self.requests, self.target, self.elapsed_seconds, self.rate_per_second, self.errors
        )?;
        writeln!(f, "  status    {}", counts(&self.by_status))?;
        for (i, (route, n)) in self.by_route.iter().enumerate() {
            let label = if i == 0 { "routes" } else { "" };
            writeln!(f, "  {label:<10}{n:>6}  {route}")?;
        }
        if !self.reviews_versions.is_empty() {
            writeln!(f, "  reviews   {}", counts(&self.reviews_versions))?;
            for (user, versions) in &self.reviews_versions_by_user {
                writeln!(f, "    {user:<10}{}", counts(versions))?;
            }
        }
        let l = &self.latency_ms;
        writeln!(
            f,
            "  latency   p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  max {:.1} ms  mean {:.1} ms",
            l.p50, l.p90, l.p99, l.max, l.mean
        )?;
        for e in &self.first_errors {
            writeln!(f, "  error     {e}")?;
        }
        Ok(())
    }
}

/// Counters shared by the workers.
#[derive(Debug)]
struct Stats {
    latency_us: Histogram<u64>,
    requests: u64,
    errors: u64,
    by_status: BTreeMap<String, u64>,
    by_route: BTreeMap<String, u64>,
    versions: BTreeMap<String, u64>,
    versions_by_user: BTreeMap<String, BTreeMap<String, u64>>,
    first_errors: Vec<String>,
}

/// At most this many distinct error messages are kept.
const KEPT_ERRORS: usize = 5;
/// Latencies above this are recorded as this (one hour, in microseconds).
const MAX_LATENCY_US: u64 = 3_600_000_000;

impl Stats {
    fn new() -> Self {
        Self {
            // Three significant digits over 1 µs .. 1 h: a few hundred KiB, fixed.
            latency_us: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .expect("constant histogram bounds are valid"),
            requests: 0,
            errors: 0,
            by_status: BTreeMap::new(),
            by_route: BTreeMap::new(),
            versions: BTreeMap::new(),
            versions_by_user: BTreeMap::new(),
            first_errors: Vec::new(),
        }
    }
}

/// One finished request.
struct Outcome {
    route: String,
    /// `None` when no answer came.
    status: Option<u16>,
    latency: Duration,
    error: Option<String>,
    /// For a product page: who viewed it and what it showed.
    page: Option<(String, page::Seen)>,
}

impl Stats {
    fn record(&mut self, o: Outcome) {
        self.requests += 1;
        let us = u64::try_from(o.latency.as_micros())
            .unwrap_or(MAX_LATENCY_US)
            .clamp(1, MAX_LATENCY_US);
        let _ = self.latency_us.record(us);
        let status = o
            .status
            .map_or_else(|| "error".to_owned(), |s| s.to_string());
        *self.by_status.entry(status).or_default() += 1;
        *self.by_route.entry(o.route).or_default() += 1;
        if o.status.is_none_or(|s| s >= 500) {
            self.errors += 1;
        }
        if let Some(e) = o.error
            && self.first_errors.len() < KEPT_ERRORS
            && !self.first_errors.contains(&e)
        {
            self.first_errors.push(e);
        }
        if let Some((viewer, seen)) = o.page {
            *self.versions.entry(seen.to_string()).or_default() += 1;
            *self
                .versions_by_user
                .entry(viewer)
                .or_default()
                .entry(seen.to_string())
                .or_default() += 1;
        }
    }

    fn latency(&self) -> Latency {
        if self.latency_us.is_empty() {
            return Latency::default();
        }
        #[allow(clippy::cast_precision_loss)]
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            p50: ms(self.latency_us.value_at_quantile(0.50)),
            p90: ms(self.latency_us.value_at_quantile(0.90)),
            p99: ms(self.latency_us.value_at_quantile(0.99)),
            max: ms(self.latency_us.max()),
            mean: self.latency_us.mean() / 1000.0,
        }
    }
}

/// A running generator: its live numbers for a progress line, and its result.
#[derive(Debug, Clone)]
pub struct Live {
    stats: Arc<Mutex<Stats>>,
    started: Instant,
}

impl Live {
    /// `1234 requests  98.7/s  0 errors  p50 3.1 ms  p99 12.0 ms`.
    pub fn progress(&self) -> String {
        let Ok(stats) = self.stats.lock() else {
            return String::new();
        };
        let l = stats.latency();
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        #[allow(clippy::cast_precision_loss)]
        let rate = stats.requests as f64 / secs;
        format!(
            "{} requests  {rate:.1}/s  {} errors  p50 {:.1} ms  p99 {:.1} ms",
            stats.requests, stats.errors, l.p50, l.p99
        )
    }
}

/// Per-worker state: the user it signs in as.
struct Worker {
    user: Option<String>,
}

/// Session cookies by user, shared by the workers: a user signs in once, not once per worker.
type Sessions = Arc<Mutex<BTreeMap<String, String>>>;

/// Start the generator. It runs until the plan's request count or duration is reached, or
/// `stop` turns true (requests in flight then are dropped, uncounted); [`Running::finish`] waits for it.
pub fn start(plan: Plan, stop: watch::Receiver<bool>) -> Result<Running, String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(plan.timeout)
        .pool_max_idle_per_host(plan.concurrency)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let live = Live {
        stats: Arc::new(Mutex::new(Stats::new())),
        started: Instant::now(),
    };
    let plan = Arc::new(plan);
    let cycle: Arc<[Kind]> = plan.mix.cycle().into();
    let issued = Arc::new(AtomicU64::new(0));
    let ticker = plan.rate.map(|rate| {
        let mut t = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Arc::new(tokio::sync::Mutex::new(t))
    });
    let deadline = plan.duration.map(|d| tokio::time::Instant::now() + d);
    let sessions: Sessions = Arc::default();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..plan.concurrency {
        let worker = Worker {
            user: (!plan.users.is_empty()).then(|| plan.users[w % plan.users.len()].clone()),
        };
        let ctx = WorkerContext {
            plan: plan.clone(),
            client: client.clone(),
            stats: live.stats.clone(),
            cycle: cycle.clone(),
            issued: issued.clone(),
            ticker: ticker.clone(),
            deadline,
            stop: stop.clone(),
            sessions: sessions.clone(),
        };
        tasks.spawn(ctx.run(worker));
    }
    Ok(Running {
        live,
        tasks,
        target: plan.target.clone(),
    })
}

/// A generator that [`start`] started.
#[derive(Debug)]
pub struct Running {
    pub live: Live,
    tasks: tokio::task::JoinSet<()>,
    target: String,
}

impl Running {
    /// Wait until every worker has stopped, and sum up.
    pub async fn finish(mut self) -> Summary {
        while self.tasks.join_next().await.is_some() {}
        let elapsed = self.live.started.elapsed().as_secs_f64();
        let stats = match self.live.stats.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        #[allow(clippy::cast_precision_loss)]
        let rate = if elapsed > 0.0 {
            stats.requests as f64 / elapsed
        } else {
            0.0
        };
        Summary {
            target: self.target,
            elapsed_seconds: elapsed,
            requests: stats.requests,
            rate_per_second: rate,
            errors: stats.errors,
            by_status: stats.by_status.clone(),
            by_route: stats.by_route.clone(),
            reviews_versions: stats.versions.clone(),
            reviews_versions_by_user: stats.versions_by_user.clone(),
            latency_ms: stats.latency(),
            first_errors: stats.first_errors.clone(),
        }
    }
}

/// [`start`] and [`Running::finish`] in one.
pub async fn run(plan: Plan, stop: watch::Receiver<bool>) -> Result<Summary, String> {
    Ok(start(plan, stop)?.finish().await)
}

struct WorkerContext {
    plan: Arc<Plan>,
    client: reqwest::Client,
    stats: Arc<Mutex<Stats>>,
    cycle: Arc<[Kind]>,
    issued: Arc<AtomicU64>,
    ticker: Option<Arc<tokio::sync::Mutex<tokio::time::Interval>>>,
    deadline: Option<tokio::time::Instant>,
    stop: watch::Receiver<bool>,
    sessions: Sessions,
}

impl WorkerContext {
    async fn run(self, worker: Worker) {
        let far = tokio::time::Instant::now() + Duration::from_secs(100 * 365 * 86_400);
        let deadline = self.deadline.unwrap_or(far);
        loop {
            if *self.stop.borrow() || tokio::time::Instant::now() >= deadline {
                return;
            }
            let n = self.issued.fetch_add(1, Ordering::Relaxed);
            if self.plan.requests.is_some_and(|limit| n >= limit) {
                return;
            }
            let len = u64::try_from(self.cycle.len()).unwrap_or(1).max(1);
            let slot = usize::try_from(n % len).unwrap_or(0);
            let kind = self.cycle.get(slot).copied().unwrap_or(Kind::Anonymous);
            let mut stop = self.stop.clone();
            let work = async {
                if let Some(ticker) = &self.ticker {
                    ticker.lock().await.tick().await;
                }
                // The API routes go in turn across every API slot of every cycle.
                let api_per_cycle = self.cycle.iter().filter(|k| **k == Kind::Api).count();
                let before = self.cycle[..slot]
                    .iter()
                    .filter(|k| **k == Kind::Api)
                    .count();
                let api_n = (n / len)
                    .saturating_mul(u64::try_from(api_per_cycle).unwrap_or(0))
                    .saturating_add(u64::try_from(before).unwrap_or(0));
                self.one(kind, api_n, &worker).await
            };
            let outcome = tokio::select! {
                o = work => o,
                _ = stop.wait_for(|s| *s) => return,
                () = tokio::time::sleep_until(deadline) => return,
            };
            if let Ok(mut stats) = self.stats.lock() {
                stats.record(outcome);
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.plan.target.trim_end_matches('/'))
    }

    /// Send one request of `kind` (`api_n`, the count of API calls before it, picks the API
    /// route) and say how it went.
    async fn one(&self, kind: Kind, api_n: u64, worker: &Worker) -> Outcome {
        let cookie = worker
            .user
            .as_ref()
            .and_then(|u| self.sessions.lock().ok().and_then(|s| s.get(u).cloned()));
        match (kind, &worker.user, &cookie) {
            (Kind::Api, _, _) => {
                let i = usize::try_from(api_n % 4).unwrap_or(0);
                let path = API_ROUTES[i];
                self.send(format!("GET {path}"), self.client.get(self.url(path)), None)
                    .await
                    .0
            }
            (Kind::SignedIn, Some(user), None) => {
                let user = user.clone();
                let body = serde_urlencoded::to_string([
                    ("username", user.as_str()),
                    ("passwd", "password"),
                ])
                .unwrap_or_default();
                let req = self
                    .client
                    .post(self.url("/login"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body);
                let (outcome, cookie) = self.send("POST /login".to_owned(), req, None).await;
                if let (Some(cookie), Ok(mut sessions)) = (cookie, self.sessions.lock()) {
                    sessions.insert(user, cookie);
                }
                outcome
            }
            (Kind::SignedIn, Some(user), Some(cookie)) => {
                let req = self
                    .client
                    .get(self.url("/productpage"))
                    .header("cookie", cookie);
                self.send(
                    "GET /productpage (signed in)".to_owned(),
                    req,
                    Some(user.clone()),
                )
                .await
                .0
            }
            // Signed-in views without any user to sign in as are anonymous.
            (Kind::Anonymous | Kind::SignedIn, _, _) => {
                self.send(
                    "GET /productpage".to_owned(),
                    self.client.get(self.url("/productpage")),
                    Some("anonymous".to_owned()),
                )
                .await
                .0
            }
        }
    }

    /// Send `req`; for a product page (`viewer` set), read which reviews version it shows.
    /// Also returns the `session` cookie the answer set, if any.
    async fn send(
        &self,
        route: String,
        req: reqwest::RequestBuilder,
        viewer: Option<String>,
    ) -> (Outcome, Option<String>) {
        let started = Instant::now();
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                let outcome = Outcome {
                    route,
                    status: None,
                    latency: started.elapsed(),
                    error: Some(describe(&e)),
                    page: None,
                };
                return (outcome, None);
            }
        };
        let status = resp.status().as_u16();
        let cookie = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .find(|pair| pair.starts_with("session=") && pair.len() > "session=".len())
            .map(str::to_owned);
        let body = resp.text().await;
        let latency = started.elapsed();
        let (error, page) = match body {
            Err(e) => (Some(describe(&e)), None),
            Ok(_) if status >= 500 => (Some(format!("{route}: status {status}")), None),
            Ok(html) => (
                None,
                viewer
                    .filter(|_| status == 200)
                    .map(|v| (v, reviews_version(&html))),
            ),
        };
        let outcome = Outcome {
            route,
            status: Some(status).filter(|_| error.is_none() || status >= 500),
            latency,
            error,
            page,
        };
        (outcome, cookie)
    }
}

/// A transport error in a few words.
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the answer broke off"
    } else {
        "request failed"
    };
    match e.url() {
        Some(url) => format!(
            "{what}: {}{}",
            url.origin().ascii_serialization(),
            url.path()
        ),
        None => what.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_is_interleaved_in_proportion() {
        let cycle = Mix::default().cycle();
        assert_eq!(cycle.len(), 10);
        let count = |k| cycle.iter().filter(|c| **c == k).count();
        assert_eq!(
            (
                count(Kind::Anonymous),
                count(Kind::SignedIn),
                count(Kind::Api)
            ),
            (5, 3, 2)
        );
        assert_ne!(
            cycle[0], cycle[1],
            "kinds alternate rather than come in blocks"
        );
        let only: Mix = "api=1".parse().unwrap();
        assert_eq!(only.cycle(), vec![Kind::Api]);
    }

    #[test]
    fn mixes_parse_and_bad_ones_say_why() {
        let m: Mix = "anonymous=1, signed-in=4".parse().unwrap();
        assert_eq!(
            m,
            Mix {
                anonymous: 1,
                signed_in: 4,
                api: 0
            }
        );
        assert!(
            "browse=1"
                .parse::<Mix>()
                .unwrap_err()
                .contains("unknown kind \"browse\"")
        );
        assert!(
            "api=x"
                .parse::<Mix>()
                .unwrap_err()
                .contains("not a whole number")
        );
        assert!(
            "api=0"
                .parse::<Mix>()
                .unwrap_err()
                .contains("at least one kind")
        );
    }

    #[test]
    fn outcomes_add_up() {
        let mut s = Stats::new();
        for (status, ms) in [(Some(200), 10), (Some(503), 30), (None, 20)] {
            s.record(Outcome {
                route: "GET /productpage".into(),
                status,
                latency: Duration::from_millis(ms),
                error: status.is_none().then(|| "could not connect".to_owned()),
                page: (status == Some(200)).then(|| ("anonymous".to_owned(), page::Seen::V2)),
            });
        }
        assert_eq!(s.requests, 3);
        assert_eq!(s.errors, 2, "no answer and 5xx are errors");
        assert_eq!(counts(&s.by_status), "200: 1  503: 1  error: 1");
        assert_eq!(counts(&s.versions), "v2: 1");
        let l = s.latency();
        assert!((l.p50 - 20.0).abs() < 0.1, "{l:?}");
        assert!((l.max - 30.0).abs() < 0.1, "{l:?}");
    }
}
