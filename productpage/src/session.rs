//! The browser session: who is signed in, kept in a signed cookie named `session`.
//!
//! The cookie holds only the user name; the signature (key derived from `SESSION_SECRET`) makes a
//! tampered or foreign cookie read as "signed out" rather than as someone else. There is no
//! server-side state, so any replica accepts any replica's cookie. Passwords are not checked:
//! the user name exists only so Istio can route on the `end-user` header.

use axum::body::Bytes;
use axum::extract::Query;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::SignedCookieJar;
use axum_extra::extract::cookie::{Cookie, Key};
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::error::Error;

/// Cookie name, as upstream (Flask's default).
pub const COOKIE: &str = "session";

/// Longest accepted user name. The name travels in a cookie and in a header on every backend
/// call; browsers drop cookies over 4 KiB, so a bigger name could never work anyway.
pub const MAX_USER_LEN: usize = 256;

/// Where to go after signing in or out when the request has no `Referer` (upstream sends the
/// literal `Location: None`, which a browser resolves to `/None`).
pub const DEFAULT_REDIRECT: &str = "/productpage";

/// Upstream's exact clearing cookie (Flask's): an empty value that expired at the epoch.
const CLEARED: &str =
    "session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly; Path=/";

/// The signing key, derived from the configured secret (checked to be long enough at start-up).
pub fn key(secret: &str) -> Key {
    Key::derive_from(secret.as_bytes())
}

/// The signed-in user, if the request carries a valid session cookie.
pub fn user(jar: &SignedCookieJar) -> Option<String> {
    let cookie = jar.get(COOKIE)?;
    let name = percent_decode_str(cookie.value()).decode_utf8().ok()?;
    (!name.is_empty()).then(|| name.into_owned())
}

/// `POST /login`: `username` from the query string or a urlencoded form; any password.
pub async fn login(
    jar: SignedCookieJar,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Error> {
    let form: Vec<(String, String)> = if is_form(&headers) {
        serde_urlencoded::from_bytes(&body).map_err(|_| Error::BadForm)?
    } else {
        Vec::new()
    };
    // Werkzeug's `request.values` looks in the query string first, then the form.
    let username = query
        .into_iter()
        .chain(form)
        .find(|(k, _)| k == "username")
        .map(|(_, v)| v);
    let Some(username) = username.filter(|u| !u.is_empty()) else {
        // No name: nobody is signed in (upstream stores a null user, which renders the same).
        return Ok(redirect(&headers, Some(HeaderValue::from_static(CLEARED))));
    };
    if username.len() > MAX_USER_LEN {
        return Err(Error::UserNameTooLong);
    }
    let value = utf8_percent_encode(&username, NON_ALPHANUMERIC).to_string();
    let jar = jar.add(Cookie::build((COOKIE, value)).path("/").http_only(true));
    Ok((jar, redirect(&headers, None)).into_response())
}

/// `GET /logout`: clear the cookie and go back where the user came from.
pub async fn logout(headers: HeaderMap) -> Response {
    redirect(&headers, Some(HeaderValue::from_static(CLEARED)))
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// 302 to the `Referer` (or [`DEFAULT_REDIRECT`]), optionally setting a cookie.
fn redirect(headers: &HeaderMap, set_cookie: Option<HeaderValue>) -> Response {
    let location = headers
        .get(header::REFERER)
        .cloned()
        .unwrap_or(HeaderValue::from_static(DEFAULT_REDIRECT));
    let mut resp = (
        StatusCode::FOUND,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::VARY, HeaderValue::from_static("Cookie")),
        ],
        "<!DOCTYPE html>\n<title>Redirecting...</title>\n<p>Redirecting...</p>\n",
    )
        .into_response();
    resp.headers_mut().insert(header::LOCATION, location);
    if let Some(cookie) = set_cookie {
        resp.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    resp
}
