//! Everything that makes the details service answer with an error, and how it is answered.
//!
//! Upstream answers every failure with 400 and `{"error": <message>}`, including failures of the
//! Google Books call (its handler rescues any exception that way), and productpage only looks at
//! the status. We keep the status and the body shape and make the messages say what went wrong.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bookinfo_core::server::json_error;

/// A request the details service could not answer with a book.
#[derive(Debug, thiserror::Error)]
pub enum DetailsError {
    /// The last path segment is not an integer.
    #[error("please provide numeric product id")]
    NotNumeric,
    /// Google Books could not be reached or gave no usable volume; the message says why.
    #[error("{0}")]
    External(String),
}

impl IntoResponse for DetailsError {
    fn into_response(self) -> Response {
        if let Self::External(message) = &self {
            bookinfo_core::throttled_warn!(
                "google-books-unavailable",
                cause = %message,
                "book details unavailable from Google Books"
            );
        }
        json_error(StatusCode::BAD_REQUEST, &self.to_string())
    }
}
