//! The HTTP surface: `/ratings/<id>` (GET, POST), `/health` and `/metrics`.
//!
//! Upstream's dispatcher matches any path starting with `/ratings/` and only then looks at the
//! id, so routing here is by prefix too and the id comes from the raw URL ([`ProductId`]).
//! Methods are dispatched by hand because upstream's answers differ per path: `POST /health` is
//! a 404 there (kept), while methods other than GET and POST never got an answer at all (here
//! they get a JSON 405 instead).

use std::fmt::Write as _;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use bookinfo_core::server::{json_error, json_text};
use serde_json::{Value, json};

use crate::config::Version;
use crate::error::RatingsError;
use crate::product_id::ProductId;
use crate::{AppState, Inner};

/// The service's own routes (without the shared middleware; see [`crate::app`]).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/ratings/", any(ratings))
        .route("/ratings/{*rest}", any(ratings))
        .route("/health", any(health))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn ratings(State(state): State<AppState>, method: Method, uri: Uri, body: Bytes) -> Response {
    let raw_url = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    let result = match method {
        Method::GET => get_ratings(&state.inner, raw_url).await,
        Method::POST => post_ratings(&state.inner, raw_url, &body),
        _ => return method_not_allowed("GET, POST"),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn get_ratings(state: &Inner, raw_url: &str) -> Result<Response, RatingsError> {
    let id = ProductId::from_raw_url(raw_url).ok_or(RatingsError::BadProductId)?;
    let ratings = match &state.database {
        Some(database) => database.ratings().await?.to_string().into(),
        None => {
            state.faults.before_get().await?;
            state.store.get(|| id.key())
        }
    };
    Ok(product_ratings(&id, &ratings))
}

fn post_ratings(state: &Inner, raw_url: &str, body: &[u8]) -> Result<Response, RatingsError> {
    let id = ProductId::from_raw_url(raw_url).ok_or(RatingsError::BadProductId)?;
    // Any JSON value is accepted, as upstream stores whatever `JSON.parse` returns, within the
    // store's limits.
    let ratings: Value = serde_json::from_slice(body).map_err(|_| RatingsError::BadRatingsJson)?;
    if state.version == Version::Database {
        return Err(RatingsError::PostNotImplemented);
    }
    let kept = state.store.put(id.key(), &ratings)?;
    Ok(product_ratings(&id, &kept))
}

/// `{"id":<id>,"ratings":<ratings>}`, compact, keys in that order; `ratings` is JSON text.
fn product_ratings(id: &ProductId, ratings: &str) -> Response {
    let mut body = String::with_capacity(24 + ratings.len());
    // A `Number` displays as the JSON number it is; writing into a `String` cannot fail.
    let _ = write!(body, r#"{{"id":{},"ratings":{ratings}}}"#, id.number());
    json_text(StatusCode::OK, body)
}

async fn health(State(state): State<AppState>, method: Method) -> Response {
    match method {
        Method::GET if state.inner.faults.healthy() => {
            json_response(StatusCode::OK, &json!({ "status": "Ratings is healthy" }))
        }
        Method::GET => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({ "status": "Ratings is not healthy" }),
        ),
        // Upstream only routes GET for /health; a POST falls through to its 404.
        Method::POST => json_error(StatusCode::NOT_FOUND, "not found"),
        _ => method_not_allowed("GET"),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    state.metrics().response()
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    json_text(status, body.to_string())
}

fn method_not_allowed(allow: &'static str) -> Response {
    let mut resp = json_error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}
