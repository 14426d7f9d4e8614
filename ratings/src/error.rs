//! Every error the ratings service answers with, and how each becomes a response.
//!
//! Bodies are upstream's exact texts. Server-side failures are logged once here, with their
//! cause, while the client gets only the fixed message.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bookinfo_core::server::json_error;

/// Why a ratings request failed.
#[derive(Debug)]
pub enum RatingsError {
    /// The last URL segment is not a number.
    BadProductId,
    /// A POST body that is not JSON.
    BadRatingsJson,
    /// Posted ratings over the store's per-product limits.
    RatingsTooLarge,
    /// The store already keeps the most products it may.
    StoreFull,
    /// POST while ratings come from a database (`v2`).
    PostNotImplemented,
    /// A fault mode said no.
    Unavailable,
    /// The database could not be reached (connect, authentication, server selection).
    DatabaseUnreachable { cause: String },
    /// MySQL accepted the connection but the `SELECT` failed.
    SelectFailed { cause: String },
    /// MongoDB accepted the connection but reading the collection failed.
    LoadFailed { cause: String },
}

impl RatingsError {
    /// The path of the variant, e.g. `ratings::RatingsError::SelectFailed`.
    fn path(&self) -> &'static str {
        match self {
            RatingsError::BadProductId => "ratings::RatingsError::BadProductId",
            RatingsError::BadRatingsJson => "ratings::RatingsError::BadRatingsJson",
            RatingsError::RatingsTooLarge => "ratings::RatingsError::RatingsTooLarge",
            RatingsError::StoreFull => "ratings::RatingsError::StoreFull",
            RatingsError::PostNotImplemented => "ratings::RatingsError::PostNotImplemented",
            RatingsError::Unavailable => "ratings::RatingsError::Unavailable",
            RatingsError::DatabaseUnreachable { .. } => {
                "ratings::RatingsError::DatabaseUnreachable"
            }
            RatingsError::SelectFailed { .. } => "ratings::RatingsError::SelectFailed",
            RatingsError::LoadFailed { .. } => "ratings::RatingsError::LoadFailed",
        }
    }

    fn status_and_message(&self) -> (StatusCode, &'static str) {
        match self {
            RatingsError::BadProductId => {
                (StatusCode::BAD_REQUEST, "please provide numeric product ID")
            }
            RatingsError::BadRatingsJson => {
                (StatusCode::BAD_REQUEST, "please provide valid ratings JSON")
            }
            RatingsError::RatingsTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "ratings too large: at most 32 reviewers, names of at most 128 bytes and values of at most 256 bytes of JSON",
            ),
            RatingsError::StoreFull => (
                StatusCode::CONFLICT,
                "ratings store full: ratings can be posted for at most 1000 products",
            ),
            RatingsError::PostNotImplemented => (
                StatusCode::NOT_IMPLEMENTED,
                "Post not implemented for database backed ratings",
            ),
            RatingsError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "Service unavailable"),
            RatingsError::DatabaseUnreachable { .. } => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "could not connect to ratings database",
            ),
            RatingsError::SelectFailed { .. } => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "could not perform select",
            ),
            RatingsError::LoadFailed { .. } => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "could not load ratings from database",
            ),
        }
    }
}

impl IntoResponse for RatingsError {
    fn into_response(self) -> Response {
        let (status, message) = self.status_and_message();
        match &self {
            RatingsError::DatabaseUnreachable { cause }
            | RatingsError::SelectFailed { cause }
            | RatingsError::LoadFailed { cause } => {
                // In a trace, `error.type` is the exception's type.
                tracing::error!(error.type = self.path(), %cause, "{message}");
            }
            _ => {}
        }
        json_error(status, message)
    }
}
