//! The browser session: who is signed in, kept in a signed cookie named `session`.
//!
//! The cookie holds the user name, a random session id and the time it was issued; the
//! signature (key derived from `SESSION_SECRET`) makes a tampered or foreign cookie read as
//! "signed out" rather than as someone else. Every request checks the issue time against the
//! session lifetime (`SESSION_LIFETIME_SECONDS`, 24 h by default), so a copied cookie stops
//! working when the lifetime ends. There is no shared server-side state, so any replica accepts
//! any replica's cookie; what logging out can do within that is [`Sessions`]' to say. Passwords
//! are not checked: the user name exists only so Istio can route on the `end-user` header.
//!
//! Signing in and out redirect back to the page the user came from, but only within this site
//! ([`redirect_target`]), and signing in is refused to cross-site requests ([`is_cross_site`]),
//! so another site can neither sign a visitor in under its own name nor bounce them elsewhere.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::SignedCookieJar;
use axum_extra::extract::cookie::{Cookie, Key, SameSite};
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::AppState;
use crate::error::Error;

/// Cookie name, as upstream (Flask's default).
pub const COOKIE: &str = "session";

/// Longest accepted user name. The name travels in a cookie and in a header on every backend
/// call; browsers drop cookies over 4 KiB, so a bigger name could never work anyway.
pub const MAX_USER_LEN: usize = 256;

/// Where to go after signing in or out when the request has no usable `Referer` (upstream sends
/// the literal `Location: None` without one, which a browser resolves to `/None`).
pub const DEFAULT_REDIRECT: &str = "/productpage";

/// Logged-out sessions remembered per replica (see [`Sessions`]): about 40 bytes each.
pub const MAX_REVOKED: usize = 10_000;

/// How far in the future an issue time may lie (clocks of replicas differ a little).
const CLOCK_SKEW_MS: u64 = 60_000;

/// Upstream's exact clearing cookie (Flask's): an empty value that expired at the epoch.
const CLEARED: &str =
    "session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly; Path=/";

/// The signing key, derived from the configured secret (checked to be long enough at start-up).
pub fn key(secret: &str) -> Key {
    Key::derive_from(secret.as_bytes())
}

/// One signed-in session, as the cookie carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// When it was issued, in milliseconds since the Unix epoch.
    pub issued_ms: u64,
    /// Random, so that logging out can revoke exactly this session.
    pub id: u128,
    pub user: String,
}

impl Session {
    /// The cookie value (before signing): `<issued_ms>.<id as 32 hex digits>.<user, encoded>`.
    pub fn encode(&self) -> String {
        format!(
            "{}.{:032x}.{}",
            self.issued_ms,
            self.id,
            utf8_percent_encode(&self.user, NON_ALPHANUMERIC)
        )
    }

    /// The session in a cookie value, `None` unless it is exactly what [`Session::encode`]
    /// writes (cookies of the earlier format, without an issue time, are not sessions).
    pub fn decode(value: &str) -> Option<Session> {
        let mut parts = value.splitn(3, '.');
        let issued = parts.next()?;
        let id = parts.next()?;
        let user = parts.next()?;
        if issued.is_empty() || !issued.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let user = percent_decode_str(user).decode_utf8().ok()?;
        if user.is_empty() || user.len() > MAX_USER_LEN {
            return None;
        }
        Some(Session {
            issued_ms: issued.parse().ok()?,
            id: u128::from_str_radix(id, 16).ok()?,
            user: user.into_owned(),
        })
    }
}

/// Session lifetime, cookie attributes and the logged-out sessions of this replica.
///
/// Logging out clears the browser's cookie and remembers the session's id until the session
/// would have expired anyway, so a copy of the cookie taken before logging out is refused here
/// afterwards. That memory is this replica's alone and bounded: other replicas (and this one
/// after a restart) accept the copy until its lifetime ends, and when more than
/// [`MAX_REVOKED`] sessions are logged out within one lifetime, the ones closest to expiry are
/// forgotten first. A shorter `SESSION_LIFETIME_SECONDS` bounds all of that.
#[derive(Debug)]
pub struct Sessions {
    lifetime: Duration,
    secure: bool,
    revoked: Mutex<HashMap<u128, u64>>,
}

impl Sessions {
    pub fn new(lifetime: Duration, secure: bool) -> Self {
        Self {
            lifetime,
            secure,
            revoked: Mutex::new(HashMap::new()),
        }
    }

    fn lifetime_ms(&self) -> u64 {
        u64::try_from(self.lifetime.as_millis()).unwrap_or(u64::MAX)
    }

    /// A new session for `user`, issued now.
    pub fn issue(&self, user: String) -> Session {
        Session {
            issued_ms: now_ms(),
            id: rand::random(),
            user,
        }
    }

    /// The session in `jar`, if it is signed, unexpired and not logged out.
    pub fn current(&self, jar: &SignedCookieJar) -> Option<Session> {
        let cookie = jar.get(COOKIE)?;
        let session = Session::decode(cookie.value())?;
        self.is_valid(&session, now_ms()).then_some(session)
    }

    fn is_valid(&self, session: &Session, now: u64) -> bool {
        let expires = session.issued_ms.saturating_add(self.lifetime_ms());
        session.issued_ms <= now.saturating_add(CLOCK_SKEW_MS)
            && now < expires
            && !self.is_revoked(session.id)
    }

    fn is_revoked(&self, id: u128) -> bool {
        self.revoked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(&id)
    }

    /// Refuse `session` from now until it expires.
    pub fn revoke(&self, session: &Session) {
        self.revoke_at(session, now_ms());
    }

    fn revoke_at(&self, session: &Session, now: u64) {
        let expires = session.issued_ms.saturating_add(self.lifetime_ms());
        let mut revoked = self.revoked.lock().unwrap_or_else(PoisonError::into_inner);
        if revoked.len() >= MAX_REVOKED {
            revoked.retain(|_, until| *until > now);
        }
        if revoked.len() >= MAX_REVOKED {
            let soonest = revoked
                .iter()
                .min_by_key(|(_, until)| **until)
                .map(|(id, _)| *id);
            if let Some(id) = soonest {
                revoked.remove(&id);
            }
        }
        revoked.insert(session.id, expires);
    }

    /// The `session` cookie for `session`: signed later by the jar, HttpOnly, SameSite=Lax,
    /// expiring with the session, and Secure when the site is served over HTTPS.
    fn cookie(&self, session: &Session) -> Cookie<'static> {
        let max_age = i64::try_from(self.lifetime.as_secs()).unwrap_or(i64::MAX);
        Cookie::build((COOKIE, session.encode()))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .max_age(cookie::time::Duration::seconds(max_age))
            .secure(self.secure)
            .build()
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The signed-in user, if the request carries a valid session cookie.
pub fn user(jar: &SignedCookieJar, sessions: &Sessions) -> Option<String> {
    sessions.current(jar).map(|s| s.user)
}

/// `POST /login`: `username` from the query string or a urlencoded form; any password.
/// Refused (403) to cross-site requests, and (415) to bodies that are not a urlencoded form.
pub async fn login(
    State(state): State<AppState>,
    jar: SignedCookieJar,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Result<Response, Error> {
    let host = request_host(&headers, &uri);
    if is_cross_site(&headers, host) {
        return Err(Error::CrossSite);
    }
    let form: Vec<(String, String)> = match content_type(&headers) {
        Some(ct) if is_form(ct) => {
            serde_urlencoded::from_bytes(&body).map_err(|_| Error::BadForm)?
        }
        None if body.is_empty() => Vec::new(),
        _ => return Err(Error::NotAForm),
    };
    // Werkzeug's `request.values` looks in the query string first, then the form.
    let username = query
        .into_iter()
        .chain(form)
        .find(|(k, _)| k == "username")
        .map(|(_, v)| v);
    let Some(username) = username.filter(|u| !u.is_empty()) else {
        // No name: nobody is signed in (upstream stores a null user, which renders the same).
        return Ok(redirect(
            &headers,
            host,
            Some(HeaderValue::from_static(CLEARED)),
        ));
    };
    if username.len() > MAX_USER_LEN {
        return Err(Error::UserNameTooLong {
            limit: MAX_USER_LEN,
        });
    }
    let session = state.sessions.issue(username);
    let jar = jar.add(state.sessions.cookie(&session));
    Ok((jar, redirect(&headers, host, None)).into_response())
}

/// `GET /logout`: revoke the session, clear the cookie and go back where the user came from.
pub async fn logout(
    State(state): State<AppState>,
    jar: SignedCookieJar,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    if let Some(session) = state.sessions.current(&jar) {
        state.sessions.revoke(&session);
    }
    redirect(
        &headers,
        request_host(&headers, &uri),
        Some(HeaderValue::from_static(CLEARED)),
    )
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or(""))
}

fn is_form(content_type: &str) -> bool {
    content_type.split(';').next().is_some_and(|t| {
        t.trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    })
}

/// The host the request was sent to: `Host`, or the authority of an HTTP/2 request.
pub fn request_host<'a>(headers: &'a HeaderMap, uri: &'a Uri) -> Option<&'a str> {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
}

/// Whether a browser says the request comes from another site: `Sec-Fetch-Site` other than
/// `same-origin` or `none` (typed by the user), or an `Origin` that is not this host. Requests
/// with neither header (curl, scripts, older browsers' same-origin form posts) are not.
pub fn is_cross_site(headers: &HeaderMap, host: Option<&str>) -> bool {
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.as_bytes(), b"same-origin" | b"none")
    {
        return true;
    }
    match headers.get(header::ORIGIN) {
        None => false,
        Some(origin) => {
            let same = origin
                .to_str()
                .ok()
                .and_then(|o| o.parse::<Uri>().ok())
                .filter(|o| matches!(o.scheme_str(), Some("http" | "https")))
                .and_then(|o| o.authority().cloned())
                .zip(host)
                .is_some_and(|(origin, host)| origin.as_str().eq_ignore_ascii_case(host));
            !same
        }
    }
}

/// Where to send the browser back to: the path and query of `referer` when it is a path on
/// this site (a path, or a URL whose host is `host`), else [`DEFAULT_REDIRECT`]. Never another
/// host, a protocol-relative `//host`, or another scheme (`javascript:`).
pub fn redirect_target(referer: Option<&str>, host: Option<&str>) -> String {
    let safe = referer
        .filter(|r| !r.contains('\\'))
        .and_then(|r| r.parse::<Uri>().ok())
        .filter(|uri| match (uri.scheme_str(), uri.authority()) {
            (None, None) => true,
            (Some("http" | "https"), Some(authority)) => {
                !authority.as_str().contains('@')
                    && host.is_some_and(|h| authority.as_str().eq_ignore_ascii_case(h))
            }
            _ => false,
        })
        .and_then(|uri| uri.path_and_query().map(|pq| pq.as_str().to_owned()))
        .filter(|target| target.starts_with('/') && !target.starts_with("//"));
    safe.unwrap_or_else(|| DEFAULT_REDIRECT.to_owned())
}

/// 302 back to the page the user came from (see [`redirect_target`]), optionally setting a
/// cookie.
fn redirect(headers: &HeaderMap, host: Option<&str>, set_cookie: Option<HeaderValue>) -> Response {
    let referer = headers.get(header::REFERER).and_then(|v| v.to_str().ok());
    let target = redirect_target(referer, host);
    let location =
        HeaderValue::from_str(&target).unwrap_or(HeaderValue::from_static(DEFAULT_REDIRECT));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn session(issued_ms: u64) -> Session {
        Session {
            issued_ms,
            id: 7,
            user: "jason".into(),
        }
    }

    #[test]
    fn lifetime_and_revocation() {
        let sessions = Sessions::new(Duration::from_secs(10), false);
        let s = session(1_000_000);
        assert!(sessions.is_valid(&s, 1_000_000));
        assert!(sessions.is_valid(&s, 1_009_999));
        assert!(!sessions.is_valid(&s, 1_010_000), "expired");
        assert!(
            !sessions.is_valid(&s, 1_000_000 - CLOCK_SKEW_MS - 1),
            "from the future"
        );
        sessions.revoke_at(&s, 1_000_500);
        assert!(!sessions.is_valid(&s, 1_000_600), "logged out");
        assert!(sessions.is_valid(&Session { id: 8, ..s }, 1_000_600));
    }

    #[test]
    fn revocations_are_bounded_expired_ones_go_first() {
        let sessions = Sessions::new(Duration::from_secs(10), false);
        for id in 0..MAX_REVOKED as u128 {
            let issued = if id < 10 { 0 } else { 1_000_000 };
            sessions.revoke_at(
                &Session {
                    id,
                    ..session(issued)
                },
                1_000_000,
            );
        }
        // Full; the next revocation drops the ten that have expired.
        sessions.revoke_at(
            &Session {
                id: 1 << 100,
                ..session(1_000_000)
            },
            1_000_000,
        );
        let revoked = sessions.revoked.lock().unwrap();
        assert_eq!(revoked.len(), MAX_REVOKED - 10 + 1);
        assert!(!revoked.contains_key(&0));
        assert!(revoked.contains_key(&(1 << 100)));
    }

    #[test]
    fn redirects_stay_on_this_site() {
        let host = Some("bookinfo.example:8080");
        let cases = [
            (None, "/productpage"),
            (Some("/productpage?u=test"), "/productpage?u=test"),
            (
                Some("http://bookinfo.example:8080/productpage?u=normal"),
                "/productpage?u=normal",
            ),
            (Some("https://BOOKINFO.example:8080/"), "/"),
            (Some("https://evil.example/"), "/productpage"),
            (Some("http://bookinfo.example/productpage"), "/productpage"),
            (Some("//evil.example"), "/productpage"),
            (Some("//evil.example/productpage"), "/productpage"),
            (Some("/\\evil.example"), "/productpage"),
            (
                Some("http://bookinfo.example:8080//evil.example/"),
                "/productpage",
            ),
            (Some("http://x@bookinfo.example:8080/"), "/productpage"),
            (Some("javascript:alert(1)"), "/productpage"),
            (Some("data:text/html,hi"), "/productpage"),
            (Some("productpage"), "/productpage"),
            (Some(""), "/productpage"),
        ];
        for (referer, expected) in cases {
            assert_eq!(redirect_target(referer, host), expected, "{referer:?}");
        }
        assert_eq!(redirect_target(Some("http://a/x"), None), "/productpage");
    }

    #[test]
    fn cross_site_detection() {
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (k, v) in pairs {
                map.insert(*k, HeaderValue::from_static(v));
            }
            map
        };
        let host = Some("shop:9080");
        assert!(!is_cross_site(&h(&[]), host));
        assert!(!is_cross_site(
            &h(&[("sec-fetch-site", "same-origin")]),
            host
        ));
        assert!(!is_cross_site(&h(&[("sec-fetch-site", "none")]), host));
        assert!(is_cross_site(&h(&[("sec-fetch-site", "cross-site")]), host));
        assert!(is_cross_site(&h(&[("sec-fetch-site", "same-site")]), host));
        assert!(!is_cross_site(&h(&[("origin", "http://shop:9080")]), host));
        assert!(is_cross_site(
            &h(&[("origin", "https://evil.example")]),
            host
        ));
        assert!(is_cross_site(&h(&[("origin", "null")]), host));
        assert!(is_cross_site(&h(&[("origin", "http://shop:9080")]), None));
    }

    #[test]
    fn old_and_odd_cookie_values_are_not_sessions() {
        let s = Session {
            issued_ms: 1,
            id: u128::MAX,
            user: "a.b%c é".into(),
        };
        assert_eq!(Session::decode(&s.encode()), Some(s));
        for bad in [
            "jason",
            "",
            "1.2.jason",
            "x.0000000000000000000000000000000a.jason",
            "1.0000000000000000000000000000000a.",
            "1.0000000000000000000000000000000g.jason",
            "1.0000000000000000000000000000000a.%ff",
            "99999999999999999999999.0000000000000000000000000000000a.jason",
        ] {
            assert_eq!(Session::decode(bad), None, "{bad}");
        }
    }
}
