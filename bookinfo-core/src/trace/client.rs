//! One CLIENT span per outbound attempt, and the headers that carry it downstream.
//!
//! The span is a child of the request's SERVER span, taken from the [`RequestTrace`] the caller
//! hands in (never from an ambient "current span"), so concurrent and spawned calls parent
//! correctly. Before sending, every trace header this service owns is removed from the outbound
//! request and the *client span's* context is written in the formats the request arrived with:
//! nothing stale survives, and the next hop's parent is a span that is exported.

use http::HeaderMap;
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry_sdk::trace::Span;
use tokio_util::task::task_tracker::TaskTrackerToken;

use super::RequestTrace;
use crate::client::OutboundError;
use bookinfo_propagation::{Sampling, SpanId, TraceContext, TraceId};

/// An open CLIENT span; finish it with the outcome of the attempt.
#[derive(Debug)]
pub struct ClientSpan {
    span: Span,
    inject: Option<TraceContext>,
    formats: bookinfo_propagation::FormatSet,
    /// Released after `span` (fields drop in order; see `Tracing::shutdown`).
    _live: TaskTrackerToken,
}

impl RequestTrace {
    /// Open the CLIENT span for one attempt of `GET url` to `destination`. `attempt` counts
    /// from 0; a retry is its own span with `http.request.resend_count`.
    pub fn client_span(
        &self,
        method: &str,
        destination: &str,
        url: &str,
        attempt: u32,
    ) -> ClientSpan {
        let mut attributes = Vec::with_capacity(5);
        attributes.push(KeyValue::new(
            "http.request.method",
            super::server::method_value(method),
        ));
        attributes.push(KeyValue::new("url.full", url.to_owned()));
        let (host, port) = host_and_port(url);
        if let Some(host) = host {
            attributes.push(KeyValue::new("server.address", super::interned(&[host])));
        }
        if let Some(port) = port {
            attributes.push(KeyValue::new("server.port", i64::from(port)));
        }
        if attempt > 0 {
            attributes.push(KeyValue::new(
                "http.request.resend_count",
                i64::from(attempt),
            ));
        }
        let builder = self
            .tracer
            .span_builder(super::interned(&[method, " ", destination]))
            .with_kind(SpanKind::Client)
            .with_attributes(attributes);
        let span = self.tracer.build_with_context(builder, &self.cx);
        let inject = self.inject_context(span.span_context());
        ClientSpan {
            span,
            inject,
            formats: self.formats,
            _live: self.live.clone(),
        }
    }

    /// The context written downstream: the client span's ids, the caller's trace-id width,
    /// vendor state and in-header baggage, and the settled decision (debug stays debug).
    fn inject_context(&self, sc: &opentelemetry::trace::SpanContext) -> Option<TraceContext> {
        let value = u128::from_be_bytes(sc.trace_id().to_bytes());
        let narrow = self
            .incoming
            .as_ref()
            .is_some_and(|i| i.trace_id.is_64bit());
        let trace_id = if narrow {
            TraceId::new_64(u64::try_from(value & u128::from(u64::MAX)).ok()?)?
        } else {
            TraceId::new(value)?
        };
        let span_id = SpanId::new(u64::from_be_bytes(sc.span_id().to_bytes()))?;
        let sampling = match (sc.is_sampled(), self.debug) {
            (false, _) => Sampling::NotSampled,
            (true, true) => Sampling::Debug,
            (true, false) => Sampling::Sampled,
        };
        let mut ctx = TraceContext::new(trace_id, span_id, sampling);
        let server = self.cx.span().span_context().span_id();
        ctx.parent_span_id = SpanId::new(u64::from_be_bytes(server.to_bytes()));
        if let Some(incoming) = &self.incoming {
            ctx.trace_state = incoming.trace_state.clone();
            ctx.baggage = incoming.baggage.clone();
        }
        Some(ctx)
    }
}

/// The host (IPv6 literals without brackets) and explicit port of an absolute URL, read in place:
/// the client parses the URL again anyway, so the span does not pay for a second full parse.
fn host_and_port(url: &str) -> (Option<&str>, Option<u16>) {
    let Some((_, rest)) = url.split_once("://") else {
        return (None, None);
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((host, rest)) => (host, rest.strip_prefix(':')),
            None => return (None, None),
        },
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let host = Some(host).filter(|h| !h.is_empty());
    (host, port.and_then(|p| p.parse().ok()))
}

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
    pub fn failed(mut self, error: &OutboundError) {
        let kind = match error {
            OutboundError::Timeout { .. } => "timeout",
            OutboundError::Transport { source, .. } => super::error_type::in_chain(source)
                .unwrap_or(if source.is_connect() {
                    "connect_error"
                } else {
                    "transport"
                }),
        };
        let message = error.to_string();
        self.span.add_event(
            "exception",
            vec![
                KeyValue::new("exception.type", std::any::type_name::<reqwest::Error>()),
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
    use super::host_and_port;

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
            assert_eq!(host_and_port(url), expected, "{url}");
        }
    }
}
