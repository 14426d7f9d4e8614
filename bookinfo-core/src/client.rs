//! The outbound HTTP client every service uses for its downstream calls.
//!
//! One [`Client`] is built at start-up and lives in the service state: a pooled
//! `reqwest::Client` plus the service's metrics. Each call names its destination (for metrics and
//! client spans), carries the forwarded headers of the request being served, and has its
//! own timeout, because upstream's timeouts differ per hop (productpage 3 s, reviews 10 s or
//! 2.5 s, details 5 s) and istio.io's fault-injection task depends on them. How the client uses
//! its connections, so that calls spread over every version behind a per-connection balancer,
//! is [`crate::spread`].

use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http::header::{CONNECTION, HeaderName, HeaderValue};
use reqwest::{Method, Response};

use crate::headers::Forwarded;
use crate::metrics::Metrics;
use crate::spread::{Connections, HostLookup, Retirement, SpreadResolver, SystemLookup};

/// Largest response body any service reads from a backend. Real answers are under 2 KiB (a
/// Google Books volume search a few KiB); anything this big is a broken or hostile backend, and
/// reading it whole would let that backend decide how much memory the caller uses.
pub const MAX_RESPONSE_BODY: usize = 1 << 20;

/// How many parsed URLs each thread keeps (see [`parsed_url`]).
const KEPT_URLS: usize = 16;

/// A thread's recently parsed URLs, and where the next one goes once the store is full.
struct KeptUrls {
    kept: Vec<(Box<str>, reqwest::Url)>,
    next: usize,
}

thread_local! {
    static URLS: RefCell<KeptUrls> = const {
        RefCell::new(KeptUrls {
            kept: Vec::new(),
            next: 0,
        })
    };
}

/// `url` parsed, taken from this thread's store of recent URLs when it is there. A service
/// calls a handful of URLs over and over, and reqwest parses the text of each call (host-name
/// processing is most of it); a clone of the parsed URL is one allocation. Measured gain
/// (callgrind, page views, pass-through, release builds): productpage from 208,800 to 199,700
/// instructions per page, reviews from 128,400 to 123,800 (docs/performance.md, “Fourth
/// round”). `None` when the text does not parse, so that reqwest reports it as for any bad URL.
/// The store is bounded: past [`KEPT_URLS`] entries a new URL replaces the oldest.
fn parsed_url(url: &str) -> Option<reqwest::Url> {
    URLS.with(|store| {
        let Ok(mut store) = store.try_borrow_mut() else {
            return reqwest::Url::parse(url).ok();
        };
        let KeptUrls { kept, next } = &mut *store;
        if let Some((_, parsed)) = kept.iter().find(|(text, _)| **text == *url) {
            return Some(parsed.clone());
        }
        let parsed = reqwest::Url::parse(url).ok()?;
        let entry = (Box::from(url), parsed.clone());
        if kept.len() < KEPT_URLS {
            kept.push(entry);
        } else {
            kept[*next] = entry;
            *next = (*next + 1) % KEPT_URLS;
        }
        Some(parsed)
    })
}

/// Why a response body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body is larger than the limit (announced by `Content-Length`, or seen while reading).
    #[error("response body larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// Reading failed (connection lost, timeout, bad chunking).
    #[error("reading the response body failed: {}", error_chain(.0))]
    Read(#[source] reqwest::Error),
}

/// The whole body of `response`, refused as soon as it is known to exceed `limit` bytes: at once
/// when `Content-Length` says so, otherwise when the bytes read so far pass the limit. Nothing
/// beyond `limit` (plus one chunk) is ever held. The call's timeout still covers the reading.
pub async fn read_body(mut response: Response, limit: usize) -> Result<Bytes, BodyError> {
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Why an outbound call produced no response.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The per-call timeout elapsed (connect or response).
    #[error("request to {url} timed out after {:.1} s", .after.as_secs_f64())]
    Timeout { url: String, after: Duration },
    /// No connection could be made or the exchange failed.
    #[error("request to {url} failed: {}", error_chain(.source))]
    Transport { url: String, source: reqwest::Error },
}

/// The error and its causes joined by `: `, e.g. reqwest's connect error with the OS error.
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
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    metrics: Metrics,
    retirement: Arc<Retirement>,
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
        let http = reqwest::Client::builder()
            .user_agent(user_agent)
            .pool_idle_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .dns_resolver(Arc::new(SpreadResolver::new(lookup)))
            // Backends are addressed by service name; a mesh does its own redirects and retries.
            .redirect(reqwest::redirect::Policy::none())
            // reqwest's default policy retries refused HTTP/2 streams, and to be able to, copies
            // every request's headers and extensions before sending it. These calls are
            // HTTP/1.1, so it could never retry; the copy cost productpage about 1,100
            // instructions per participating call, 600 in pass-through (callgrind, page views;
            // docs/performance.md).
            .retry(reqwest::retry::never().max_retries_per_request(0))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            http,
            metrics,
            retirement: Arc::new(Retirement::new(connections)),
        }
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

    /// One request with exactly `headers`; see [`Client::call`].
    pub async fn send(
        &self,
        destination: &'static str,
        method: Method,
        url: &str,
        headers: HeaderMap,
        timeout: Duration,
    ) -> Result<Response, CallError> {
        let started = Instant::now();
        // The map is moved into the request, not merged header by header as `.headers()` does;
        // the client's defaults (`user-agent`) are still added where absent.
        let request = match parsed_url(url) {
            Some(parsed) => self.http.request(method, parsed),
            None => self.http.request(method, url),
        };
        let result = match request.timeout(timeout).build() {
            Ok(mut request) => {
                *request.headers_mut() = headers;
                if self.retirement.retire(destination) {
                    // Closed after this answer: the next call opens a connection that the
                    // balancer places afresh.
                    request
                        .headers_mut()
                        .insert(CONNECTION, HeaderValue::from_static("close"));
                }
                self.http.execute(request).await
            }
            Err(e) => Err(e),
        };
        let elapsed = started.elapsed();
        match result {
            Ok(resp) => {
                self.metrics
                    .observe_outbound(destination, Some(resp.status().as_u16()), elapsed);
                Ok(resp)
            }
            Err(source) => {
                self.metrics.observe_outbound(destination, None, elapsed);
                if source.is_timeout() {
                    Err(CallError::Timeout {
                        url: url.to_owned(),
                        after: timeout,
                    })
                } else {
                    Err(CallError::Transport {
                        url: url.to_owned(),
                        source,
                    })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{KEPT_URLS, URLS, parsed_url};

    fn kept() -> Vec<String> {
        URLS.with(|store| {
            store
                .borrow()
                .kept
                .iter()
                .map(|(t, _)| t.to_string())
                .collect()
        })
    }

    #[test]
    fn urls_parse_as_reqwest_parses_them_and_the_store_stays_bounded() {
        for url in [
            "http://details:9080/details/0",
            "http://127.0.0.1:19181/details/1?x=1",
            "http://[::1]:9080/reviews/0",
            "http://Reviews:9080/%7e/a/../b",
        ] {
            let expected = reqwest::Url::parse(url).ok();
            assert!(expected.is_some(), "{url}");
            // Twice: the second answer comes from the store.
            assert_eq!(parsed_url(url), expected, "{url}");
            assert!(kept().iter().any(|k| k == url), "{url}");
            assert_eq!(parsed_url(url), expected, "{url}");
        }
        for bad in ["", "not a url", "http://[::1/", "http://a b/"] {
            assert_eq!(parsed_url(bad), None, "{bad:?}");
            assert!(!kept().iter().any(|k| k == bad), "{bad:?}");
        }
        for i in 0..3 * KEPT_URLS {
            let url = format!("http://ratings:9080/ratings/{i}");
            assert_eq!(parsed_url(&url), reqwest::Url::parse(&url).ok());
        }
        let now = kept();
        assert_eq!(now.len(), KEPT_URLS);
        // The newest are the ones kept.
        let last = format!("http://ratings:9080/ratings/{}", 3 * KEPT_URLS - 1);
        assert!(now.contains(&last), "{now:?}");
        assert!(!now.contains(&"http://details:9080/details/0".to_owned()));
    }
}
