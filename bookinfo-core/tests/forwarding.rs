//! Forwarding and propagation together: the allow-list of forwarded headers
//! ([`bookinfo_core::forwarded_headers`]), the removal of the trace headers a participating
//! service owns, and the context written for the next hop. The formats themselves are tested in
//! the `bookinfo-propagation` crate.

use bookinfo_core::forwarded_headers;
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
    let mut out = forwarded_headers(&h);
    strip_owned(&mut out);
    assert!(out.get("traceparent").is_none());
    assert_eq!(out["x-request-id"], "r1");
    assert_eq!(out["end-user"], "jason");
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
        let mut out = forwarded_headers(incoming);
        strip_owned(&mut out);
        inject(&client, p.inject_set(got.arrived), &mut out);
        out
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
        let out = hop(&incoming);
        assert_eq!(out["x-b3-traceid"], "a3ce929d0e0e4736");
        assert_eq!(out["x-b3-spanid"], "2222222222222222");
        assert_eq!(out["x-b3-parentspanid"], "1111111111111111");
        assert_eq!(out["x-b3-sampled"], "1");
        assert!(
            out.get("traceparent").is_none(),
            "malformed, so not mirrored"
        );
        assert!(out.get("b3").is_none());
        for verbatim in [
            "x-datadog-trace-id",
            "sw8",
            "x-amzn-trace-id",
            "uberctx-user",
            "ot-baggage-user",
            "baggage",
            "x-request-id",
        ] {
            assert_eq!(out[verbatim], incoming[verbatim], "{verbatim}");
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
        let out = hop(&incoming);
        let got = extract(&out, &Propagation::default());
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
        let out = hop(&incoming);
        assert_eq!(
            out["traceparent"],
            "00-4bf92f3577b34da6a3ce929d0e0e4736-2222222222222222-01"
        );
        let states: Vec<_> = out.get_all("tracestate").iter().collect();
        assert_eq!(states, ["congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"]);
        assert!(out.get("x-b3-traceid").is_none());
    }

    #[test]
    fn uber_trace_id_keeps_its_width_and_writes_a_zero_parent() {
        let out = hop(&headers(&[(
            "uber-trace-id",
            "a3ce929d0e0e4736:f067aa0ba902b7:0:1",
        )]));
        assert_eq!(
            out["uber-trace-id"],
            "a3ce929d0e0e4736:2222222222222222:0:1"
        );
    }

    #[test]
    fn ot_tracer_headers_are_regenerated() {
        let out = hop(&headers(&[
            ("ot-tracer-traceid", "a3ce929d0e0e4736"),
            ("ot-tracer-spanid", "00f067aa0ba902b7"),
            ("ot-tracer-sampled", "false"),
        ]));
        assert_eq!(out["ot-tracer-traceid"], "a3ce929d0e0e4736");
        assert_eq!(out["ot-tracer-spanid"], "2222222222222222");
        assert_eq!(out["ot-tracer-sampled"], "false");
    }
}
