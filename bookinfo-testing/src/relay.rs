//! Relaying one HTTP request to another server, as a proxy does.
//!
//! Used by the launcher's reviews rotation (a stand-in for a Kubernetes Service) and by the
//! sidecar emulator of the trace tests (a stand-in for Envoy). Both need the same care: drop the
//! headers that belong to one connection, keep everything else, stream the answer back.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Headers that belong to one connection (RFC 9110 §7.6.1), never relayed.
const HOP_BY_HOP: &[HeaderName] = &[
    header::CONNECTION,
    header::HOST,
    header::TRANSFER_ENCODING,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
    header::PROXY_AUTHENTICATE,
    header::CONTENT_LENGTH,
];

/// Remove hop-by-hop headers (and `keep-alive`) in place.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for h in HOP_BY_HOP {
        headers.remove(h);
    }
    headers.remove("keep-alive");
}

/// Largest request body relayed.
pub const MAX_BODY: usize = 1 << 20;

/// Send `req` to `http://{authority}` with the same method, path, query, headers and body, and
/// turn the answer (or the failure) into a response.
pub async fn forward(client: &reqwest::Client, authority: &str, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response(),
    };
    let mut headers = parts.headers;
    strip_hop_by_hop(&mut headers);
    let sent = client
        .request(parts.method, format!("http://{authority}{path}"))
        .headers(headers)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(resp) => {
            let status = resp.status();
            let mut headers = resp.headers().clone();
            strip_hop_by_hop(&mut headers);
            let mut out = Response::new(Body::from_stream(resp.bytes_stream()));
            *out.status_mut() = status;
            *out.headers_mut() = headers;
            out
        }
        Err(e) if e.is_timeout() => {
            (StatusCode::GATEWAY_TIMEOUT, "upstream request timeout").into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "upstream connect error").into_response(),
    }
}
