//! Serving connections with bounds on what a client can hold.
//!
//! [`crate::server::serve`] accepts connections itself and serves each with hyper (HTTP/1.1, or
//! HTTP/2 when the client opens with its preface, i.e. h2c with prior knowledge), so that every
//! connection has limits no client can stretch:
//!
//! * **header timeout**: from accepting a connection, or from the first byte after a keep-alive
//!   pause, the request head must be complete within [`ServerLimits::header_timeout`]; a client
//!   trickling its headers (slowloris) is disconnected;
//! * **idle timeout**: a keep-alive connection with no request in flight is closed after
//!   [`ServerLimits::idle_timeout`]. It is longer than the services' own client pools keep idle
//!   connections (30 s), so a pooled connection is never closed under a caller's feet;
//! * **body timeout**: a request body must arrive within [`ServerLimits::body_timeout`] of the
//!   request head (408 otherwise), and at most [`crate::server::BODY_LIMIT`] of it (413);
//! * **connection cap**: at most [`ServerLimits::max_connections`] at once. At the cap the
//!   service stops accepting (new connections wait in the kernel's queue), logs a warning, and
//!   closes its idle keep-alive connections to make room; accept errors (file descriptors
//!   exhausted) are logged and do the same;
//! * **drain**: on shutdown, connections with no request in flight (idle, or still sending a
//!   request head or body) are closed at once; only requests being served keep the process
//!   alive, for at most the grace period.
//!
//! It also refuses, before routing, requests without exactly one `Host` header (RFC 9112
//! §3.2: HTTP/1.1 requires one, and two are ambiguous).
//!
//! A connection's state is a few counters shared by the request service (a request starts, its
//! response body ends), the socket (bytes arrive after a pause) and a watchdog loop in the
//! connection's task, which closes the connection by dropping it when a limit is passed.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, Version, header};
use http_body::{Body as _, Frame, SizeHint};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;

use crate::config::EnvReader;
use crate::server::{BODY_LIMIT, DEFAULT_GRACE, json_error};

/// Largest request head (request line and headers) accepted, in HTTP/1.1 and HTTP/2 alike:
/// Envoy's default limit is 60 KiB. Also bounds what a connection buffers while it reads one.
pub const MAX_HEAD: usize = 64 * 1024;

/// Concurrent HTTP/2 streams per connection.
const MAX_STREAMS: u32 = 100;

/// How long a draining connection with nothing in flight may take to close by itself (flushing
/// its last response) before it is dropped.
const DRAIN_IDLE: Duration = Duration::from_secs(1);

/// Pause after an accept error before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Bounds on connections, read from the environment (`SERVER_*`, the same in every service).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// `SERVER_HEADER_TIMEOUT_SECONDS`: time to send a complete request head.
    pub header_timeout: Duration,
    /// `SERVER_IDLE_TIMEOUT_SECONDS`: how long a keep-alive connection may sit idle.
    pub idle_timeout: Duration,
    /// `SERVER_BODY_TIMEOUT_SECONDS`: time to send a request body once the head has arrived.
    pub body_timeout: Duration,
    /// `SERVER_MAX_CONNECTIONS`: connections served at once.
    pub max_connections: usize,
    /// How long in-flight requests may run after a shutdown signal.
    pub grace: Duration,
}

impl ServerLimits {
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(5);
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
    pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
    /// Envoy's default cap on connections to one upstream cluster.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

    /// The `SERVER_*` variables, recording bad values in `env`.
    pub fn read(env: &mut EnvReader<'_>) -> Self {
        let mut seconds = |name: &'static str, default: Duration| {
            let value = env.seconds(name, default);
            if value.is_zero() {
                env.error(name, "must be greater than zero");
                default
            } else {
                value
            }
        };
        let header_timeout = seconds(
            "SERVER_HEADER_TIMEOUT_SECONDS",
            Self::DEFAULT_HEADER_TIMEOUT,
        );
        let idle_timeout = seconds("SERVER_IDLE_TIMEOUT_SECONDS", Self::DEFAULT_IDLE_TIMEOUT);
        let body_timeout = seconds("SERVER_BODY_TIMEOUT_SECONDS", Self::DEFAULT_BODY_TIMEOUT);
        let max_connections = env.parse("SERVER_MAX_CONNECTIONS", Self::DEFAULT_MAX_CONNECTIONS);
        let max_connections = if max_connections == 0 {
            env.error("SERVER_MAX_CONNECTIONS", "must be at least 1");
            Self::DEFAULT_MAX_CONNECTIONS
        } else {
            max_connections.min(Semaphore::MAX_PERMITS)
        };
        Self {
            header_timeout,
            idle_timeout,
            body_timeout,
            max_connections,
            grace: DEFAULT_GRACE,
        }
    }
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_timeout: Self::DEFAULT_HEADER_TIMEOUT,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            body_timeout: Self::DEFAULT_BODY_TIMEOUT,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            grace: DEFAULT_GRACE,
        }
    }
}

/// Accept and serve connections until `shutdown` completes, then drain (see the module docs).
pub(crate) async fn serve<F>(
    listener: TcpListener,
    router: Router,
    shutdown: F,
    limits: ServerLimits,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().keep_alive(true).max_buf_size(MAX_HEAD);
    builder
        .http2()
        .max_concurrent_streams(MAX_STREAMS)
        .max_header_list_size(u32::try_from(MAX_HEAD).unwrap_or(u32::MAX));
    let shared = Arc::new(Shared {
        builder,
        router,
        limits,
        pressure: Notify::new(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        let slot = tokio::select! {
            slot = free_slot(&slots, &shared) => slot,
            () = &mut shutdown => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        match accepted {
            Ok((tcp, _)) => {
                // Small JSON answers: do not let Nagle hold them back.
                let _ = tcp.set_nodelay(true);
                connections.spawn(serve_connection(tcp, shared.clone(), stop_rx.clone(), slot));
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
                ) =>
            {
                tracing::debug!(cause = %e, "connection reset before it was accepted");
            }
            Err(e) => {
                crate::throttled_warn!(
                    "accept-error",
                    cause = %e,
                    open_connections = connections.len(),
                    "cannot accept connections; closing idle ones and retrying"
                );
                shared.pressure.notify_waiters();
                tokio::select! {
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                    () = &mut shutdown => break,
                }
            }
        }
    }
    drop(listener);
    tracing::info!(
        grace_s = limits.grace.as_secs_f64(),
        open_connections = connections.len(),
        "shutdown requested; closing idle connections and draining in-flight requests"
    );
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(limits.grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    match drained {
        Ok(()) => tracing::info!("drained; exiting"),
        Err(_) => {
            tracing::warn!(
                open_connections = connections.len(),
                "grace period elapsed with requests still in flight; exiting anyway"
            );
            connections.abort_all();
        }
    }
    Ok(())
}

/// What every connection of one server shares.
struct Shared {
    builder: auto::Builder<TokioExecutor>,
    router: Router,
    limits: ServerLimits,
    /// Notified when the server needs room: idle connections close.
    pressure: Notify,
}

/// A connection slot; at the cap, ask idle connections to close (again every second) until one
/// is free.
async fn free_slot(slots: &Arc<Semaphore>, shared: &Shared) -> OwnedSemaphorePermit {
    if let Ok(slot) = slots.clone().try_acquire_owned() {
        return slot;
    }
    crate::throttled_warn!(
        "connection-cap",
        max_connections = shared.limits.max_connections,
        "connection limit reached; closing idle connections, new ones wait"
    );
    loop {
        shared.pressure.notify_waiters();
        tokio::select! {
            slot = slots.clone().acquire_owned() => {
                if let Ok(slot) = slot {
                    return slot;
                }
                // The semaphore is never closed; should it be, wait for shutdown instead.
                std::future::pending::<()>().await;
            }
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Serve one connection until it ends or a limit closes it.
async fn serve_connection(
    tcp: TcpStream,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    let conn = Arc::new(Conn::new());
    let io = TokioIo::new(Watched {
        inner: tcp,
        conn: conn.clone(),
    });
    let service = {
        let (shared, conn, stop) = (shared.clone(), conn.clone(), stop.clone());
        hyper::service::service_fn(move |req| {
            handle(shared.clone(), conn.clone(), stop.clone(), req)
        })
    };
    let limits = shared.limits;
    let mut connection = pin!(shared.builder.serve_connection(io, service));
    let mut draining: Option<Instant> = None;
    // The watchdog's futures live as long as the connection and are renewed only when they
    // fire: a request passes through two state changes, and making these afresh for each (a
    // timer entry, a waiter in the server-wide `pressure` list, one in the stop channel's)
    // cost more than the rest of the watchdog.
    let mut timer = pin!(tokio::time::sleep_until(
        Instant::now() + limits.header_timeout
    ));
    let mut woken = pin!(conn.wake.notified());
    let mut pressed = pin!(shared.pressure.notified());
    let mut stopped = pin!(stop.wait_for(|stop| *stop));
    // One poll of the task polls the connection, then looks at the state it left: the changes
    // a request makes from inside the connection's poll (bytes arrive, a response is sent) need
    // no wake-up of the task to be seen (see `Conn::changed`).
    let ended = std::future::poll_fn(|cx| {
        loop {
            let (polled, state) = conn.poll_connection(|| connection.as_mut().poll(cx));
            if let Poll::Ready(ended) = polled {
                return Poll::Ready(ended.err());
            }
            let now = Instant::now();
            let Some(deadline) = next_deadline(state, draining, &limits, now) else {
                return Poll::Ready(None);
            };
            if let Some(deadline) = deadline {
                if timer.deadline() != deadline {
                    timer.as_mut().reset(deadline);
                }
                if timer.as_mut().poll(cx).is_ready() {
                    continue;
                }
            }
            if woken.as_mut().poll(cx).is_ready() {
                woken.set(conn.wake.notified());
                continue;
            }
            if draining.is_none() {
                if pressed.as_mut().poll(cx).is_ready() {
                    pressed.set(shared.pressure.notified());
                    if state.is_idle() {
                        connection.as_mut().graceful_shutdown();
                        draining = Some(now);
                    }
                    continue;
                }
                if stopped.as_mut().poll(cx).is_ready() {
                    connection.as_mut().graceful_shutdown();
                    draining = Some(now);
                    continue;
                }
            }
            return Poll::Pending;
        }
    })
    .await;
    if let Some(e) = ended {
        tracing::debug!(cause = %e, "connection ended with an error");
    }
}

/// When the watchdog must next look at a connection in `state` (`Some(None)`: only when
/// something changes), or `None` when it is to be closed now: it is idle or slow to send its
/// request for longer than its limit, or it is draining (since `draining`) with nothing in
/// flight.
fn next_deadline(
    state: State,
    draining: Option<Instant>,
    limits: &ServerLimits,
    now: Instant,
) -> Option<Option<Instant>> {
    match draining {
        Some(started) if state.active == 0 => {
            // Nothing in flight: a client still sending goes at once; otherwise hyper closes
            // the connection once its last response is flushed, or this does a moment later.
            let quiet_since = state.since.max(started);
            if state.reading || now >= quiet_since + DRAIN_IDLE {
                return None;
            }
            Some(Some(quiet_since + DRAIN_IDLE))
        }
        Some(_) => Some(None),
        None if state.active == 0 => {
            let limit = if state.reading {
                limits.header_timeout
            } else {
                limits.idle_timeout
            };
            if now >= state.since + limit {
                tracing::debug!(
                    reading = state.reading,
                    "closing a connection that is idle or slow to send its request"
                );
                return None;
            }
            Some(Some(state.since + limit))
        }
        None => Some(None),
    }
}

/// One request: checks that need no routing, the body read within its limits, then the router.
/// The returned body keeps the request counted as in flight until it has been sent.
async fn handle(
    shared: Arc<Shared>,
    conn: Arc<Conn>,
    mut stop: watch::Receiver<bool>,
    req: Request<Incoming>,
) -> Result<Response<CountedBody>, Infallible> {
    let in_flight = conn.request_started();
    let response = respond(&shared, &mut stop, req).await;
    Ok(response.map(|body| CountedBody {
        inner: body,
        in_flight: Some(in_flight),
    }))
}

async fn respond(
    shared: &Shared,
    stop: &mut watch::Receiver<bool>,
    req: Request<Incoming>,
) -> Response<Body> {
    let version = req.version();
    if !host_is_valid(&req) {
        return refuse(
            version,
            StatusCode::BAD_REQUEST,
            "a request needs exactly one Host header",
        );
    }
    let (parts, body) = req.into_parts();
    let body = match read_body(body, stop, shared.limits.body_timeout).await {
        Ok(body) => body,
        Err((status, message)) => return refuse(version, status, message),
    };
    let req = Request::from_parts(parts, Body::from(body));
    match shared.router.clone().oneshot(req).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// RFC 9112 §3.2: an HTTP/1.1 request carries exactly one `Host`; HTTP/1.0 may omit it; an
/// HTTP/2 request names its authority in `:authority` or one `Host`.
pub fn host_is_valid<B>(req: &Request<B>) -> bool {
    let hosts = req.headers().get_all(header::HOST).iter().count();
    match req.version() {
        Version::HTTP_11 => hosts == 1,
        Version::HTTP_2 | Version::HTTP_3 => {
            hosts == 1 || (hosts == 0 && req.uri().authority().is_some())
        }
        _ => hosts <= 1,
    }
}

/// The whole request body, within the size limit and the body timeout, unless the server starts
/// shutting down first.
async fn read_body(
    body: Incoming,
    stop: &mut watch::Receiver<bool>,
    timeout: Duration,
) -> Result<Bytes, (StatusCode, &'static str)> {
    const TOO_LARGE: (StatusCode, &str) = (StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
    if body.is_end_stream() {
        return Ok(Bytes::new());
    }
    if body.size_hint().lower() > BODY_LIMIT as u64 {
        return Err(TOO_LARGE);
    }
    let read = tokio::time::timeout(timeout, Limited::new(body, BODY_LIMIT).collect());
    tokio::select! {
        read = read => match read {
            Ok(Ok(collected)) => Ok(collected.to_bytes()),
            Ok(Err(e)) if e.is::<LengthLimitError>() => Err(TOO_LARGE),
            Ok(Err(_)) => Err((StatusCode::BAD_REQUEST, "the request body could not be read")),
            Err(_) => Err((StatusCode::REQUEST_TIMEOUT, "request body not received in time")),
        },
        _ = stop.wait_for(|stop| *stop) => {
            Err((StatusCode::SERVICE_UNAVAILABLE, "shutting down"))
        }
    }
}

/// A JSON error that also ends an HTTP/1 connection (the rest of what the client sent is not
/// worth reading).
fn refuse(version: Version, status: StatusCode, message: &str) -> Response<Body> {
    let mut response = json_error(status, message);
    if matches!(version, Version::HTTP_10 | Version::HTTP_11) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// What the watchdog of one connection needs to know.
#[derive(Debug)]
struct Conn {
    state: Mutex<State>,
    /// Notified when a deadline may have moved earlier (or appeared).
    wake: Notify,
}

#[derive(Debug, Clone, Copy)]
struct State {
    /// Requests being served: head received, response body not yet sent.
    active: usize,
    /// With nothing in flight: whether the client is sending (a new connection, or bytes after
    /// a keep-alive pause) rather than idle.
    reading: bool,
    /// When the current idle or reading phase began.
    since: Instant,
    /// Whether the connection's task is polling the connection right now.
    polling: bool,
}

impl State {
    fn is_idle(&self) -> bool {
        self.active == 0 && !self.reading
    }
}

impl Conn {
    fn new() -> Self {
        Self {
            state: Mutex::new(State {
                active: 0,
                reading: true,
                since: Instant::now(),
                polling: false,
            }),
            wake: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `poll` (the connection's own poll) with `polling` set, and returns what it returned
    /// with the state it left.
    fn poll_connection<T>(&self, poll: impl FnOnce() -> T) -> (T, State) {
        self.lock().polling = true;
        let polled = poll();
        let mut state = self.lock();
        state.polling = false;
        (polled, *state)
    }

    /// After a change that may have moved a deadline earlier: wake the connection's task, unless
    /// the change was made from inside its poll of the connection (bytes read, an HTTP/1
    /// response sent), which reads the state when that poll returns. A task woken from its own
    /// poll is polled again, and on a multi-threaded runtime a sleeping worker is woken to share
    /// the work; every HTTP/1 request made two such changes. Not waking the task for them raised
    /// the page's throughput by 1.050 at 16 connections (median of 15 alternating rounds against
    /// the previous build, `GET /productpage`, reviews v2) and by 1.040 at 64 (9 rounds).
    fn changed(&self, state: MutexGuard<'_, State>) {
        let polling = state.polling;
        drop(state);
        if !polling {
            self.wake.notify_one();
        }
    }

    fn request_started(self: &Arc<Self>) -> InFlight {
        let mut state = self.lock();
        state.active += 1;
        state.reading = false;
        InFlight(self.clone())
    }

    fn bytes_arrived(&self) {
        let mut state = self.lock();
        if state.is_idle() {
            state.reading = true;
            state.since = Instant::now();
            self.changed(state);
        }
    }
}

/// A request in flight; dropped when its response body has been sent (or abandoned).
#[derive(Debug)]
struct InFlight(Arc<Conn>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.active = state.active.saturating_sub(1);
        if state.active == 0 {
            state.reading = false;
            state.since = Instant::now();
            self.0.changed(state);
        }
    }
}

/// A response body that ends its request's [`InFlight`] when it has been sent.
#[derive(Debug)]
pub(crate) struct CountedBody {
    inner: Body,
    in_flight: Option<InFlight>,
}

impl http_body::Body for CountedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            this.in_flight = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The socket, telling its connection when bytes arrive.
#[derive(Debug)]
struct Watched {
    inner: TcpStream,
    conn: Arc<Conn>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.conn.bytes_arrived();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EnvReader;

    #[test]
    fn limits_from_the_environment() {
        let empty: [(&str, &str); 0] = [];
        assert_eq!(
            ServerLimits::read(&mut EnvReader::new(&empty)),
            ServerLimits::default()
        );
        let env = [
            ("SERVER_HEADER_TIMEOUT_SECONDS", "0.5"),
            ("SERVER_IDLE_TIMEOUT_SECONDS", "2"),
            ("SERVER_BODY_TIMEOUT_SECONDS", "1.5"),
            ("SERVER_MAX_CONNECTIONS", "10"),
        ];
        let limits = ServerLimits::read(&mut EnvReader::new(&env));
        assert_eq!(limits.header_timeout, Duration::from_millis(500));
        assert_eq!(limits.idle_timeout, Duration::from_secs(2));
        assert_eq!(limits.body_timeout, Duration::from_millis(1500));
        assert_eq!(limits.max_connections, 10);
        let bad = [
            ("SERVER_HEADER_TIMEOUT_SECONDS", "0"),
            ("SERVER_IDLE_TIMEOUT_SECONDS", "-1"),
            ("SERVER_BODY_TIMEOUT_SECONDS", "soon"),
            ("SERVER_MAX_CONNECTIONS", "0"),
        ];
        let mut reader = EnvReader::new(&bad);
        ServerLimits::read(&mut reader);
        let errors = reader.finish(()).unwrap_err();
        for name in [
            "SERVER_HEADER_TIMEOUT_SECONDS",
            "SERVER_IDLE_TIMEOUT_SECONDS",
            "SERVER_BODY_TIMEOUT_SECONDS",
            "SERVER_MAX_CONNECTIONS",
        ] {
            assert!(errors.mentions(name), "{name}: {errors}");
        }
    }

    #[test]
    fn host_header_rules() {
        let req = |version, hosts: &[&str], uri: &str| {
            let mut b = Request::builder().version(version).uri(uri);
            for h in hosts {
                b = b.header(header::HOST, *h);
            }
            b.body(()).unwrap()
        };
        assert!(host_is_valid(&req(Version::HTTP_11, &["a"], "/")));
        assert!(!host_is_valid(&req(Version::HTTP_11, &[], "/")));
        assert!(!host_is_valid(&req(Version::HTTP_11, &["a", "b"], "/")));
        assert!(host_is_valid(&req(Version::HTTP_10, &[], "/")));
        assert!(!host_is_valid(&req(Version::HTTP_10, &["a", "a"], "/")));
        assert!(host_is_valid(&req(Version::HTTP_2, &[], "http://a/")));
        assert!(!host_is_valid(&req(Version::HTTP_2, &[], "/")));
    }
}
