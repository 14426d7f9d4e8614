//! Test support shared by every crate's tests.
//!
//! * [`spawn`] starts a service's real `run` on a loopback port-0 listener and stops it again.
//! * [`probe`] holds the header-forwarding probe every service's tests send.
//! * [`raw`] speaks HTTP/1.1 over a bare socket, for requests a client library would not send.
//! * [`FakeServer`] is a small real HTTP server standing in for a downstream (a backend service,
//!   Google Books, a sidecar): it records every request it receives, headers included, and answers
//!   with a scripted [`Reply`] that may be delayed or never sent.
//! * [`balancer`] is a per-connection TCP balancer, like kube-proxy in front of a Service.
//! * [`logs`] keeps what the log subscriber writes, for tests of log lines.

pub mod balancer;
pub mod logs;
pub mod raw;
pub mod relay;

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use axum::routing::{MethodRouter, get};
use bookinfo_core::Metrics;
use bookinfo_core::cli::Shutdown;
use bookinfo_core::server::{ServiceId, harden};
use bookinfo_core::trace::Tracing;
use tokio::sync::Notify;

/// A service running on a loopback port for the duration of a test.
#[derive(Debug)]
pub struct Spawned {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl Spawned {
    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The port, as a string (for `*_SERVICE_PORT` variables).
    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }

    /// Send the shutdown signal and wait for the server to drain and return.
    pub async fn stop(mut self) -> io::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(task) => task.await.unwrap_or_else(|e| Err(io::Error::other(e))),
            None => Ok(()),
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// `routes` with the shared middleware, as a service named `t` (version `v1`) that records into
/// `metrics` and exports no spans.
pub fn hardened(routes: Router, metrics: Metrics) -> Router {
    harden(
        routes,
        metrics,
        Tracing::pass_through(),
        ServiceId::new("t", "v1"),
    )
}

/// A `GET` handler that signals `started` when a request arrives and answers `done` after
/// `delay`: a request still being served when the server is told to stop.
pub fn slow_handler<S>(delay: Duration, started: Arc<Notify>) -> MethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    get(move || {
        let started = started.clone();
        async move {
            started.notify_one();
            tokio::time::sleep(delay).await;
            "done"
        }
    })
}

/// Bind 127.0.0.1:0 and run `run(listener, shutdown)` in the background.
pub async fn spawn<F, Fut>(run: F) -> Spawned
where
    F: FnOnce(TcpListener, Shutdown) -> Fut,
    Fut: Future<Output = io::Result<()>> + Send + 'static,
{
    spawn_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), run).await
}

/// Bind `addr` and run `run(listener, shutdown)` in the background.
pub async fn spawn_on<F, Fut>(addr: SocketAddr, run: F) -> Spawned
where
    F: FnOnce(TcpListener, Shutdown) -> Fut,
    Fut: Future<Output = io::Result<()>> + Send + 'static,
{
    let listener = TcpListener::bind(addr).await.expect("bind the address");
    let addr = listener.local_addr().expect("listener address");
    let (tx, rx) = oneshot::channel::<()>();
    let shutdown: Shutdown = Box::pin(async move {
        let _ = rx.await;
    });
    let task = tokio::spawn(run(listener, shutdown));
    Spawned {
        addr,
        stop: Some(tx),
        task: Some(task),
    }
}

/// A test's `(name, value)` pairs as a configuration lookup.
pub fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Send `req`; the answer's status, content type (`""` when it has none) and body.
pub async fn fetch(req: reqwest::RequestBuilder) -> (u16, String, String) {
    let resp = req.send().await.expect("the service answers");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .map_or_else(String::new, |v| {
            v.to_str().expect("a text content type").to_owned()
        });
    (
        status,
        content_type,
        resp.text().await.expect("a text body"),
    )
}

/// One request as the fake server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    /// Path and query, e.g. `/ratings/0?x=1`.
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    /// The first value of header `name`, as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What the fake server answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: Option<&'static str>,
    pub body: String,
    /// Wait this long before answering; `None` answers at once.
    pub delay: Option<Duration>,
    /// Never answer (the caller's timeout must fire).
    pub hang: bool,
}

impl Reply {
    /// 200 with a JSON body.
    pub fn json(body: impl Into<String>) -> Self {
        Self::status_json(StatusCode::OK, body)
    }

    pub fn status_json(status: StatusCode, body: impl Into<String>) -> Self {
        Self {
            status,
            content_type: Some("application/json"),
            body: body.into(),
            delay: None,
            hang: false,
        }
    }

    /// A status with an empty body.
    pub fn status(status: u16) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            content_type: None,
            body: String::new(),
            delay: None,
            hang: false,
        }
    }

    /// A request that is never answered.
    pub fn hang() -> Self {
        Self {
            hang: true,
            ..Self::status(200)
        }
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }
}

type Responder = dyn Fn(&Recorded, usize) -> Reply + Send + Sync;

#[derive(Clone)]
struct FakeState {
    requests: Arc<Mutex<Vec<Recorded>>>,
    responder: Arc<Responder>,
}

/// A recording HTTP server on a loopback port; see the module docs.
#[derive(Debug)]
pub struct FakeServer {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    _server: Spawned,
}

impl FakeServer {
    /// Start a server whose answer is computed from the request and its 0-based arrival index.
    pub async fn start(
        responder: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static,
    ) -> Self {
        Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), responder).await
    }

    /// [`FakeServer::always`] listening on `addr` (say `127.0.0.2:<port>`: every `127.x.y.z`
    /// is a loopback address on Linux).
    pub async fn always_on(addr: SocketAddr, reply: Reply) -> Self {
        Self::start_on(addr, move |_, _| reply.clone()).await
    }

    /// [`FakeServer::start`] listening on `addr`.
    pub async fn start_on(
        addr: SocketAddr,
        responder: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let state = FakeState {
            requests: requests.clone(),
            responder: Arc::new(responder),
        };
        let router = Router::new().fallback(record).with_state(state);
        let server = spawn_on(addr, |listener, shutdown| async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
        })
        .await;
        Self {
            addr: server.addr,
            requests,
            _server: server,
        }
    }

    /// A server that always gives the same reply.
    pub async fn always(reply: Reply) -> Self {
        Self::start(move |_, _| reply.clone()).await
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

async fn record(State(state): State<FakeState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let recorded = Recorded {
        method: parts.method,
        uri: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned()),
        headers: parts.headers,
        body,
    };
    let index = {
        let mut all = match state.requests.lock() {
            Ok(all) => all,
            Err(poisoned) => poisoned.into_inner(),
        };
        all.push(recorded.clone());
        all.len() - 1
    };
    let reply = (state.responder)(&recorded, index);
    if reply.hang {
        std::future::pending::<()>().await;
    }
    if let Some(delay) = reply.delay {
        tokio::time::sleep(delay).await;
    }
    let mut resp = (reply.status, reply.body).into_response();
    if let Some(ct) = reply.content_type {
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    } else {
        resp.headers_mut().remove(header::CONTENT_TYPE);
    }
    resp
}

/// A probe for header forwarding: every header the issue says a service forwards (upstream's
/// list plus the formats upstream forgot), written out here from the specification rather
/// than taken from [`bookinfo_core::headers::FORWARDED`], and headers that must never pass.
pub mod probe {
    use super::Recorded;

    /// Every header the services forward, with a sample value.
    pub const FORWARDED: &[(&str, &str)] = &[
        ("x-request-id", "r1"),
        ("x-ot-span-context", "ctx"),
        ("x-datadog-trace-id", "1"),
        ("x-datadog-parent-id", "2"),
        ("x-datadog-sampling-priority", "1"),
        (
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ),
        ("tracestate", "a=1"),
        (
            "x-cloud-trace-context",
            "105445aa7843bc8bf206b12000100000/1;o=1",
        ),
        ("grpc-trace-bin", "AAA="),
        ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
        ("x-b3-spanid", "e457b5a2e4d86bd1"),
        ("x-b3-parentspanid", "05e3ac9a4f6e3b90"),
        ("x-b3-sampled", "1"),
        ("x-b3-flags", "1"),
        ("sw8", "1-abc"),
        ("end-user", "jason"),
        ("user-agent", "test-agent/1"),
        ("cookie", "session=s1"),
        ("authorization", "Bearer t"),
        ("jwt", "j"),
        ("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"),
        ("baggage", "k=v"),
        ("uber-trace-id", "1:2:0:1"),
        ("uberctx-user", "jason"),
        ("ot-tracer-traceid", "1"),
        ("ot-baggage-k", "v"),
        ("x-datadog-origin", "synthetics"),
        ("x-datadog-tags", "_dd.p.dm=-0"),
        ("sw8-correlation", "a"),
        ("sw8-x", "0"),
        (
            "x-amzn-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793",
        ),
        ("x-client-trace-id", "c1"),
    ];

    /// Headers that must never be forwarded.
    pub const NOT_FORWARDED: &[(&str, &str)] = &[
        ("x-envoy-attempt-count", "1"),
        ("x-envoy-peer-metadata", "abc"),
        ("x-forwarded-for", "1.2.3.4"),
        ("x-forwarded-proto", "https"),
        ("forwarded", "for=1.2.3.4"),
        ("foo", "bar"),
        ("proxy-authorization", "Basic x"),
        ("x-b3", "nope"),
    ];

    /// Every probe header in sending order: the forwarded ones, the forbidden ones, and a
    /// second `tracestate` field (repeated headers must be kept, in order).
    pub fn sent() -> impl Iterator<Item = (&'static str, &'static str)> {
        FORWARDED
            .iter()
            .chain(NOT_FORWARDED)
            .copied()
            .chain([("tracestate", "b=2")])
    }

    /// `seen` carries exactly the forwarded headers, values verbatim, both `tracestate` fields
    /// in order, plus the names in `also` (what the HTTP client adds itself, e.g. `host`).
    pub fn assert_forwarded_exactly(seen: &Recorded, also: &[&str]) {
        let arrived: std::collections::BTreeSet<&str> =
            seen.headers.keys().map(|k| k.as_str()).collect();
        let expected: std::collections::BTreeSet<&str> = FORWARDED
            .iter()
            .map(|(k, _)| *k)
            .chain(also.iter().copied())
            .collect();
        assert_eq!(arrived, expected, "forwarded header names");
        for (name, value) in FORWARDED {
            if *name != "tracestate" {
                assert_eq!(seen.header(name), Some(*value), "{name}");
            }
        }
        let tracestate: Vec<_> = seen.headers.get_all("tracestate").iter().collect();
        assert_eq!(
            tracestate,
            ["a=1", "b=2"],
            "repeated tracestate kept in order"
        );
    }
}
