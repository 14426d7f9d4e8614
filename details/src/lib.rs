//! BookInfo details service: book metadata, optionally from Google Books.
//!
//! A drop-in replacement for upstream's `details.rb`. Every product id gets the same book
//! (`GET /details/<id>`), either the built-in paperback or, in external mode, the volume Google
//! Books returns for one fixed ISBN. Routes match the way upstream's WEBrick mounts do: by whole
//! path-segment prefix, so `/details/0/` and `/health/anything` are served, with GET, HEAD, POST
//! and PUT all running the handler and OPTIONS listing them.
//!
//! Modules: [`config`] (environment), [`id`] (product ids from the path), [`book`] (the answer),
//! [`google`] (external mode), [`error`] (error answers).

pub mod book;
pub mod config;
pub mod error;
pub mod google;
pub mod id;

use std::future::Future;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use axum::{Json, Router};
use bookinfo_core::client::Client;
use bookinfo_core::headers::Forwarded;
use bookinfo_core::server::json_text;
use bookinfo_core::{Connections, Instruments};
use serde_json::json;
use tokio::net::TcpListener;

pub use crate::book::Book;
pub use crate::config::{Config, Source};
pub use crate::error::DetailsError;

/// The methods upstream's mounted handlers answer, as its `OPTIONS` reply lists them.
const ALLOW: &str = "GET,HEAD,OPTIONS,POST,PUT";

/// Everything a request handler needs; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    config: Arc<Config>,
    client: Client,
    instruments: Instruments,
}

impl AppState {
    /// Build the state once: metrics registry, span export and the pooled HTTP client.
    /// Call it inside the Tokio runtime (span export may start background work).
    pub fn new(config: Config) -> Self {
        let instruments = Instruments::start("details", &config.tracing).with_limits(config.server);
        if let Source::Google(google) = &config.source {
            // Every Google Books call over `https` needs the certificate roots: read them now,
            // off the path of the first request.
            bookinfo_core::tls::preload_for(&google.base);
        }
        Self {
            // Its only downstream is Google Books (or a stand-in for it): one endpoint, nothing
            // to spread over, so connections are simply kept.
            client: instruments.client(
                concat!("bookinfo-details/", env!("CARGO_PKG_VERSION")),
                Connections::Pooled,
            ),
            config: Arc::new(config),
            instruments,
        }
    }
}

/// The details routes, wrapped with the shared middleware.
pub fn app(state: AppState) -> Router {
    let instruments = state.instruments.clone();
    let router = Router::new()
        .route("/health", mounted(health))
        .route("/health/", mounted(health))
        .route("/health/{*rest}", mounted(health))
        .route("/details", mounted(details))
        .route("/details/", mounted(details))
        .route("/details/{*rest}", mounted(details))
        .route("/metrics", get(metrics_handler))
        .with_state(state);
    instruments.harden(router)
}

/// Serve the details service on `listener` until `shutdown` completes, then drain.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let instruments = state.instruments.clone();
    instruments.serve(listener, app(state), shutdown).await
}

/// A handler mounted the WEBrick way: GET (and HEAD), POST and PUT run it, OPTIONS lists them,
/// anything else is 405.
fn mounted<H, T>(handler: H) -> MethodRouter<AppState>
where
    H: axum::handler::Handler<T, AppState> + Clone,
    T: 'static,
{
    get(handler.clone())
        .post(handler.clone())
        .put(handler)
        .options(options)
}

async fn options() -> Response {
    (
        StatusCode::OK,
        [(header::ALLOW, HeaderValue::from_static(ALLOW))],
    )
        .into_response()
}

async fn health() -> Response {
    Json(json!({ "status": "Details is healthy" })).into_response()
}

/// `/details/<id>`: the id is the last non-empty path segment.
///
/// The headers to forward are picked only when Google Books is called: with the built-in
/// books, picking them for every request cost 970 instructions per request in pass-through mode
/// and 1,950 in participating mode (callgrind; docs/performance.md).
async fn details(State(state): State<AppState>, req: Request) -> Result<Response, DetailsError> {
    let id = id::from_path(req.uri().path()).ok_or(DetailsError::NotNumeric)?;
    match &state.config.source {
        Source::Builtin => Ok(json_text(StatusCode::OK, Book::builtin_json(id))),
        Source::Google(google) => {
            let (parts, _) = req.into_parts();
            let book = google::fetch_book(
                &state.client,
                google,
                state.config.google_timeout,
                id,
                &Forwarded::of(&parts),
            )
            .await?;
            Ok(Json(book).into_response())
        }
    }
}

async fn metrics_handler(State(state): State<AppState>) -> Response {
    state.instruments.metrics_response()
}
