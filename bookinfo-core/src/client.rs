//! The outbound HTTP client every service uses for its downstream calls.
//!
//! One [`Client`] is built at start-up and lives in the service state: hyper's pooled client
//! plus the service's metrics. Each call names its destination (for metrics and
//! client spans), carries the forwarded headers of the request being served, and has its
//! own timeout, because upstream's timeouts differ per hop (productpage 3 s, reviews 10 s or
//! 2.5 s, details 5 s) and istio.io's fault-injection task depends on them. How the client uses
//! its connections, so that calls spread over every version behind a per-connection balancer,
//! is [`crate::spread`].

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{ACCEPT, CONNECTION, CONTENT_LENGTH, HeaderName, HeaderValue, USER_AGENT};
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::time::Instant;

use crate::headers::Forwarded;
use crate::metrics::Metrics;
use crate::spread::{Connections, HostLookup, Retirement, SpreadResolver, SystemLookup};

/// Largest response body any service reads from a backend. Real answers are under 2 KiB (a
/// Google Books volume search a few KiB); anything this big is a broken or hostile backend, and
/// reading it whole would let that backend decide how much memory the caller uses.
pub const MAX_RESPONSE_BODY: usize = 1 << 20;

/// How long an unused pooled connection is kept.
const POOL_IDLE: Duration = Duration::from_secs(30);

/// The pooled HTTP/1.1 client underneath: plain HTTP to the backends, HTTPS (rustls, the
/// platform's roots) to Google Books.
type Pool =
    hyper_util::client::legacy::Client<HttpsConnector<HttpConnector<SpreadResolver>>, Empty<Bytes>>;

/// A backend's answer: its status and headers, and its body still to be read (with
/// [`read_body`]) before the call's deadline.
#[derive(Debug)]
pub struct Response {
    head: http::response::Parts,
    body: Incoming,
    deadline: Instant,
    timeout: Duration,
}

impl Response {
    /// The answer's status.
    pub fn status(&self) -> StatusCode {
        self.head.status
    }

    /// The answer's headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.head.headers
    }
}

/// Why a response body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body is larger than the limit (announced by `Content-Length`, or seen while reading).
    #[error("response body larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// Reading failed (connection lost, bad chunking).
    #[error("reading the response body failed: {}", error_chain(.0))]
    Read(#[source] hyper::Error),
    /// The call's timeout elapsed before the whole body arrived.
    #[error("reading the response body timed out after {:.1} s", .after.as_secs_f64())]
    Timeout { after: Duration },
}

/// The whole body of `response`, refused as soon as it is known to exceed `limit` bytes: at once
/// when `Content-Length` says so, otherwise when the bytes read so far pass the limit. Nothing
/// beyond `limit` (plus one chunk) is ever held. The call's timeout still covers the reading.
pub async fn read_body(response: Response, limit: usize) -> Result<Bytes, BodyError> {
    let Response {
        head,
        mut body,
        deadline,
        timeout,
    } = response;
    let announced = head
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|len| len > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    let read = async {
        let mut whole = BytesMut::new();
        while let Some(frame) = body.frame().await {
            let Ok(chunk) = frame.map_err(BodyError::Read)?.into_data() else {
                continue; // trailers
            };
            if whole.len() + chunk.len() > limit {
                return Err(BodyError::TooLarge { limit });
            }
            whole.extend_from_slice(&chunk);
        }
        Ok(whole.freeze())
    };
    tokio::time::timeout_at(deadline, read)
        .await
        .unwrap_or(Err(BodyError::Timeout { after: timeout }))
}

/// Why an outbound call produced no response.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The per-call timeout elapsed (connect or response).
    #[error("request to {url} timed out after {:.1} s", .after.as_secs_f64())]
    Timeout { url: String, after: Duration },
    /// No connection could be made or the exchange failed.
    #[error("request to {url} failed: {}", error_chain(.source))]
    Transport {
        url: String,
        source: hyper_util::client::legacy::Error,
    },
    /// The URL is not an absolute `http` or `https` URL.
    #[error("request to {url} failed: not an absolute http(s) URL")]
    BadUrl { url: String },
}

impl CallError {
    /// The type of the error that says why (`exception.type` on the attempt's span).
    pub fn exception_type(&self) -> &'static str {
        match self {
            CallError::Timeout { .. } => "bookinfo_core::client::CallError::Timeout",
            CallError::Transport { .. } => {
                std::any::type_name::<hyper_util::client::legacy::Error>()
            }
            CallError::BadUrl { .. } => "bookinfo_core::client::CallError::BadUrl",
        }
    }
}

/// The error and its causes joined by `: `, e.g. the client's connect error with the OS error.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        cur = e.source();
    }
    text
}

/// A pooled HTTP client that forwards headers, records outbound metrics and, in participating
/// mode, opens a CLIENT span per attempt.
///
/// It is hyper's pooled client, not reqwest: reviews' and productpage's page views went from
/// 112,302 and 190,473 instructions to 89,006 and 137,674, about 26,000 less per call (callgrind,
/// pass-through, docs/performance.md, “Sixth round”), and the page's throughput rose 1.17 times.
/// reqwest's layers (URL re-parsing in its redirect policy, its header and extension copies, its
/// body wrappers) do nothing these calls need.
///
/// Cloning it is one reference count: services keep it in state that axum clones several times
/// per request, and the pool's handle alone is a dozen fields and reference counts. Measured
/// gain: details from 38,476 to 35,569 instructions per page view, reviews from 89,006 to 85,961
/// (callgrind, pass-through, docs/performance.md, “Sixth round”).
#[derive(Clone, Debug)]
pub struct Client(Arc<Shared>);

/// What every clone of a [`Client`] shares.
#[derive(Debug)]
struct Shared {
    http: Pool,
    user_agent: HeaderValue,
    metrics: Metrics,
    retirement: Retirement,
}

impl Client {
    /// Build the client once at start-up. `user_agent` is sent when the request being served
    /// carried none (upstream sends its HTTP library's default in that case); `connections`
    /// says how connections are used (see [`crate::spread`]).
    pub fn new(metrics: Metrics, user_agent: &str, connections: Connections) -> Self {
        Self::with_lookup(metrics, user_agent, connections, Arc::new(SystemLookup))
    }

    /// [`Client::new`] with host names looked up by `lookup` instead of the system resolver.
    pub fn with_lookup(
        metrics: Metrics,
        user_agent: &str,
        connections: Connections,
        lookup: Arc<dyn HostLookup>,
    ) -> Self {
        let mut plain = HttpConnector::new_with_resolver(SpreadResolver::new(lookup));
        plain.set_nodelay(true);
        plain.enforce_http(false); // the TLS layer above takes `https` URLs
        let connector = tls_builder()
            .https_or_http()
            .enable_http1()
            .wrap_connector(plain);
        // Backends are addressed by service name; a mesh does its own redirects and retries, and
        // this client follows no redirect and retries nothing it has sent (it does resend a
        // request that a pooled connection closed before taking it, as any keep-alive client
        // must).
        let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .pool_timer(TokioTimer::new())
            .build(connector);
        Self(Arc::new(Shared {
            http,
            user_agent: HeaderValue::from_str(user_agent)
                .unwrap_or_else(|_| HeaderValue::from_static("bookinfo")),
            metrics,
            retirement: Retirement::new(connections),
        }))
    }

    /// Attempt number `attempt` (from 0) of `GET url` on behalf of the request `forwarded` was
    /// taken from, giving up after `timeout`. In participating mode the attempt gets its own
    /// CLIENT span, whose context replaces every trace header of the request; otherwise the
    /// headers go out verbatim.
    ///
    /// Any response counts as `Ok`; callers decide which statuses are success. The timeout
    /// covers connecting, the response head and reading the body, so a backend that stalls
    /// mid-body cannot hang the caller either.
    pub async fn call(
        &self,
        destination: &'static str,
        url: &str,
        forwarded: &Forwarded,
        timeout: Duration,
        attempt: u32,
    ) -> Result<Response, CallError> {
        self.call_with(destination, url, forwarded, &[], timeout, attempt)
            .await
    }

    /// [`Client::call`] with headers of the caller's own added to the forwarded ones (reviews
    /// asks ratings for `Accept: application/json`). They replace a forwarded header of the same
    /// name; trace headers are still written last, from the attempt's span.
    pub async fn call_with(
        &self,
        destination: &'static str,
        url: &str,
        forwarded: &Forwarded,
        own: &[(HeaderName, HeaderValue)],
        timeout: Duration,
        attempt: u32,
    ) -> Result<Response, CallError> {
        let mut headers = forwarded.headers.clone();
        for (name, value) in own {
            headers.insert(name.clone(), value.clone());
        }
        let span = forwarded
            .trace
            .as_ref()
            .map(|t| t.client_span("GET", destination, url, attempt));
        if let Some(span) = &span {
            headers.reserve(8); // the trace headers, without regrowing the map mid-insert
            span.inject(&mut headers);
        }
        let result = self
            .send(destination, Method::GET, url, headers, timeout)
            .await;
        if let Some(span) = span {
            match &result {
                Ok(resp) => span.finish(Ok(resp.status().as_u16())),
                Err(e) => span.failed(e),
            }
        }
        result
    }

    /// One request with exactly `headers` (plus `Host`, and `User-Agent` and `Accept: */*` where
    /// absent, as HTTP clients send them); see [`Client::call`].
    pub async fn send(
        &self,
        destination: &'static str,
        method: Method,
        url: &str,
        mut headers: HeaderMap,
        timeout: Duration,
    ) -> Result<Response, CallError> {
        let this = &*self.0;
        let Ok(uri) = url.parse::<Uri>() else {
            return Err(CallError::BadUrl {
                url: url.to_owned(),
            });
        };
        if uri.host().is_none() || !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(CallError::BadUrl {
                url: url.to_owned(),
            });
        }
        if !headers.contains_key(USER_AGENT) {
            headers.insert(USER_AGENT, this.user_agent.clone());
        }
        if !headers.contains_key(ACCEPT) {
            headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
        }
        if this.retirement.retire(destination) {
            // Closed after this answer: the next call opens a connection that the balancer
            // places afresh.
            headers.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        let mut request = Request::new(Empty::new());
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;

        let started = Instant::now();
        let deadline = started + timeout;
        let result = tokio::time::timeout_at(deadline, this.http.request(request)).await;
        let elapsed = started.elapsed();
        match result {
            Ok(Ok(response)) => {
                this.metrics.observe_outbound(
                    destination,
                    Some(response.status().as_u16()),
                    elapsed,
                );
                let (head, body) = response.into_parts();
                Ok(Response {
                    head,
                    body,
                    deadline,
                    timeout,
                })
            }
            Ok(Err(source)) => {
                this.metrics.observe_outbound(destination, None, elapsed);
                Err(CallError::Transport {
                    url: url.to_owned(),
                    source,
                })
            }
            Err(_) => {
                this.metrics.observe_outbound(destination, None, elapsed);
                Err(CallError::Timeout {
                    url: url.to_owned(),
                    after: timeout,
                })
            }
        }
    }
}

/// The TLS settings for `https` calls ([`crate::tls::client_config`]): only details' optional
/// Google Books call uses `https`, so the certificate roots are not read before it needs them.
fn tls_builder() -> HttpsConnectorBuilder<hyper_rustls::builderstates::WantsSchemes> {
    HttpsConnectorBuilder::new().with_tls_config(crate::tls::client_config())
}
