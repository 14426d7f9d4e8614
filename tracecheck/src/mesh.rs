//! An emulated Istio data plane for trace tests: sidecars and an ingress gateway that create
//! and report spans the way Envoy does, placed in front of and behind every service; and the
//! ambient flavour, where ztunnel carries connections without a span and a waypoint, when a
//! destination has one, is the only proxy of a hop.
//!
//! What it reproduces (docs/tracing-design.md, “Envoy sidecars” and “The emulated mesh”),
//! because these are the behaviours that make or break a trace tree:
//! * one span per request per sidecar — SERVER on the inbound side, CLIENT on the outbound side;
//!   the gateway makes a SERVER span and an upstream CLIENT span;
//! * each span is a child of the context that arrived, with a new span id (no shared span
//!   context), and the context of the proxy's own span is what it injects upstream;
//! * the Zipkin flavour reads `b3` first, then `x-b3-*`, and rewrites only `x-b3-*` (a `b3` or
//!   `traceparent` header passes through untouched, stale); the OpenTelemetry flavour reads and
//!   rewrites only `traceparent` (and writes `tracestate`, even empty);
//! * malformed ids: the hop produces no span and injects nothing, like Envoy's NullSpan;
//! * spans are reported to a Zipkin v2 endpoint tagged `guid:x-request-id`.
//!
//! Ambient mode (docs/tracing-design.md, "Ambient mode: ztunnel and waypoints"):
//! * [`Ztunnel`] forwards bytes per TCP connection and nothing else: no span, no header read or
//!   written, no `x-request-id`; it is a [`Balancer`] with the destination's endpoints;
//! * a waypoint ([`Role::Waypoint`]) is an Envoy on the destination side of a hop, for the
//!   destinations attached to it: one SERVER span per request (istiod builds its listener as
//!   inbound, and asks no upstream span of anything but gateways), with the provider's headers
//!   read and rewritten exactly as a sidecar's;
//! * the ingress gateway is the same Envoy gateway as in sidecar mode, and sends to the pods
//!   directly, past any waypoint (unless a Service asks otherwise with
//!   `istio.io/ingress-use-waypoint`, which the tests do not model).
//!
//! It parses headers with its own small code on purpose: sharing the services' propagation code
//! would let a bug there hide itself.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bookinfo_testing::balancer::{Balancer, Choice};
use tokio::net::TcpListener;

/// Which tracing provider the emulated mesh is configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Istio's Zipkin provider: B3 multi-header propagation.
    Zipkin,
    /// Istio's OpenTelemetry provider: W3C trace context.
    OpenTelemetry,
}

/// Where the proxy sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Ingress gateway: SERVER span plus an upstream CLIENT span.
    Gateway,
    /// A sidecar's inbound listener, in front of its app: SERVER span.
    Inbound,
    /// A sidecar's outbound listener, behind its app: CLIENT span.
    Outbound,
    /// An ambient waypoint, in front of the destinations attached to it: SERVER span.
    Waypoint,
}

/// The context a proxy read from the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Incoming {
    trace_id: u128,
    /// Whether the trace id arrived as 16 hex digits (kept on the wire as it came).
    narrow: bool,
    span_id: u64,
    sampled: bool,
}

#[derive(Clone)]
struct Proxy {
    role: Role,
    flavor: Flavor,
    service: Arc<str>,
    upstream: Arc<RwLock<Option<SocketAddr>>>,
    aborts: Arc<AtomicUsize>,
    received: Arc<Mutex<Vec<HeaderMap>>>,
    client: reqwest::Client,
    report_to: Arc<str>,
}

/// A running emulated proxy.
pub struct Sidecar {
    pub addr: SocketAddr,
    upstream: Arc<RwLock<Option<SocketAddr>>>,
    aborts: Arc<AtomicUsize>,
    received: Arc<Mutex<Vec<HeaderMap>>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Sidecar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sidecar").field("addr", &self.addr).finish()
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Sidecar {
    /// Start a proxy on a loopback port. `service` is the name its spans report (Istio uses
    /// `<app>.<namespace>`); `zipkin_url` is where spans are sent. Set the upstream with
    /// [`Sidecar::set_upstream`] before sending traffic through it.
    pub async fn start(
        role: Role,
        flavor: Flavor,
        service: &str,
        zipkin_url: &str,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let upstream = Arc::new(RwLock::new(None));
        let aborts = Arc::new(AtomicUsize::new(0));
        let received = Arc::new(Mutex::new(Vec::new()));
        let proxy = Proxy {
            role,
            flavor,
            service: service.into(),
            upstream: upstream.clone(),
            aborts: aborts.clone(),
            received: received.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            report_to: zipkin_url.into(),
        };
        let router = Router::new().fallback(handle).with_state(proxy);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self {
            addr,
            upstream,
            aborts,
            received,
            task,
        })
    }

    /// The headers of every request this proxy received, as they arrived (before it wrote its
    /// own context): what the hop before it sent.
    pub fn received(&self) -> Vec<HeaderMap> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Where this proxy sends traffic.
    pub fn set_upstream(&self, addr: SocketAddr) {
        if let Ok(mut u) = self.upstream.write() {
            *u = Some(addr);
        }
    }

    /// Answer the next `n` requests with 503 without forwarding them, as an Istio fault
    /// injection abort does (the proxy still reports its span).
    pub fn abort_next(&self, n: usize) {
        self.aborts.store(n, Ordering::SeqCst);
    }

    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

fn random_u64() -> u64 {
    loop {
        let v = rand_u64();
        if v != 0 {
            return v;
        }
    }
}

/// A process-local xorshift generator seeded from the clock and a counter; ids only need to be
/// unique within a test run.
fn rand_u64() -> u64 {
    use std::sync::atomic::AtomicU64;
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        x = now_micros() ^ 0x9E37_79B9_7F4A_7C15;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    x
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn hex128(s: &str) -> Option<(u128, bool)> {
    match s.len() {
        16 | 32 => u128::from_str_radix(s, 16)
            .ok()
            .filter(|v| *v != 0)
            .map(|v| (v, s.len() == 16)),
        _ => None,
    }
}

fn hex64(s: &str) -> Option<u64> {
    (s.len() == 16)
        .then(|| u64::from_str_radix(s, 16).ok())
        .flatten()
        .filter(|v| *v != 0)
}

/// What Envoy's extractor makes of the request: `Ok(None)` no context, `Err(())` malformed.
fn extract(flavor: Flavor, h: &HeaderMap) -> Result<Option<Incoming>, ()> {
    match flavor {
        Flavor::Zipkin => {
            if let Some(b3) = header(h, "b3") {
                let parts: Vec<&str> = b3.split('-').collect();
                if parts.len() < 2 {
                    return Ok(None);
                }
                let (trace_id, narrow) = hex128(parts[0]).ok_or(())?;
                let span_id = hex64(parts[1]).ok_or(())?;
                let sampled = !matches!(parts.get(2), Some(&"0"));
                return Ok(Some(Incoming {
                    trace_id,
                    narrow,
                    span_id,
                    sampled,
                }));
            }
            match (header(h, "x-b3-traceid"), header(h, "x-b3-spanid")) {
                (Some(t), Some(s)) => {
                    let (trace_id, narrow) = hex128(t).ok_or(())?;
                    let span_id = hex64(s).ok_or(())?;
                    let sampled = !matches!(header(h, "x-b3-sampled"), Some("0" | "false"));
                    Ok(Some(Incoming {
                        trace_id,
                        narrow,
                        span_id,
                        sampled,
                    }))
                }
                (None, None) => Ok(None),
                _ => Err(()),
            }
        }
        Flavor::OpenTelemetry => {
            let Some(tp) = header(h, "traceparent") else {
                return Ok(None);
            };
            let parts: Vec<&str> = tp.split('-').collect();
            if tp.len() != 55 || parts.len() != 4 || parts[1].len() != 32 {
                return Err(());
            }
            let (trace_id, _) = hex128(parts[1]).ok_or(())?;
            let span_id = hex64(parts[2]).ok_or(())?;
            let flags = u8::from_str_radix(parts[3], 16).map_err(|_| ())?;
            Ok(Some(Incoming {
                trace_id,
                narrow: false,
                span_id,
                sampled: flags & 1 == 1,
            }))
        }
    }
}

fn set(h: &mut HeaderMap, name: &'static str, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        h.insert(name, v);
    }
}

fn inject(flavor: Flavor, h: &mut HeaderMap, ctx: &Incoming, parent: Option<u64>) {
    match flavor {
        Flavor::Zipkin => {
            let trace = if ctx.narrow {
                format!("{:016x}", ctx.trace_id)
            } else {
                format!("{:032x}", ctx.trace_id)
            };
            set(h, "x-b3-traceid", trace);
            set(h, "x-b3-spanid", format!("{:016x}", ctx.span_id));
            match parent {
                Some(p) => set(h, "x-b3-parentspanid", format!("{p:016x}")),
                None => {
                    h.remove("x-b3-parentspanid");
                }
            }
            set(
                h,
                "x-b3-sampled",
                if ctx.sampled { "1" } else { "0" }.to_owned(),
            );
        }
        Flavor::OpenTelemetry => {
            let flags = if ctx.sampled { "01" } else { "00" };
            set(
                h,
                "traceparent",
                format!("00-{:032x}-{:016x}-{flags}", ctx.trace_id, ctx.span_id),
            );
            if !h.contains_key("tracestate") {
                h.insert("tracestate", HeaderValue::from_static(""));
            }
        }
    }
}

struct Made {
    id: u64,
    parent: Option<u64>,
    kind: &'static str,
}

async fn handle(State(proxy): State<Proxy>, mut req: Request) -> Response {
    let Some(upstream) = proxy.upstream.read().ok().and_then(|u| *u) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no upstream configured").into_response();
    };
    let started_us = now_micros();
    let started = Instant::now();
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let guid = header(req.headers(), "x-request-id").map(str::to_owned);
    if let Ok(mut received) = proxy.received.lock() {
        received.push(req.headers().clone());
    }

    let incoming = extract(proxy.flavor, req.headers());
    let mut spans = Vec::new();
    let mut injected = None;
    if let Ok(incoming) = incoming {
        let (trace_id, narrow, sampled, mut parent) = match incoming {
            Some(i) => (i.trace_id, i.narrow, i.sampled, Some(i.span_id)),
            None => (
                u128::from(random_u64()) << 64 | u128::from(random_u64()),
                false,
                true,
                None,
            ),
        };
        let kinds: &[&'static str] = match proxy.role {
            Role::Gateway => &["SERVER", "CLIENT"],
            Role::Inbound | Role::Waypoint => &["SERVER"],
            Role::Outbound => &["CLIENT"],
        };
        for kind in kinds {
            let id = random_u64();
            spans.push(Made { id, parent, kind });
            parent = Some(id);
        }
        if let Some(last) = spans.last() {
            let ctx = Incoming {
                trace_id,
                narrow,
                span_id: last.id,
                sampled,
            };
            inject(proxy.flavor, req.headers_mut(), &ctx, last.parent);
            injected = Some((ctx, sampled));
        }
    }

    let abort = proxy
        .aborts
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let resp = if abort {
        (StatusCode::SERVICE_UNAVAILABLE, "fault filter abort").into_response()
    } else {
        bookinfo_testing::relay::forward(&proxy.client, &upstream.to_string(), req).await
    };
    let duration = u64::try_from(started.elapsed().as_micros())
        .unwrap_or(u64::MAX)
        .max(1);

    if let Some((ctx, true)) = injected {
        let status = resp.status().as_u16().to_string();
        let reported: Vec<serde_json::Value> = spans
            .iter()
            .map(|s| {
                let mut tags = serde_json::Map::new();
                tags.insert("http.method".into(), method.clone().into());
                tags.insert("http.url".into(), path.clone().into());
                tags.insert("http.status_code".into(), status.clone().into());
                tags.insert("upstream_cluster".into(), upstream.to_string().into());
                if let Some(g) = &guid {
                    tags.insert("guid:x-request-id".into(), g.clone().into());
                }
                let mut span = serde_json::json!({
                    "traceId": if ctx.narrow { format!("{:016x}", ctx.trace_id) } else { format!("{:032x}", ctx.trace_id) },
                    "id": format!("{:016x}", s.id),
                    "name": format!("{} {}", role_name(proxy.role, s.kind), path),
                    "kind": s.kind,
                    "timestamp": started_us,
                    "duration": duration,
                    "localEndpoint": { "serviceName": &*proxy.service },
                    "tags": tags,
                });
                if let Some(p) = s.parent {
                    span["parentId"] = format!("{p:016x}").into();
                }
                span
            })
            .collect();
        // Report before answering, so a test that got its response finds the proxy spans.
        let _ = proxy
            .client
            .post(&*proxy.report_to)
            .json(&reported)
            .send()
            .await;
    }
    resp
}

fn role_name(role: Role, kind: &str) -> &'static str {
    match (role, kind) {
        (Role::Gateway, "SERVER") => "gateway",
        (Role::Gateway, _) => "gateway-upstream",
        (Role::Inbound, _) => "inbound",
        (Role::Outbound, _) => "outbound",
        (Role::Waypoint, _) => "waypoint",
    }
}

/// ztunnel, ambient mode's node proxy, for one destination: it carries each TCP connection to
/// an endpoint chosen when the connection opens, and nothing else (see the module docs).
#[derive(Debug)]
pub struct Ztunnel(Balancer);

impl Ztunnel {
    /// Start one on a loopback port; set where it sends with [`Ztunnel::set_upstream`].
    pub async fn start() -> std::io::Result<Self> {
        Balancer::start(Choice::RoundRobin).await.map(Self)
    }

    /// The one endpoint (a pod, or the destination's waypoint) it carries connections to.
    pub fn set_upstream(&self, addr: SocketAddr) {
        self.0.set_backends(vec![addr]);
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.0.addr
    }

    pub fn port(&self) -> String {
        self.0.port()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn zipkin_prefers_single_b3_and_keeps_width() {
        let h = headers(&[
            ("b3", "463ac35c9f6413ad-0020000000000001-1"),
            ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
            ("x-b3-spanid", "e457b5a2e4d86bd1"),
        ]);
        let got = extract(Flavor::Zipkin, &h).unwrap().unwrap();
        assert_eq!(got.trace_id, 0x463a_c35c_9f64_13ad);
        assert!(got.narrow);
        assert_eq!(got.span_id, 0x0020_0000_0000_0001);
    }

    #[test]
    fn malformed_is_a_null_span_and_absent_is_a_new_root() {
        assert_eq!(
            extract(
                Flavor::Zipkin,
                &headers(&[("x-b3-traceid", "abc"), ("x-b3-spanid", "e457b5a2e4d86bd1")])
            ),
            Err(())
        );
        assert_eq!(extract(Flavor::Zipkin, &headers(&[])), Ok(None));
        assert_eq!(
            extract(
                Flavor::OpenTelemetry,
                &headers(&[("traceparent", "00-xyz")])
            ),
            Err(())
        );
        let ok = headers(&[(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        )]);
        let got = extract(Flavor::OpenTelemetry, &ok).unwrap().unwrap();
        assert!(!got.sampled);
    }
}
