//! BookInfo reviews service: two reviews, with star ratings from the ratings service in v2/v3.
//!
//! A drop-in replacement for upstream's Java reviews service. `GET /reviews/<id>` always answers
//! 200 with the same two reviews; in v2/v3 (`ENABLE_RATINGS=true`) each carries the stars the
//! ratings service returned, coloured `STAR_COLOR`, or an error object when they could not be had.
//!
//! Modules: [`config`] (environment and version selection), [`ratings`] (the downstream call),
//! [`body`] (the exact answer text), [`error`] (error answers).

pub mod body;
pub mod config;
pub mod error;
pub mod ratings;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use bookinfo_core::Instruments;
use bookinfo_core::client::Client;
use bookinfo_core::headers::Forwarded;
use bookinfo_core::server::json_text;
use tokio::net::TcpListener;

use crate::body::{Answer, Rating};
pub use crate::config::Config;
pub use crate::error::ReviewsError;

/// Everything a request handler needs; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    config: Arc<Config>,
    client: Client,
    instruments: Instruments,
}

impl AppState {
    /// Build the state once: metrics registry and the pooled client for ratings.
    pub fn new(config: Config) -> Self {
        let instruments = Instruments::start("reviews", &config.tracing).with_limits(config.server);
        Self {
            client: instruments.client(
                concat!("bookinfo-reviews/", env!("CARGO_PKG_VERSION")),
                config.connections,
            ),
            config: Arc::new(config),
            instruments,
        }
    }
}

/// The reviews routes, wrapped with the shared middleware.
pub fn app(state: AppState) -> Router {
    let instruments = state.instruments.clone();
    let router = Router::new()
        .route("/health", get(health))
        .route("/reviews/{product_id}", get(reviews))
        .route("/metrics", get(metrics_handler))
        .with_state(state);
    instruments.harden(router)
}

/// Serve the reviews service on `listener` until `shutdown` completes, then drain.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let instruments = state.instruments.clone();
    instruments.serve(listener, app(state), shutdown).await
}

/// Upstream's health body, with its space after the colon.
async fn health() -> Response {
    json_text(
        StatusCode::OK,
        r#"{"status": "Reviews is healthy"}"#.to_owned(),
    )
}

/// `/reviews/<id>`: the id must be a 32-bit integer (leading zeros and a sign allowed).
async fn reviews(
    State(state): State<AppState>,
    product_id: Result<Path<String>, PathRejection>,
    forwarded: Forwarded,
) -> Result<Response, ReviewsError> {
    let Ok(Path(raw)) = product_id else {
        return Err(ReviewsError::UnknownProduct);
    };
    let product_id: i32 = raw.parse().map_err(|_| ReviewsError::UnknownProduct)?;
    let config = &state.config;
    let ratings = if config.ratings_enabled {
        let stars = ratings::fetch(
            &state.client,
            &config.ratings_base,
            product_id,
            config.ratings_timeout,
            &forwarded,
        )
        .await;
        stars.map(|s| s.map_or(Rating::Unavailable, Rating::Stars))
    } else {
        [Rating::Disabled; 2]
    };
    let answer = Answer {
        product_id,
        podname: config.podname.as_deref(),
        clustername: config.clustername.as_deref(),
        star_color: &config.star_color,
        ratings,
    };
    Ok(json_text(StatusCode::OK, answer.render()))
}

async fn metrics_handler(State(state): State<AppState>) -> Response {
    state.instruments.metrics_response()
}
