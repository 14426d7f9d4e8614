//! Forwarding and propagation together: the allow-list of forwarded headers
//! ([`bookinfo_core::headers::forwarded_headers`]), the removal of the trace headers a participating
//! service owns, and the context written for the next hop. The formats themselves are tested in
//! the `bookinfo-propagation` crate.

use bookinfo_core::headers::forwarded_headers;
use bookinfo_propagation::{
    Format, FormatSet, Propagation, Sampling, SpanId, TraceId, extract, inject, strip_owned,
};
use http::{HeaderMap, HeaderName, HeaderValue};

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).expect("test header name"),
            HeaderValue::from_str(v).expect("test header value"),
        );
    }
    h
}

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn set(formats: &[Format]) -> FormatSet {
    formats.iter().copied().collect()
}

#[test]
fn malformed_headers_are_not_forwarded() {
    let h = headers(&[
        ("traceparent", "garbage"),
        ("x-request-id", "r1"),
        ("end-user", "jason"),
    ]);
    let got = extract(&h, &Propagation::default());
    assert_eq!(got.malformed, set(&[Format::TraceContext]));
    let mut forwarded = forwarded_headers(&h);
    strip_owned(&mut forwarded);
    assert!(forwarded.get("traceparent").is_none());
    assert_eq!(forwarded["x-request-id"], "r1");
    assert_eq!(forwarded["end-user"], "jason");
}

mod hop {
    use super::*;

    /// One participating hop: read the caller's context, make a server and a client span,
    /// strip stale headers and write the client span's context in the formats that arrived.
    fn hop(incoming: &HeaderMap) -> HeaderMap {
        let p = Propagation::default();
        let got = extract(incoming, &p);
        let server = got
            .context
            .expect("the hop test sends a valid context")
            .child(|| 0x1111_1111_1111_1111);
        let client = server.child(|| 0x2222_2222_2222_2222);
        let mut forwarded = forwarded_headers(incoming);
        strip_owned(&mut forwarded);
        inject(&client, p.inject_set(got.arrived), &mut forwarded);
        forwarded
    }

    #[test]
    fn b3_multi_from_an_envoy_sidecar_keeps_width_and_drops_stale_formats() {
        let incoming = headers(&[
            ("x-b3-traceid", "a3ce929d0e0e4736"),
            ("x-b3-spanid", "00f067aa0ba902b7"),
            ("x-b3-parentspanid", "05e3ac9a4f6e3b90"),
            ("x-b3-sampled", "1"),
            ("traceparent", "00-4bf92f3577b34da6-00f067aa0ba902b7-01"),
            ("x-datadog-trace-id", "1234567890123456789"),
            ("sw8", "1-abc-def-0-a-b-c-d"),
            (
                "x-amzn-trace-id",
                "Root=1-5759e988-bd862e3fe1be46a994272793",
            ),
            ("uberctx-user", "jason"),
            ("ot-baggage-user", "jason"),
            ("baggage", "userId=alice"),
            ("x-request-id", "3a7c1b6e-1f2d-9a4b-8c3d-2e1f0a9b8c7d"),
        ]);
        let forwarded = hop(&incoming);
        assert_eq!(forwarded["x-b3-traceid"], "a3ce929d0e0e4736");
        assert_eq!(forwarded["x-b3-spanid"], "2222222222222222");
        assert_eq!(forwarded["x-b3-parentspanid"], "1111111111111111");
        assert_eq!(forwarded["x-b3-sampled"], "1");
        assert!(
            forwarded.get("traceparent").is_none(),
            "malformed, so not mirrored"
        );
        assert!(forwarded.get("b3").is_none());
        for verbatim in [
            "x-datadog-trace-id",
            "sw8",
            "x-amzn-trace-id",
            "uberctx-user",
            "ot-baggage-user",
            "baggage",
            "x-request-id",
        ] {
            assert_eq!(forwarded[verbatim], incoming[verbatim], "{verbatim}");
        }
    }

    #[test]
    fn x_ot_span_context_is_re_encoded_with_the_new_span() {
        // docs/tracing-design.md, “x-ot-span-context”: trace a3ce929d0e0e4736, span
        // 00f067aa0ba902b7, sampled, user=jason.
        let incoming = headers(&[(
            "x-ot-span-context",
            "EiMJNkcODp2SzqMRtwKpC6pn8AAYASINCgR1c2VyEgVqYXNvbg==",
        )]);
        let forwarded = hop(&incoming);
        let got = extract(&forwarded, &Propagation::default());
        let ctx = got.context.unwrap();
        assert_eq!(
            ctx.trace_id,
            TraceId::new_64(0xa3ce_929d_0e0e_4736).unwrap()
        );
        assert_eq!(ctx.span_id, SpanId::new(0x2222_2222_2222_2222).unwrap());
        assert_eq!(ctx.sampling, Sampling::Sampled);
        assert_eq!(ctx.baggage.get("user").map(String::as_str), Some("jason"));
        assert_eq!(got.arrived, set(&[Format::OtSpanContext]));
    }

    #[test]
    fn traceparent_and_tracestate_are_regenerated() {
        let incoming = headers(&[
            ("traceparent", TRACEPARENT),
            ("tracestate", "congo=t61rcWkgMzE"),
            ("tracestate", "rojo=00f067aa0ba902b7"),
        ]);
        let forwarded = hop(&incoming);
        assert_eq!(
            forwarded["traceparent"],
            "00-4bf92f3577b34da6a3ce929d0e0e4736-2222222222222222-01"
        );
        let states: Vec<_> = forwarded.get_all("tracestate").iter().collect();
        assert_eq!(states, ["congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"]);
        assert!(forwarded.get("x-b3-traceid").is_none());
    }

    #[test]
    fn uber_trace_id_keeps_its_width_and_writes_a_zero_parent() {
        let forwarded = hop(&headers(&[(
            "uber-trace-id",
            "a3ce929d0e0e4736:f067aa0ba902b7:0:1",
        )]));
        assert_eq!(
            forwarded["uber-trace-id"],
            "a3ce929d0e0e4736:2222222222222222:0:1"
        );
    }

    #[test]
    fn ot_tracer_headers_are_regenerated() {
        let forwarded = hop(&headers(&[
            ("ot-tracer-traceid", "a3ce929d0e0e4736"),
            ("ot-tracer-spanid", "00f067aa0ba902b7"),
            ("ot-tracer-sampled", "false"),
        ]));
        assert_eq!(forwarded["ot-tracer-traceid"], "a3ce929d0e0e4736");
        assert_eq!(forwarded["ot-tracer-spanid"], "2222222222222222");
        assert_eq!(forwarded["ot-tracer-sampled"], "false");
    }
}

/// A real participating hop: the tracing middleware, the `Forwarded` extractor and the HTTP
/// client, with a recording downstream. What the downstream receives is what the next service
/// (or sidecar) would.
mod participating_hop {
    use std::collections::HashMap;
    use std::time::Duration;

    use axum::Router;
    use axum::extract::State;
    use axum::routing::get;
    use bookinfo_core::client::Client;
    use bookinfo_core::config::EnvReader;
    use bookinfo_core::headers::Forwarded;
    use bookinfo_core::trace::{Tracing, TracingConfig};
    use bookinfo_core::{Connections, Metrics};
    use bookinfo_propagation::{Format, Propagation, extract};
    use bookinfo_testing::{FakeServer, Recorded, Reply};

    #[derive(Clone)]
    struct Hop {
        client: Client,
        url: String,
    }

    async fn call(State(hop): State<Hop>, forwarded: Forwarded) -> &'static str {
        match hop
            .client
            .call(
                "downstream",
                &hop.url,
                &forwarded,
                Duration::from_secs(5),
                0,
            )
            .await
        {
            Ok(_) => "ok",
            Err(_) => "failed",
        }
    }

    /// One request with `incoming` headers through a participating service configured with
    /// `propagators` (`OTEL_PROPAGATORS`); the request its downstream received.
    async fn through(propagators: Option<&str>, incoming: &[(&str, &str)]) -> Recorded {
        let sink = FakeServer::always(Reply::status(200)).await;
        let downstream = FakeServer::always(Reply::json("{}")).await;
        let mut vars: HashMap<String, String> = HashMap::new();
        vars.insert("OTEL_TRACES_EXPORTER".into(), "otlp".into());
        vars.insert(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT".into(),
            format!("{}/v1/traces", sink.base_url()),
        );
        if let Some(p) = propagators {
            vars.insert("OTEL_PROPAGATORS".into(), p.into());
        }
        let mut env = EnvReader::new(&vars);
        let config = TracingConfig::read(&mut env, "hop", "v1");
        let config = env.finish(config).expect("valid configuration");
        let tracing = Tracing::start(&config);
        assert!(tracing.is_participating());
        let metrics = Metrics::new("hop");
        let hop = Hop {
            client: Client::new(metrics.clone(), "hop", Connections::default()),
            url: format!("{}/next", downstream.base_url()),
        };
        let routes = Router::new().route("/", get(call)).with_state(hop);
        let app = bookinfo_core::server::harden(
            routes,
            metrics,
            tracing.clone(),
            bookinfo_core::server::ServiceId::new("hop", "v1"),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let mut req = reqwest::Client::new().get(format!("http://{addr}/"));
        for (k, v) in incoming {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("the hop answers");
        assert_eq!(resp.text().await.expect("a body"), "ok");
        server.abort();
        tracing.shutdown().await;
        let seen = downstream.requests();
        assert_eq!(seen.len(), 1);
        seen[0].clone()
    }

    fn values<'a>(seen: &'a Recorded, name: &str) -> Vec<&'a str> {
        seen.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().expect("text"))
            .collect()
    }

    #[tokio::test]
    async fn only_valid_baggage_members_go_on() {
        let seen = through(
            None,
            &[
                ("baggage", "userId=alice,not a member"),
                ("baggage", "isProduction=false;prop,=x"),
            ],
        )
        .await;
        assert_eq!(
            values(&seen, "baggage"),
            ["userId=alice,isProduction=false;prop"]
        );
    }

    #[tokio::test]
    async fn baggage_without_a_valid_member_is_not_sent() {
        let seen = through(None, &[("baggage", "no value,k y=v")]).await;
        assert!(values(&seen, "baggage").is_empty());
    }

    #[tokio::test]
    async fn oversized_baggage_goes_on_within_the_limits() {
        let many: Vec<String> = (0..70).map(|i| format!("k{i}=v")).collect();
        let seen = through(None, &[("baggage", &many.join(","))]).await;
        let kept: Vec<String> = (0..64).map(|i| format!("k{i}=v")).collect();
        assert_eq!(values(&seen, "baggage"), [kept.join(",")]);
    }

    #[tokio::test]
    async fn baggage_that_is_not_read_passes_as_it_came() {
        let seen = through(Some("tracecontext"), &[("baggage", "no value")]).await;
        assert_eq!(values(&seen, "baggage"), ["no value"]);
    }

    /// Upstream's productpage forwards every format with one trace id; behind a Zipkin mesh the
    /// sidecar has rewritten `x-b3-*`, so B3 wins.
    #[tokio::test]
    async fn a_mixed_chain_keeps_tracestate_and_in_header_baggage() {
        let seen = through(
            None,
            &[
                ("x-b3-traceid", "a3ce929d0e0e4736"),
                ("x-b3-spanid", "e457b5a2e4d86bd1"),
                ("x-b3-sampled", "1"),
                (
                    "traceparent",
                    "00-0000000000000000a3ce929d0e0e4736-00f067aa0ba902b7-01",
                ),
                ("tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"),
                // docs/tracing-design.md, “x-ot-span-context”: trace a3ce929d0e0e4736, sampled, baggage user=jason.
                (
                    "x-ot-span-context",
                    "EiMJNkcODp2SzqMRtwKpC6pn8AAYASINCgR1c2VyEgVqYXNvbg==",
                ),
            ],
        )
        .await;
        let span = seen.header("x-b3-spanid").expect("x-b3-spanid");
        assert_ne!(span, "e457b5a2e4d86bd1", "our client span");
        assert_eq!(seen.header("x-b3-traceid"), Some("a3ce929d0e0e4736"));
        assert_eq!(
            seen.header("traceparent"),
            Some(format!("00-0000000000000000a3ce929d0e0e4736-{span}-01").as_str())
        );
        assert_eq!(
            values(&seen, "tracestate"),
            ["congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"]
        );
        let xot = extract(&seen.headers, &Propagation::parse("xot").expect("xot"));
        let ctx = xot.context.expect("a readable x-ot-span-context");
        assert_eq!(ctx.span_id.to_hex(), span);
        assert_eq!(ctx.baggage.get("user").map(String::as_str), Some("jason"));
        assert_eq!(
            xot.arrived.iter().collect::<Vec<_>>(),
            [Format::OtSpanContext]
        );
    }

    #[tokio::test]
    async fn b3_and_x_b3_both_go_on_with_the_same_ids() {
        let seen = through(
            None,
            &[
                ("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"),
                ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
                ("x-b3-spanid", "e457b5a2e4d86bd1"),
                ("x-b3-sampled", "1"),
            ],
        )
        .await;
        let span = seen.header("x-b3-spanid").expect("x-b3-spanid");
        let server = seen.header("x-b3-parentspanid").expect("x-b3-parentspanid");
        assert_eq!(
            seen.header("x-b3-traceid"),
            Some("80f198ee56343ba864fe8b2a57d3eff7")
        );
        assert_eq!(seen.header("x-b3-sampled"), Some("1"));
        assert_eq!(
            seen.header("b3"),
            Some(format!("80f198ee56343ba864fe8b2a57d3eff7-{span}-1-{server}").as_str())
        );
    }
}
