//! Server bootstrap shared by every service.
//!
//! * [`bind`] listens on all interfaces, IPv6 and IPv4 on one socket (upstream binds `[::]` or
//!   `*`), and accepts port 0 so tests get a free port.
//! * [`serve`] runs a router until the shutdown future completes, then stops accepting, closes
//!   idle connections, lets in-flight requests finish for a bounded grace period and returns.
//!   Every connection is bounded in time and number ([`ServerLimits`], see
//!   [`crate::connections`]).
//! * [`harden`] adds what every service needs around its own routes: per-request metrics and a
//!   structured log line, a request-body limit, and JSON bodies for every error the framework
//!   produces (unknown route, wrong method, oversized or malformed body).

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tracing::Instrument;

pub use crate::connections::ServerLimits;
use crate::logs::truncated;
use crate::metrics::Metrics;
use crate::trace::Tracing;

/// How long in-flight requests may run after a shutdown signal. Longer than every timeout a
/// BookInfo service applies itself (the longest is reviews' 10 s ratings timeout), shorter than
/// Kubernetes' default 30 s termination grace period.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(15);

/// Largest request body any service accepts (ratings' POST and productpage's login form are
/// tiny; anything bigger is a mistake or an attack).
pub const BODY_LIMIT: usize = 64 * 1024;

/// Listen on `port` on every interface. Tries a dual-stack IPv6 socket first and falls back to
/// IPv4 where IPv6 is unavailable (some containers disable it).
pub fn bind(port: u16) -> io::Result<TcpListener> {
    match bind_addr(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)), true) {
        Ok(l) => Ok(l),
        Err(_) => bind_addr(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)), false),
    }
}

fn bind_addr(addr: SocketAddr, dual_stack: bool) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if dual_stack {
        socket.set_only_v6(false)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}

/// Serve `router` on `listener` until `shutdown` completes, then drain for at most `grace`,
/// with the default connection limits (see [`serve_with`]).
pub async fn serve<F>(
    listener: TcpListener,
    router: Router,
    shutdown: F,
    grace: Duration,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let limits = ServerLimits {
        grace,
        ..ServerLimits::default()
    };
    serve_with(listener, router, shutdown, limits).await
}

/// Serve `router` on `listener` until `shutdown` completes, with `limits` on what each
/// connection may hold (header, idle and body timeouts, a cap on connections); on shutdown,
/// close idle connections at once and drain in-flight requests for at most `limits.grace`.
/// HTTP/1.1, and HTTP/2 from clients that open with its preface (h2c with prior knowledge).
pub async fn serve_with<F>(
    listener: TcpListener,
    router: Router,
    shutdown: F,
    limits: ServerLimits,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    crate::connections::serve(listener, router, shutdown, limits).await
}

/// Completes on SIGINT or SIGTERM (Ctrl-C, `docker stop`, Kubernetes pod deletion).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received"),
        () = term => tracing::info!("SIGTERM received"),
    }
}

/// Which service (and version) is serving, named in every log line it writes.
///
/// The all-in-one launcher runs productpage, details, ratings and three reviews versions in one
/// process with one log; without this a reader could not tell whose `request` line or warning
/// a line is. In a container it costs one short field per line and lets an aggregator group
/// lines by service without parsing pod names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceId {
    pub name: Arc<str>,
    pub version: Arc<str>,
}

impl ServiceId {
    pub fn new(name: &str, version: &str) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
        }
    }

    /// The span that names this service on every log line written inside it. It has no parent:
    /// one such span serves all of a service's requests, so it must not hang under whatever
    /// span was current when it was made.
    pub fn span(&self) -> tracing::Span {
        tracing::info_span!(
            target: crate::trace::bridge::LOG_CONTEXT,
            parent: None,
            "svc",
            service = %self.name,
            version = %self.version
        )
    }
}

/// Wrap a service's routes with the behaviour every service shares (see the module docs),
/// plus one SERVER span per request when `tracing` participates. The span wraps everything
/// else, so the access log line carries the request's trace and span ids.
pub fn harden(router: Router, metrics: Metrics, tracing: Tracing, id: ServiceId) -> Router {
    let around = Arc::new(Around {
        tracing,
        metrics,
        log: LogContext::new(id),
    });
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(around, around_routes))
}

/// What every request goes through around the service's routes, outermost first: its SERVER
/// span in participating mode, its metrics and access log line, and JSON bodies for the
/// framework's rejections.
#[derive(Debug)]
struct Around {
    tracing: Tracing,
    metrics: Metrics,
    log: LogContext,
}

/// The three parts of [`Around`] as one middleware layer. Each `from_fn` layer clones the
/// service inside it, boxes a future and moves the request once more per request; as three
/// layers they cost details 3,800 instructions per request more than as one (42,600 against
/// 38,800; callgrind, `GET /details/0` alone; docs/performance.md).
async fn around_routes(State(around): State<Arc<Around>>, req: Request, next: Next) -> Response {
    crate::trace::server::traced(&around.tracing, req, |req| {
        observe(&around.metrics, &around.log, req, |req| {
            json_rejections(req, next)
        })
    })
    .await
}

/// `{"error": message}` with a JSON content type.
pub fn json_error(status: StatusCode, message: &str) -> Response {
    json_text(status, serde_json::json!({ "error": message }).to_string())
}

/// A response whose body is `body`, text that is already JSON, with a JSON content type.
pub fn json_text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

async fn not_found() -> Response {
    json_error(StatusCode::NOT_FOUND, "not found")
}

async fn method_not_allowed() -> Response {
    json_error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
}

/// Turn the framework's plain-text rejections (oversized body, bad form, missing content type)
/// into the same JSON error shape the services use.
async fn json_rejections(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let is_text = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !is_text {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = match axum::body::to_bytes(body, 4096).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_owned(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() {
        parts
            .status
            .canonical_reason()
            .unwrap_or("error")
            .to_owned()
    } else {
        text
    };
    json_error(parts.status, &message)
}

/// The service's log span, made when the first request arrives (the process's subscriber is
/// installed by then) and entered by every request after it; or, when the text format writes
/// the lines, the span's label, written by that format from a thread-local.
///
/// A span per request (creating, recording and closing it in the subscriber) cost details
/// 2,900 of its 63,400 instructions per request (callgrind, `GET /details/0` alone); a clone of
/// one shared span costs a reference count, and entering it a registry look-up per poll.
#[derive(Debug)]
struct LogContext {
    id: ServiceId,
    span: OnceLock<tracing::Span>,
    /// `svc{service=… version=…}: `, kept for the life of the process (`None` if the bounded
    /// store of such texts is full: the span is entered then).
    label: Option<&'static str>,
}

impl LogContext {
    fn new(id: ServiceId) -> Self {
        let label = match crate::trace::interned(&[&crate::telemetry::service_label(
            &id.name,
            &id.version,
        )]) {
            std::borrow::Cow::Borrowed(label) => Some(label),
            std::borrow::Cow::Owned(_) => None,
        };
        Self {
            id,
            span: OnceLock::new(),
            label,
        }
    }

    fn span(&self) -> tracing::Span {
        self.span.get_or_init(|| self.id.span()).clone()
    }
}

/// Per-request metrics and one structured log line, all inside the service's log context. In
/// participating mode the line carries the request's trace and span ids: the text format reads
/// them from the request's context, the other formats from a span made here under the
/// service's.
async fn observe<F, Fut>(
    metrics: &Metrics,
    context: &LogContext,
    req: Request<Body>,
    inner: F,
) -> Response
where
    F: FnOnce(Request<Body>) -> Fut,
    Fut: Future<Output = Response>,
{
    let in_spans = crate::telemetry::context_in_spans();
    if !in_spans && let Some(label) = context.label {
        return crate::telemetry::InService::new(label, observed(metrics, req, inner)).await;
    }
    let service = context.span();
    // Formatting the ids is skipped when nothing would be logged.
    let trace = req
        .extensions()
        .get::<Arc<crate::trace::RequestTrace>>()
        .filter(|_| in_spans);
    let span = match trace {
        Some(trace) if tracing::enabled!(tracing::Level::INFO) => {
            let (trace_id, span_id) = trace.ids();
            tracing::info_span!(
                target: crate::trace::bridge::LOG_CONTEXT,
                parent: &service,
                "request",
                %trace_id,
                %span_id
            )
        }
        _ => service,
    };
    observed(metrics, req, inner).instrument(span).await
}

async fn observed<F, Fut>(metrics: &Metrics, req: Request<Body>, inner: F) -> Response
where
    F: FnOnce(Request<Body>) -> Fut,
    Fut: Future<Output = Response>,
{
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let resp = inner(req).await;
    let elapsed = started.elapsed();
    let status = resp.status().as_u16();
    metrics.observe_request(&route, method.as_str(), status, elapsed);
    tracing::info!(
        target: "access",
        method = &*truncated(method.as_str()),
        path = &*truncated(&path),
        route = route.as_str(),
        status,
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    resp
}
