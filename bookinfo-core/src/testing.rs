//! Test support shared by every crate's tests (feature `testing`).
//!
//! * [`spawn`] starts a service's real `run` on a loopback port-0 listener and stops it again.
//! * [`FakeServer`] is a small real HTTP server standing in for a downstream (a backend service,
//!   Google Books, a sidecar): it records every request it receives, headers included, and answers
//!   with a scripted [`Reply`] that may be delayed or never sent.

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

use crate::cli::Shutdown;

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

/// Bind 127.0.0.1:0 and run `run(listener, shutdown)` in the background.
pub async fn spawn<F, Fut>(run: F) -> Spawned
where
    F: FnOnce(TcpListener, Shutdown) -> Fut,
    Fut: Future<Output = io::Result<()>> + Send + 'static,
{
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind a loopback port");
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
        let requests = Arc::new(Mutex::new(Vec::new()));
        let state = FakeState {
            requests: requests.clone(),
            responder: Arc::new(responder),
        };
        let router = Router::new().fallback(record).with_state(state);
        let server = spawn(|listener, shutdown| async move {
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
