//! Static assets, compiled into the binary so a single file is the whole front end (no CDN, no
//! files to ship next to it).

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// Our hand-written stylesheet.
const STYLESHEET: &str = include_str!("../static/css/bookinfo.css");

/// The product page's script (the sign-in dialog); a file of its own, not inline, so the content
/// security policy can forbid inline scripts.
const SCRIPT: &str = include_str!("../static/js/productpage.js");

/// The avatar shown next to signed-in users and reviewers.
const AVATAR: &[u8] = include_bytes!("../static/img/izzy.png");

/// Assets change only with the binary; an hour keeps page views cheap without stale releases
/// lingering for long.
const CACHE: &str = "public, max-age=3600";

/// `GET /static/css/bookinfo.css`, and `GET /static/tailwind/tailwind.css` for pages and tools
/// that still ask for upstream's path.
pub async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", STYLESHEET.as_bytes())
}

/// `GET /static/js/productpage.js`.
pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT.as_bytes())
}

/// `GET /static/img/izzy.png`.
pub async fn avatar() -> Response {
    asset("image/png", AVATAR)
}

fn asset(content_type: &'static str, body: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(CACHE)),
        ],
        body,
    )
        .into_response()
}
