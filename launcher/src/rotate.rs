//! A tiny round-robin HTTP proxy: what a Kubernetes Service (or an Istio mesh with equal
//! weights) does for the reviews versions. Every request goes to the next target in turn, so
//! refreshing the page shows v1, v2 and v3 in rotation even though productpage keeps one pooled
//! connection.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;

#[derive(Clone)]
struct Rotation {
    targets: Arc<Vec<SocketAddr>>,
    next: Arc<AtomicUsize>,
    client: reqwest::Client,
}

/// Headers that belong to one connection, never to be relayed.
const HOP_BY_HOP: &[HeaderName] = &[
    header::CONNECTION,
    header::HOST,
    header::TRANSFER_ENCODING,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
    header::CONTENT_LENGTH,
];

/// Serve the rotation on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    targets: Vec<SocketAddr>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let state = Rotation {
        targets: Arc::new(targets),
        next: Arc::new(AtomicUsize::new(0)),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default(),
    };
    let router = Router::new().fallback(relay).with_state(state);
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn relay(State(rotation): State<Rotation>, req: Request) -> Response {
    let n = rotation.targets.len().max(1);
    let Some(target) = rotation
        .targets
        .get(rotation.next.fetch_add(1, Ordering::Relaxed) % n)
    else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no upstream").into_response();
    };
    let (parts, body) = req.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let body = match axum::body::to_bytes(body, 1 << 20).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response(),
    };
    let mut headers = parts.headers;
    for h in HOP_BY_HOP {
        headers.remove(h);
    }
    let sent = rotation
        .client
        .request(parts.method, format!("http://{target}{path}"))
        .headers(headers)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(resp) => {
            let status = resp.status();
            let mut headers = resp.headers().clone();
            for h in HOP_BY_HOP {
                headers.remove(h);
            }
            let body = Body::from_stream(resp.bytes_stream());
            let mut out = Response::new(body);
            *out.status_mut() = status;
            *out.headers_mut() = headers;
            out
        }
        Err(_) => (StatusCode::BAD_GATEWAY, "upstream unavailable").into_response(),
    }
}
