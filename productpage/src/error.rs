//! The one error type of productpage, and how each case becomes a response.
//!
//! Backend failures are not errors here: they are part of the page (upstream's error blocks) or
//! of the API answer (the backend's status and upstream's error JSON). What remains is bad input
//! (4xx with a short JSON reason) and our own faults (500, logged once, generic body).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bookinfo_core::server::json_error;

#[derive(Debug)]
pub enum Error {
    /// The login form body is not valid `application/x-www-form-urlencoded`.
    BadForm,
    /// A login with a body that is not a urlencoded form (e.g. a cross-site `text/plain` post).
    NotAForm,
    /// A login a browser marked as coming from another site.
    CrossSite,
    /// The user name is longer than `limit` bytes, so it would not fit in a cookie.
    UserNameTooLong { limit: usize },
    /// The `Cookie` header is larger than we accept.
    CookieTooLarge,
    /// A template failed to render (a bug in this crate).
    Render(askama::Error),
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Self::BadForm => json_error(StatusCode::BAD_REQUEST, "invalid form body"),
            Self::NotAForm => json_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "sign in with an application/x-www-form-urlencoded form",
            ),
            Self::CrossSite => json_error(StatusCode::FORBIDDEN, "cross-site sign-in refused"),
            Self::UserNameTooLong { limit } => json_error(
                StatusCode::BAD_REQUEST,
                &format!("username longer than {limit} bytes"),
            ),
            Self::CookieTooLarge => json_error(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "cookie header too large",
            ),
            Self::Render(e) => {
                tracing::error!(cause = %e, "template rendering failed");
                json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        }
    }
}

impl From<askama::Error> for Error {
    fn from(e: askama::Error) -> Self {
        Self::Render(e)
    }
}
