//! Per-service Prometheus metrics and the `/metrics` handler.
//!
//! Each service owns its own [`prometheus::Registry`] rather than using the global one, so that
//! the all-in-one launcher and the cross-service tests can run several services in one process
//! without their counters mixing.
//!
//! Every label value comes from a closed set, whatever clients or backends send: methods are the
//! nine standard ones or `other` ([`method_label`]), routes are the service's route templates or
//! `unmatched`, statuses are the common codes or their class ([`status_label`]), destinations
//! are names fixed in the code. A client inventing methods or paths cannot grow `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

/// Latency buckets in seconds: from sub-millisecond loopback calls to the 10 s ratings timeout.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The metrics every service exposes; cheap to clone.
#[derive(Clone, Debug)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    requests: IntCounterVec,
    request_duration: HistogramVec,
    outbound: IntCounterVec,
    outbound_duration: HistogramVec,
}

impl Metrics {
    /// A fresh registry whose metrics carry the constant label `service`.
    pub fn new(service: &str) -> Self {
        let registry = Registry::new_custom(
            None,
            Some([("service".to_owned(), service.to_owned())].into()),
        )
        .expect("constant labels are valid");
        let requests = IntCounterVec::new(
            Opts::new(
                "http_server_requests_total",
                "HTTP requests served, by route, method and status code.",
            ),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let request_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_server_request_duration_seconds",
                "Time to produce a response, by route and method.",
            )
            .buckets(BUCKETS.to_vec()),
            &["route", "method"],
        )
        .expect("valid metric");
        let outbound = IntCounterVec::new(
            Opts::new(
                "http_client_requests_total",
                "Outbound HTTP request attempts, by destination and status code (`error` when no response arrived).",
            ),
            &["destination", "status"],
        )
        .expect("valid metric");
        let outbound_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_client_request_duration_seconds",
                "Duration of outbound HTTP request attempts, by destination.",
            )
            .buckets(BUCKETS.to_vec()),
            &["destination"],
        )
        .expect("valid metric");
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(request_duration.clone()),
            Box::new(outbound.clone()),
            Box::new(outbound_duration.clone()),
        ] {
            registry.register(c).expect("metric names are unique");
        }
        Self {
            inner: Arc::new(Inner {
                registry,
                requests,
                request_duration,
                outbound,
                outbound_duration,
            }),
        }
    }

    /// The registry, for service-specific collectors (productpage's `request_result`).
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Record one request served. `route` must be a route template or `unmatched` (never a raw
    /// path); `method` is reduced to [`method_label`] here.
    pub fn observe_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let method = method_label(method);
        self.inner
            .requests
            .with_label_values(&[route, method, status_label(status)])
            .inc();
        self.inner
            .request_duration
            .with_label_values(&[route, method])
            .observe(elapsed.as_secs_f64());
    }

    /// Record one outbound attempt; `status` is `None` when no response arrived. Destinations
    /// are names fixed in the code (`ratings`, `googleapis`), never taken from a request.
    pub fn observe_outbound(
        &self,
        destination: &'static str,
        status: Option<u16>,
        elapsed: Duration,
    ) {
        let status = status.map_or("error", status_label);
        self.inner
            .outbound
            .with_label_values(&[destination, status])
            .inc();
        self.inner
            .outbound_duration
            .with_label_values(&[destination])
            .observe(elapsed.as_secs_f64());
    }

    /// The registry in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec cannot fail for the text format.
        let _ = TextEncoder::new().encode(&self.inner.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }

    /// `/metrics` response with the exposition format's content type.
    pub fn response(&self) -> Response {
        (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            )],
            self.render(),
        )
            .into_response()
    }
}

/// The method as a label value: one of the nine methods of RFC 9110 and PATCH, else `other`.
pub fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "CONNECT" => "CONNECT",
        "OPTIONS" => "OPTIONS",
        "TRACE" => "TRACE",
        "PATCH" => "PATCH",
        _ => "other",
    }
}

/// Status codes as static label values: the common codes as they are, any other by its class
/// (`4xx`), so a backend answering odd codes cannot add label values either.
pub fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        201 => "201",
        204 => "204",
        301 => "301",
        302 => "302",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        408 => "408",
        409 => "409",
        413 => "413",
        415 => "415",
        422 => "422",
        429 => "429",
        431 => "431",
        500 => "500",
        501 => "501",
        502 => "502",
        503 => "503",
        504 => "504",
        555 => "555",
        s if s < 200 => "1xx",
        s if s < 300 => "2xx",
        s if s < 400 => "3xx",
        s if s < 500 => "4xx",
        s if s < 600 => "5xx",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_requests_and_outbound() {
        let m = Metrics::new("details");
        m.observe_request("/details/{id}", "GET", 200, Duration::from_millis(3));
        m.observe_outbound("ratings", Some(503), Duration::from_millis(1));
        m.observe_outbound("ratings", None, Duration::from_millis(1));
        let text = m.render();
        assert!(text.contains(
            r#"http_server_requests_total{method="GET",route="/details/{id}",status="200",service="details"} 1"#
        ), "{text}");
        assert!(text.contains(
            r#"http_client_requests_total{destination="ratings",status="503",service="details"} 1"#
        ));
        assert!(text.contains(r#"http_client_requests_total{destination="ratings",status="error",service="details"} 1"#));
        assert!(text.contains("# TYPE http_server_request_duration_seconds histogram"));
    }

    #[test]
    fn label_values_come_from_a_closed_set() {
        let m = Metrics::new("t");
        for i in 0..500u16 {
            m.observe_request("unmatched", &format!("M{i:05}XYZ"), 100 + i, Duration::ZERO);
        }
        m.observe_request("/x", "get", 999, Duration::ZERO);
        let text = m.render();
        assert!(!text.contains("XYZ"), "{text}");
        assert!(text.contains(r#"method="other""#), "{text}");
        let series = text
            .lines()
            .filter(|l| l.starts_with("http_server_requests_total{"))
            .count();
        // other × (1xx, 2xx, 3xx, 4xx, 5xx and the common codes) and the one for /x.
        assert!(series <= 40, "{series} series:\n{text}");
        assert_eq!(method_label("PATCH"), "PATCH");
        assert_eq!(status_label(599), "5xx");
        assert_eq!(status_label(999), "other");
    }

    #[test]
    fn two_services_do_not_share_counters() {
        let a = Metrics::new("a");
        let b = Metrics::new("b");
        a.observe_request("/x", "GET", 200, Duration::ZERO);
        assert!(!b.render().contains("route=\"/x\""));
    }
}
