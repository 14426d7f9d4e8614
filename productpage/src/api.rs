//! The JSON API under `/api/v1`: the product list, and pass-throughs to details, reviews and
//! ratings that answer with the backend's status and re-serialized JSON (see [`crate::pyjson`]).
//!
//! The product id is checked before any backend call: only integers (upstream's ids) are sent,
//! as one encoded path segment, so a request cannot steer productpage to another backend path
//! or add a query. Any other id gets what upstream's backend would have answered for it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::backend::{Destination, Fetched, is_product_id};
use bookinfo_core::server::json_text;

use crate::{AppState, Caller, product, pyjson};

/// `GET /api/v1/products`: no backend call.
pub async fn products() -> Response {
    json_text(StatusCode::OK, pyjson::to_string(&product::products()))
}

/// `GET /api/v1/products/{id}`: details' object (not the product), with details' status.
pub async fn product(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Caller { forwarded, .. }: Caller,
) -> Response {
    if !is_product_id(&id) {
        return answer(state.backends.refused(Destination::Details));
    }
    answer(state.backends.details(&id, &forwarded).await)
}

/// `GET /api/v1/products/{id}/reviews`: the 2-attempt reviews call, no flooding.
pub async fn reviews(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Caller { forwarded, .. }: Caller,
) -> Response {
    if !is_product_id(&id) {
        return answer(state.backends.refused(Destination::Reviews));
    }
    answer(state.backends.reviews(&id, &forwarded).await)
}

/// `GET /api/v1/products/{id}/ratings`: ratings directly, one attempt.
pub async fn ratings(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Caller { forwarded, .. }: Caller,
) -> Response {
    if !is_product_id(&id) {
        return answer(state.backends.refused(Destination::Ratings));
    }
    answer(state.backends.ratings(&id, &forwarded).await)
}

fn answer(fetched: Fetched) -> Response {
    // Backends may answer with codes `http` rejects (< 100 or > 999); those become 500.
    let status = StatusCode::from_u16(fetched.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_text(status, pyjson::to_string(&fetched.body))
}
