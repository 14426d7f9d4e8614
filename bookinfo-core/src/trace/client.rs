//! One CLIENT span per outbound attempt, and the headers that carry it downstream.
//!
//! The span is a child of the request's SERVER span, opened from the [`RequestTrace`](super::RequestTrace) the caller
//! hands in (never from an ambient "current span"), so concurrent and spawned calls parent
//! correctly. Before sending, every trace header this service owns is removed from the outbound
//! request and the *client span's* context is written in the formats the request arrived with:
//! nothing stale survives, and the next hop's parent is a span that is exported.

use std::borrow::Cow;
use std::sync::RwLock;

use http::{HeaderMap, Uri};
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, Status};
use opentelemetry_sdk::trace::Span;
use tokio_util::task::task_tracker::TaskTrackerToken;

use crate::client::CallError;
use bookinfo_propagation::TraceContext;

/// An open CLIENT span; finish it with the outcome of the attempt.
#[derive(Debug)]
pub struct ClientSpan {
    pub(super) span: Span,
    pub(super) inject: Option<TraceContext>,
    pub(super) formats: bookinfo_propagation::FormatSet,
    /// Released after `span` (fields drop in order; see `Tracing::shutdown`).
    pub(super) _live: TaskTrackerToken,
}

/// The host (IPv6 literals without brackets) and explicit port of a URL, as the span's
/// `server.address` and `server.port`.
pub(super) fn host_and_port(uri: &Uri) -> (Option<&str>, Option<u16>) {
    let host = uri
        .host()
        .map(|h| {
            h.strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(h)
        })
        .filter(|h| !h.is_empty());
    (host, uri.port_u16())
}

/// `server.address` and `server.port` of `url`, parsed once per scheme and authority (a
/// service calls a handful) and then shared. With the URL parsed per call, opening a CLIENT
/// span cost productpage 3,050 instructions; with this, 1,470 (callgrind, participating page
/// views; docs/performance.md).
pub(super) fn server_of(url: &str) -> (Option<Cow<'static, str>>, Option<u16>) {
    if let Some(known) = SERVERS.read().ok().and_then(|all| {
        all.iter()
            .find(|(origin, _, _)| {
                url.strip_prefix(&**origin)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?', '#']))
            })
            .map(|(_, host, port)| (host.clone(), *port))
    }) {
        return known;
    }
    // `scheme://authority`, the part the answer depends on.
    let origin = url.find("://").map(|at| {
        let rest = &url[at + 3..];
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        &url[..at + 3 + end]
    });
    let parse = |text: &str| {
        let uri = text.parse::<Uri>().ok();
        let (host, port) = uri.as_ref().map_or((None, None), host_and_port);
        (host.map(|h| super::interned(&[h])), port)
    };
    let Some(origin) = origin else {
        return parse(url);
    };
    let (host, port) = parse(origin);
    if let Ok(mut all) = SERVERS.write()
        && all.len() < MAX_SERVERS
        && !all.iter().any(|(o, _, _)| **o == *origin)
        && matches!(host, None | Some(Cow::Borrowed(_)))
    {
        all.push((Box::from(origin), host.clone(), port));
    }
    (host, port)
}

/// Origins remembered by [`server_of`]; past this many, URLs are parsed per call again.
const MAX_SERVERS: usize = 64;

type Server = (Box<str>, Option<Cow<'static, str>>, Option<u16>);
static SERVERS: RwLock<Vec<Server>> = RwLock::new(Vec::new());

impl ClientSpan {
    /// Replace every owned trace header in `headers` with this span's context.
    pub fn inject(&self, headers: &mut HeaderMap) {
        match &self.inject {
            Some(ctx) => bookinfo_propagation::inject(ctx, self.formats, headers),
            None => bookinfo_propagation::strip_owned(headers),
        }
    }

    /// End the span with the response status, or the reason no response arrived.
    pub fn finish(mut self, outcome: Result<u16, &str>) {
        match outcome {
            Ok(status) => {
                self.span.set_attribute(KeyValue::new(
                    "http.response.status_code",
                    i64::from(status),
                ));
                // HTTP conventions for a client: 4xx and 5xx are errors, typed by the status
                // code, which also says all a description would.
                if status >= 400 {
                    let code = status.to_string();
                    self.span
                        .set_attribute(KeyValue::new("error.type", super::interned(&[&code])));
                    self.span.set_status(Status::error(""));
                }
            }
            Err(why) => {
                self.span
                    .set_attribute(KeyValue::new("error.type", super::interned(&[why])));
                self.span.set_status(Status::error(why.to_owned()));
            }
        }
        self.span.end();
    }

    /// End the span of an attempt that got no answer: `error.type` names the reason
    /// (`timeout`, `connection_refused`, ...; see [`super::error_type`]), the status carries
    /// the message, and an `exception` event records the error itself.
    pub fn failed(mut self, error: &CallError) {
        let kind = match error {
            CallError::Timeout { .. } => "timeout",
            CallError::BadUrl { .. } => "bad_url",
            CallError::Transport { source, .. } => {
                super::error_type::in_chain(source).unwrap_or(if source.is_connect() {
                    "connect_error"
                } else {
                    "transport"
                })
            }
        };
        let message = error.to_string();
        self.span.add_event(
            "exception",
            vec![
                KeyValue::new("exception.type", error.exception_type()),
                KeyValue::new("exception.message", message.clone()),
            ],
        );
        self.span.set_attribute(KeyValue::new("error.type", kind));
        self.span.set_status(Status::error(message));
        self.span.end();
    }
}

#[cfg(test)]
mod tests {
    use super::{host_and_port, server_of};
    use http::Uri;

    #[test]
    fn host_and_port_of_urls() {
        let cases = [
            (
                "http://details:9080/details/0",
                (Some("details"), Some(9080)),
            ),
            (
                "http://127.0.0.1:19181/x?y=1",
                (Some("127.0.0.1"), Some(19181)),
            ),
            ("http://reviews/reviews/0", (Some("reviews"), None)),
            ("http://[::1]:9080/", (Some("::1"), Some(9080))),
            ("http://[::1]/", (Some("::1"), None)),
            ("http://user:pw@ratings:9080", (Some("ratings"), Some(9080))),
            ("http://h:notaport/", (Some("h"), None)),
            ("http://[::1/", (None, None)),
            ("not a url", (None, None)),
        ];
        for (url, expected) in cases {
            let parsed = url.parse::<Uri>().ok();
            let got = parsed.as_ref().map_or((None, None), host_and_port);
            assert_eq!(got, expected, "{url}");
            // Twice: the first call parses, the second finds the origin remembered.
            for _ in 0..2 {
                let (host, port) = server_of(url);
                assert_eq!((host.as_deref(), port), expected, "{url}");
            }
        }
    }
}
