//! BookInfo productpage: the web front end that calls details and reviews.
//!
//! * [`config`]: the environment variables, parsed once.
//! * [`backend`]: the calls to details, reviews and ratings with upstream's retry, timeout and
//!   status rules, and the `request_result` counter.
//! * [`pages`]: the index and product pages (askama templates under `templates/`).
//! * [`api`]: the JSON routes under `/api/v1`.
//! * [`session`]: sign in/out with a signed `session` cookie.
//! * [`assets`]: the stylesheet and avatar embedded in the binary.

pub mod api;
pub mod assets;
pub mod backend;
pub mod config;
pub mod error;
pub mod pages;
pub mod product;
pub mod pyjson;
pub mod session;

use std::future::Future;

use axum::Router;
use axum::extract::{FromRef, FromRequestParts, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::SignedCookieJar;
use axum_extra::extract::cookie::Key;
use bookinfo_core::Instruments;
use bookinfo_core::headers::{END_USER, Forwarded};
use tokio::net::TcpListener;

pub use backend::Backends;
pub use config::Config;
pub use error::Error;

/// Largest `Cookie` header accepted. Browsers cap a cookie at 4 KiB; more than twice that is not
/// a browser, and it would otherwise be copied onto every backend call.
pub const MAX_COOKIE_HEADER: usize = 8 * 1024;

/// What every handler shares; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub config: std::sync::Arc<Config>,
    pub instruments: Instruments,
    pub backends: Backends,
    pub sessions: std::sync::Arc<session::Sessions>,
    key: Key,
}

impl AppState {
    /// Build the state once: metrics, span export, the pooled backend client and the cookie
    /// key. Call it inside the Tokio runtime (span export may start background work).
    pub fn new(config: Config) -> AppState {
        let instruments =
            Instruments::start("productpage", &config.tracing).with_limits(config.server);
        let backends = Backends::new(&config, &instruments);
        let key = session::key(&config.session_secret);
        let sessions =
            session::Sessions::new(config.session_lifetime, config.session_cookie_secure);
        AppState {
            config: std::sync::Arc::new(config),
            instruments,
            backends,
            sessions: std::sync::Arc::new(sessions),
            key,
        }
    }
}

impl FromRef<AppState> for Key {
    fn from_ref(state: &AppState) -> Key {
        state.key.clone()
    }
}

/// Every route of productpage, hardened with the shared middleware.
pub fn app(state: AppState) -> Router {
    let instruments = state.instruments.clone();
    let router = Router::new()
        .route("/", get(pages::index))
        .route("/index.html", get(pages::index))
        .route("/health", get(health))
        .route("/login", post(session::login))
        .route("/logout", get(session::logout))
        .route("/productpage", get(pages::product_page))
        .route("/api/v1/products", get(api::products))
        .route("/api/v1/products/{id}", get(api::product))
        .route("/api/v1/products/{id}/reviews", get(api::reviews))
        .route("/api/v1/products/{id}/ratings", get(api::ratings))
        .route("/metrics", get(metrics_handler))
        .route("/static/css/bookinfo.css", get(assets::stylesheet))
        .route("/static/tailwind/tailwind.css", get(assets::stylesheet))
        .route("/static/img/izzy.png", get(assets::avatar))
        .route("/static/js/productpage.js", get(assets::script))
        .route_layer(middleware::from_fn(limit_cookie))
        .layer(middleware::from_fn(security_headers))
        .with_state(state);
    instruments.harden(router)
}

/// Serve productpage on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let instruments = state.instruments.clone();
    instruments.serve(listener, app(state), shutdown).await
}

/// What every backend call made while serving a request carries: the shared forwarding list
/// (and the request's trace), minus any incoming `end-user` (a client must not pick its own
/// identity), plus `end-user` from the session.
pub fn with_end_user(mut forwarded: Forwarded, user: Option<&str>) -> Forwarded {
    forwarded.headers.remove(END_USER);
    if let Some(value) = user.and_then(|u| HeaderValue::from_bytes(u.as_bytes()).ok()) {
        forwarded.headers.insert(END_USER, value);
    }
    forwarded
}

/// Who a request comes from, as an extractor: the user of the signed session cookie (read from
/// the cookie once) and what the handler's backend calls carry, with `end-user` set from that
/// user ([`with_end_user`]).
#[derive(Debug, Clone)]
pub struct Caller {
    pub forwarded: Forwarded,
    pub user: Option<String>,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let jar = SignedCookieJar::from_request_parts(parts, state).await?;
        let forwarded = Forwarded::from_request_parts(parts, state).await?;
        let user = session::user(&jar, &state.sessions);
        Ok(Self {
            forwarded: with_end_user(forwarded, user.as_deref()),
            user,
        })
    }
}

async fn health() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        "Product page is healthy",
    )
        .into_response()
}

async fn metrics_handler(State(state): State<AppState>) -> Response {
    state.instruments.metrics_response()
}

/// What HTML pages may load and do: only this site's own stylesheet, script and images; forms
/// post only here; no framing by other sites; no `<base>` rewriting.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// `nosniff` on every answer; on HTML pages also the content security policy, a referrer
/// policy that keeps full URLs on this site (sign-in and sign-out return to the `Referer`) and
/// none for other sites, and no framing.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let is_html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let headers = resp.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if is_html {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    resp
}

/// Reject oversized `Cookie` headers before anything parses them.
async fn limit_cookie(req: Request, next: Next) -> Response {
    let size: usize = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .map(|v| v.len())
        .sum();
    if size > MAX_COOKIE_HEADER {
        return Error::CookieTooLarge.into_response();
    }
    next.run(req).await
}
