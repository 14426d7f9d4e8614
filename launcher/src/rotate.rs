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
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bookinfo_testing::relay;
use tokio::net::TcpListener;

#[derive(Clone)]
struct Rotation {
    targets: Arc<Vec<String>>,
    next: Arc<AtomicUsize>,
    client: reqwest::Client,
}

/// Serve the rotation on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    targets: Vec<SocketAddr>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let state = Rotation {
        targets: Arc::new(targets.iter().map(ToString::to_string).collect()),
        next: Arc::new(AtomicUsize::new(0)),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default(),
    };
    let router = Router::new().fallback(next_target).with_state(state);
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn next_target(State(rotation): State<Rotation>, req: Request) -> Response {
    let n = rotation.targets.len().max(1);
    match rotation
        .targets
        .get(rotation.next.fetch_add(1, Ordering::Relaxed) % n)
    {
        Some(target) => relay::forward(&rotation.client, target, req).await,
        None => (StatusCode::SERVICE_UNAVAILABLE, "no upstream").into_response(),
    }
}
