//! Everything that makes the reviews service answer with an error status.
//!
//! Ratings failures are not among them: they are reported inside a 200 answer. What remains is a
//! product id that is not a 32-bit integer, which upstream's JAX-RS resource does not match at
//! all, hence 404.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bookinfo_core::server::json_error;

/// A request the reviews service cannot answer.
#[derive(Debug, thiserror::Error)]
pub enum ReviewsError {
    /// The path segment after `/reviews/` is not a 32-bit integer.
    #[error("not found: product id must be an integer")]
    UnknownProduct,
}

impl IntoResponse for ReviewsError {
    fn into_response(self) -> Response {
        match self {
            Self::UnknownProduct => json_error(StatusCode::NOT_FOUND, &self.to_string()),
        }
    }
}
