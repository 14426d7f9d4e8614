//! End-to-end tests of the propagation module through its public API: precedence, the mirror
//! set, malformed input, sampling semantics, width preservation, stripping, and property tests
//! that every format reads back exactly what it wrote (within what the format can express).
//! Expected header values come from the format specifications and docs/tracing-design.md, not
//! from runs.

use bookinfo_propagation::{
    Format, FormatSet, Propagation, Sampling, SpanId, TraceContext, TraceId, TraceState, extract,
    inject, is_owned, strip_owned,
};
use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;

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

fn set(formats: &[Format]) -> FormatSet {
    formats.iter().copied().collect()
}

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const B3: &str = "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90";

mod precedence {
    use super::*;

    #[test]
    fn b3_wins_over_a_conflicting_traceparent_by_default() {
        let h = headers(&[("traceparent", TRACEPARENT), ("b3", B3)]);
        let got = extract(&h, &Propagation::default());
        let ctx = got.context.unwrap();
        assert_eq!(ctx.trace_id.to_hex(), "80f198ee56343ba864fe8b2a57d3eff7");
        assert_eq!(got.arrived, set(&[Format::B3Single, Format::TraceContext]));
        assert!(got.malformed.is_empty());
    }

    #[test]
    fn configured_order_decides() {
        let h = headers(&[("traceparent", TRACEPARENT), ("b3", B3)]);
        let p = Propagation::parse("tracecontext,b3").unwrap();
        let ctx = extract(&h, &p).context.unwrap();
        assert_eq!(ctx.trace_id.to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    #[test]
    fn disabled_formats_are_not_read() {
        let h = headers(&[("b3", B3)]);
        let got = extract(&h, &Propagation::parse("tracecontext").unwrap());
        assert_eq!(got.context, None);
        assert!(got.arrived.is_empty());
    }

    #[test]
    fn valid_single_b3_hides_multi_for_reading_but_both_are_mirrored() {
        let h = headers(&[
            ("b3", B3),
            ("x-b3-traceid", "a3ce929d0e0e4736"),
            ("x-b3-spanid", "00f067aa0ba902b7"),
        ]);
        let got = extract(&h, &Propagation::default());
        assert_eq!(got.arrived, set(&[Format::B3Single, Format::B3Multi]));
        let ctx = got.context.unwrap();
        assert_eq!(ctx.span_id, SpanId::new(0xe457_b5a2_e4d8_6bd1).unwrap());
        // Both forms come back, carrying the same (our) ids.
        let mut out = HeaderMap::new();
        inject(
            &ctx.child(|| 0x2222_2222_2222_2222),
            Propagation::default().inject_set(got.arrived),
            &mut out,
        );
        assert_eq!(
            out["b3"],
            "80f198ee56343ba864fe8b2a57d3eff7-2222222222222222-1-e457b5a2e4d86bd1"
        );
        assert_eq!(out["x-b3-traceid"], "80f198ee56343ba864fe8b2a57d3eff7");
        assert_eq!(out["x-b3-spanid"], "2222222222222222");
        assert_eq!(out["x-b3-parentspanid"], "e457b5a2e4d86bd1");
        assert_eq!(out["x-b3-sampled"], "1");
    }

    #[test]
    fn malformed_multi_next_to_a_valid_single_is_reported_and_not_mirrored() {
        let h = headers(&[("b3", B3), ("x-b3-traceid", "a3ce929d0e0e4736")]);
        let got = extract(&h, &Propagation::default());
        assert_eq!(got.arrived, set(&[Format::B3Single]));
        assert_eq!(got.malformed, set(&[Format::B3Multi]));
        assert_eq!(
            got.context.unwrap().trace_id.to_hex(),
            "80f198ee56343ba864fe8b2a57d3eff7"
        );
    }

    #[test]
    fn a_b3_decision_without_ids_still_hides_the_multi_ids() {
        let h = headers(&[
            ("b3", "0"),
            ("x-b3-traceid", "a3ce929d0e0e4736"),
            ("x-b3-spanid", "00f067aa0ba902b7"),
            ("x-b3-sampled", "1"),
        ]);
        let got = extract(&h, &Propagation::default());
        assert_eq!(got.context, None, "the single header wins: no ids");
        assert_eq!(got.decision, Some(Sampling::NotSampled));
        assert_eq!(got.arrived, set(&[Format::B3Single, Format::B3Multi]));
    }

    #[test]
    fn malformed_single_b3_falls_back_to_multi() {
        let h = headers(&[
            ("b3", "not-b3"),
            ("x-b3-traceid", "a3ce929d0e0e4736"),
            ("x-b3-spanid", "00f067aa0ba902b7"),
            ("x-b3-sampled", "1"),
        ]);
        let got = extract(&h, &Propagation::default());
        assert_eq!(got.malformed, set(&[Format::B3Single]));
        assert_eq!(got.arrived, set(&[Format::B3Multi]));
        let ctx = got.context.unwrap();
        assert_eq!(
            ctx.trace_id,
            TraceId::new_64(0xa3ce_929d_0e0e_4736).unwrap()
        );
    }

    #[test]
    fn lower_precedence_formats_still_join_the_mirror_set() {
        let h = headers(&[
            ("uber-trace-id", "1:2:0:1"),
            ("ot-tracer-traceid", "0000000000000003"),
            ("ot-tracer-spanid", "0000000000000004"),
        ]);
        let got = extract(&h, &Propagation::default());
        assert_eq!(got.context.unwrap().span_id, SpanId::new(4).unwrap());
        assert_eq!(got.arrived, set(&[Format::OtTrace, Format::Jaeger]));
    }
}

/// What a caller that forwards every format with one trace id sends (upstream's productpage
/// does, behind a Zipkin-provider mesh: the sidecar has rewritten `x-b3-*`, the rest is stale
/// but of the same trace), and what the next hop must get back.
mod mixed_chains {
    use super::*;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const STATE: &str = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";

    fn client_of(got: &bookinfo_propagation::Extracted) -> TraceContext {
        got.context
            .as_ref()
            .expect("a context arrived")
            .child(|| 0x2222_2222_2222_2222)
    }

    fn hop(incoming: &HeaderMap) -> HeaderMap {
        let p = Propagation::default();
        let got = extract(incoming, &p);
        let mut out = HeaderMap::new();
        inject(&client_of(&got), p.inject_set(got.arrived), &mut out);
        out
    }

    #[test]
    fn tracestate_goes_with_a_b3_context_of_the_same_trace() {
        let incoming = headers(&[
            ("x-b3-traceid", TRACE),
            ("x-b3-spanid", "e457b5a2e4d86bd1"),
            ("x-b3-sampled", "1"),
            ("traceparent", TRACEPARENT),
            ("tracestate", "congo=t61rcWkgMzE"),
            ("tracestate", "rojo=00f067aa0ba902b7"),
        ]);
        let got = extract(&incoming, &Propagation::default());
        let ctx = got.context.as_ref().unwrap();
        assert_eq!(ctx.span_id.to_hex(), "e457b5a2e4d86bd1", "B3 won");
        assert_eq!(ctx.trace_state.header_value().as_deref(), Some(STATE));
        let out = hop(&incoming);
        assert_eq!(
            out["traceparent"],
            format!("00-{TRACE}-2222222222222222-01").as_str()
        );
        assert_eq!(out["tracestate"], STATE);
        assert_eq!(out["x-b3-spanid"], "2222222222222222");
    }

    #[test]
    fn a_64_bit_b3_id_is_the_same_trace_as_its_zero_padded_traceparent() {
        // Zipkin compares a 64-bit id with the low half of a 128-bit one padded with zeros.
        let incoming = headers(&[
            ("x-b3-traceid", "a3ce929d0e0e4736"),
            ("x-b3-spanid", "e457b5a2e4d86bd1"),
            ("x-b3-sampled", "1"),
            (
                "traceparent",
                "00-0000000000000000a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("tracestate", "rojo=00f067aa0ba902b7"),
        ]);
        let out = hop(&incoming);
        assert_eq!(out["x-b3-traceid"], "a3ce929d0e0e4736", "width kept");
        assert_eq!(
            out["traceparent"],
            "00-0000000000000000a3ce929d0e0e4736-2222222222222222-01"
        );
        assert_eq!(out["tracestate"], "rojo=00f067aa0ba902b7");
    }

    #[test]
    fn tracestate_of_another_trace_is_dropped() {
        let incoming = headers(&[
            ("b3", B3),
            ("traceparent", TRACEPARENT),
            ("tracestate", STATE),
        ]);
        let got = extract(&incoming, &Propagation::default());
        assert!(got.context.as_ref().unwrap().trace_state.is_empty());
        let out = hop(&incoming);
        assert_eq!(
            out["traceparent"], "00-80f198ee56343ba864fe8b2a57d3eff7-2222222222222222-01",
            "the written traceparent continues the B3 trace"
        );
        assert!(out.get("tracestate").is_none());
    }

    #[test]
    fn a_winning_traceparent_keeps_its_tracestate() {
        let incoming = headers(&[("traceparent", TRACEPARENT), ("tracestate", STATE)]);
        let p = Propagation::parse("tracecontext,b3multi").unwrap();
        let got = extract(&incoming, &p);
        assert_eq!(
            got.context.unwrap().trace_state.header_value().as_deref(),
            Some(STATE)
        );
    }

    #[test]
    fn x_ot_span_context_baggage_survives_when_b3_wins() {
        // docs/tracing-design.md, “x-ot-span-context”: trace a3ce929d0e0e4736, span 00f067aa0ba902b7, sampled, user=jason.
        let with_baggage = "EiMJNkcODp2SzqMRtwKpC6pn8AAYASINCgR1c2VyEgVqYXNvbg==";
        let incoming = headers(&[
            ("x-b3-traceid", "a3ce929d0e0e4736"),
            ("x-b3-spanid", "e457b5a2e4d86bd1"),
            ("x-b3-sampled", "1"),
            ("x-ot-span-context", with_baggage),
        ]);
        let p = Propagation::default();
        let got = extract(&incoming, &p);
        assert_eq!(got.arrived, set(&[Format::B3Multi, Format::OtSpanContext]));
        let ctx = got.context.unwrap();
        assert_eq!(ctx.span_id.to_hex(), "e457b5a2e4d86bd1", "B3 won");
        assert_eq!(ctx.baggage.get("user").map(String::as_str), Some("jason"));
        // Re-encoded with the example's span id, it is the example again, baggage included.
        let client = ctx.child(|| 0x00f0_67aa_0ba9_02b7);
        let mut out = HeaderMap::new();
        inject(&client, p.inject_set(got.arrived), &mut out);
        assert_eq!(out["x-ot-span-context"], with_baggage);
    }

    #[test]
    fn x_ot_span_context_baggage_survives_when_traceparent_wins() {
        let with_baggage = "EiMJNkcODp2SzqMRtwKpC6pn8AAYASINCgR1c2VyEgVqYXNvbg==";
        let incoming = headers(&[
            ("traceparent", TRACEPARENT),
            ("x-ot-span-context", with_baggage),
        ]);
        let got = extract(&incoming, &Propagation::default());
        let ctx = got.context.unwrap();
        assert_eq!(ctx.trace_id.to_hex(), TRACE, "W3C won");
        assert_eq!(ctx.baggage.get("user").map(String::as_str), Some("jason"));
    }

    #[test]
    fn invalid_baggage_members_are_dropped_and_the_rest_kept() {
        let got = extract(
            &headers(&[(
                "baggage",
                "userId=alice,not a member,isProduction=false;prop",
            )]),
            &Propagation::default(),
        );
        assert!(got.baggage_malformed);
        assert_eq!(
            got.baggage.unwrap().header_value().as_deref(),
            Some("userId=alice,isProduction=false;prop")
        );
    }

    #[test]
    fn oversized_baggage_is_cut_to_the_limits() {
        // 70 members: the W3C minimum a platform must propagate is 64.
        let many: Vec<String> = (0..70).map(|i| format!("k{i}=v")).collect();
        let got = extract(
            &headers(&[("baggage", &many.join(","))]),
            &Propagation::default(),
        );
        assert!(!got.baggage_malformed, "nothing was invalid");
        let expected: Vec<String> = (0..64).map(|i| format!("k{i}=v")).collect();
        assert_eq!(
            got.baggage.unwrap().header_value(),
            Some(expected.join(","))
        );
        // 8192 bytes: two members of 5002 bytes cannot both fit; the first stays.
        let big = "x".repeat(5000);
        let got = extract(
            &headers(&[("baggage", &format!("a={big},b={big}"))]),
            &Propagation::default(),
        );
        assert_eq!(
            got.baggage.unwrap().header_value(),
            Some(format!("a={big}"))
        );
    }
}

mod malformed {
    use super::*;

    /// Each case: headers of one format, all invalid. The format must be reported malformed,
    /// yield no context, and not count as arrived.
    #[test]
    fn every_format_reports_and_ignores_invalid_input() {
        let cases: &[(Format, &[(&str, &str)])] = &[
            (Format::B3Single, &[("b3", "a3ce929d0e0e4736")]),
            (
                Format::B3Single,
                &[("b3", "0000000000000000-00f067aa0ba902b7-1")],
            ),
            (
                Format::B3Single,
                &[("b3", "a3ce929d0e0e4736-00f067aa0ba902b7-x")],
            ),
            (Format::B3Multi, &[("x-b3-traceid", "a3ce929d0e0e4736")]),
            (
                Format::B3Multi,
                &[
                    ("x-b3-traceid", "a3ce929d0e0e4736"),
                    ("x-b3-spanid", "00f067aa0ba902b7"),
                    ("x-b3-sampled", "yes"),
                ],
            ),
            (
                Format::TraceContext,
                &[(
                    "traceparent",
                    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                )],
            ),
            (
                Format::TraceContext,
                &[(
                    "traceparent",
                    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                )],
            ),
            (
                Format::TraceContext,
                &[("traceparent", "00-a3ce929d0e0e4736-00f067aa0ba902b7-01")],
            ),
            (Format::OtSpanContext, &[("x-ot-span-context", "%%%")]),
            (Format::OtSpanContext, &[("x-ot-span-context", "AAAA")]),
            (Format::OtTrace, &[("ot-tracer-spanid", "00f067aa0ba902b7")]),
            (
                Format::OtTrace,
                &[
                    ("ot-tracer-traceid", "a3ce929d0e0e4736"),
                    ("ot-tracer-spanid", "00f067aa0ba902b7"),
                    ("ot-tracer-sampled", "maybe"),
                ],
            ),
            (Format::Jaeger, &[("uber-trace-id", "1:2:0")]),
            (Format::Jaeger, &[("uber-trace-id", "0:2:0:1")]),
        ];
        for (format, pairs) in cases {
            let got = extract(&headers(pairs), &Propagation::default());
            assert_eq!(got.context, None, "{pairs:?}");
            assert_eq!(got.malformed, set(&[*format]), "{pairs:?}");
            assert!(got.arrived.is_empty(), "{pairs:?}");
            let defaults = Propagation::default().inject_default();
            assert_eq!(Propagation::default().inject_set(got.arrived), defaults);
        }
    }

    #[test]
    fn malformed_baggage_is_flagged() {
        let got = extract(
            &headers(&[("baggage", "no value")]),
            &Propagation::default(),
        );
        assert!(got.baggage_malformed);
        assert_eq!(got.baggage, None, "no member was valid");
    }
}

mod sampling {
    use super::*;

    #[test]
    fn absent_b3_sampling_is_deferred_not_deny() {
        let h = headers(&[
            ("x-b3-traceid", "a3ce929d0e0e4736"),
            ("x-b3-spanid", "00f067aa0ba902b7"),
        ]);
        let ctx = extract(&h, &Propagation::default()).context.unwrap();
        assert_eq!(ctx.sampling, Sampling::Deferred);
        let mut out = HeaderMap::new();
        inject(
            &ctx.child(|| 9),
            set(&[Format::B3Multi, Format::B3Single]),
            &mut out,
        );
        assert!(out.get("x-b3-sampled").is_none());
        assert_eq!(
            out["b3"], "a3ce929d0e0e4736-0000000000000009",
            "no sampling field, so no parent either"
        );
    }

    #[test]
    fn debug_stays_debug_across_a_hop() {
        let h = headers(&[("b3", "a3ce929d0e0e4736-00f067aa0ba902b7-d")]);
        let got = extract(&h, &Propagation::default());
        let client = got.context.unwrap().child(|| 9);
        let mut out = HeaderMap::new();
        inject(&client, set(&[Format::B3Single, Format::B3Multi]), &mut out);
        assert_eq!(
            out["b3"],
            "a3ce929d0e0e4736-0000000000000009-d-00f067aa0ba902b7"
        );
        assert_eq!(out["x-b3-flags"], "1");
        assert!(out.get("x-b3-sampled").is_none());
    }

    #[test]
    fn a_decision_without_ids_is_reported_and_mirrored() {
        let got = extract(&headers(&[("b3", "0")]), &Propagation::default());
        assert_eq!(got.context, None);
        assert_eq!(got.decision, Some(Sampling::NotSampled));
        assert_eq!(got.arrived, set(&[Format::B3Single]));
        // The new root honours it and writes a full b3 header with real ids.
        let root = TraceContext::new(
            TraceId::new(5).unwrap(),
            SpanId::new(6).unwrap(),
            got.decision.unwrap(),
        );
        let mut out = HeaderMap::new();
        let p = Propagation::default();
        inject(&root, p.inject_set(got.arrived), &mut out);
        assert_eq!(
            out["b3"],
            "00000000000000000000000000000005-0000000000000006-0"
        );
        assert!(out.get("x-b3-traceid").is_none());
    }

    #[test]
    fn nothing_arrived_never_writes_deny() {
        let got = extract(&HeaderMap::new(), &Propagation::default());
        assert_eq!(got, Default::default());
        // A new root whose sampler said yes, and one whose decision is still open.
        for (sampling, expected) in [(Sampling::Sampled, Some("1")), (Sampling::Deferred, None)] {
            let root =
                TraceContext::new(TraceId::new(5).unwrap(), SpanId::new(6).unwrap(), sampling);
            let mut out = HeaderMap::new();
            inject(
                &root,
                Propagation::default().inject_set(got.arrived),
                &mut out,
            );
            assert!(out.get("b3").is_none());
            assert_eq!(
                out.get("x-b3-sampled").map(|v| v.to_str().unwrap()),
                expected
            );
            assert!(out.get("traceparent").is_some());
        }
    }
}

#[test]
fn strip_owned_removes_exactly_the_owned_trace_headers() {
    let owned = [
        "b3",
        "x-b3-traceid",
        "x-b3-spanid",
        "x-b3-parentspanid",
        "x-b3-sampled",
        "x-b3-flags",
        "traceparent",
        "tracestate",
        "x-ot-span-context",
        "ot-tracer-traceid",
        "ot-tracer-spanid",
        "ot-tracer-sampled",
        "uber-trace-id",
    ];
    let kept = [
        "x-datadog-trace-id",
        "x-datadog-parent-id",
        "x-datadog-sampling-priority",
        "x-datadog-tags",
        "sw8",
        "sw8-correlation",
        "sw8-x",
        "x-cloud-trace-context",
        "grpc-trace-bin",
        "x-amzn-trace-id",
        "baggage",
        "ot-baggage-user",
        "uberctx-user",
        "x-request-id",
    ];
    let mut h = HeaderMap::new();
    for name in owned.iter().chain(&kept) {
        h.append(HeaderName::from_static(name), HeaderValue::from_static("v"));
    }
    h.append("tracestate", HeaderValue::from_static("second"));
    strip_owned(&mut h);
    let mut left: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
    left.sort_unstable();
    let mut expected = kept.to_vec();
    expected.sort_unstable();
    assert_eq!(left, expected);
    assert!(owned.iter().all(|n| is_owned(n)));
    assert!(!kept.iter().any(|n| is_owned(n)));
}

#[test]
fn baggage_is_extracted_only_when_enabled() {
    let h = headers(&[
        ("baggage", "userId=alice"),
        ("baggage", "isProduction=false;prop"),
    ]);
    let got = extract(&h, &Propagation::default());
    let baggage = got.baggage.unwrap();
    assert_eq!(baggage.get("userId"), Some("alice"));
    assert_eq!(
        baggage.header_value().as_deref(),
        Some("userId=alice,isProduction=false;prop")
    );
    let got = extract(&h, &Propagation::parse("tracecontext").unwrap());
    assert_eq!(got.baggage, None);
    assert!(!got.baggage_malformed);
}

// ---------------------------------------------------------------------------------------------
// Property tests: extract(inject(ctx)) == ctx for every format's representable contexts.

fn trace_id(short: bool) -> impl Strategy<Value = TraceId> {
    if short {
        (1u64..)
            .prop_map(|v| TraceId::new_64(v).expect("non-zero"))
            .boxed()
    } else {
        (1u128..)
            .prop_map(|v| TraceId::new(v).expect("non-zero"))
            .boxed()
    }
}

fn any_trace_id() -> impl Strategy<Value = TraceId> {
    prop_oneof![trace_id(true), trace_id(false)]
}

fn span_id() -> impl Strategy<Value = SpanId> {
    (1u64..).prop_map(|v| SpanId::new(v).expect("non-zero"))
}

fn sampling(choices: &'static [Sampling]) -> impl Strategy<Value = Sampling> {
    proptest::sample::select(choices)
}

const ALL_SAMPLING: &[Sampling] = &[
    Sampling::Sampled,
    Sampling::NotSampled,
    Sampling::Deferred,
    Sampling::Debug,
];

fn trace_state() -> impl Strategy<Value = TraceState> {
    proptest::collection::btree_map(
        "[a-z][a-z0-9_*/-]{0,8}(@[a-z][a-z0-9]{0,5})?",
        "[!-+--<>-~]([ -+--<>-~]{0,10}[!-+--<>-~])?",
        0..6,
    )
    .prop_map(|members| TraceState::from_members(members).expect("generated members are valid"))
}

fn context(
    trace: impl Strategy<Value = TraceId>,
    sampling: impl Strategy<Value = Sampling>,
    parent: impl Strategy<Value = Option<SpanId>>,
) -> impl Strategy<Value = TraceContext> {
    (trace, span_id(), sampling, parent).prop_map(|(t, s, sampling, parent)| {
        let mut ctx = TraceContext::new(t, s, sampling);
        ctx.parent_span_id = parent;
        ctx
    })
}

fn round_trip(ctx: &TraceContext, format: Format) -> Option<TraceContext> {
    let mut h = HeaderMap::new();
    inject(ctx, set(&[format]), &mut h);
    let got = extract(
        &h,
        &Propagation::parse(format.name()).expect("format names parse"),
    );
    assert_eq!(got.arrived, set(&[format]));
    assert!(got.malformed.is_empty());
    got.context
}

proptest! {
    #[test]
    fn b3_single_round_trips(
        ctx in context(any_trace_id(), sampling(ALL_SAMPLING), proptest::option::of(span_id()))
    ) {
        // The grammar has no room for a parent without a sampling field.
        let mut ctx = ctx;
        if ctx.sampling == Sampling::Deferred {
            ctx.parent_span_id = None;
        }
        prop_assert_eq!(round_trip(&ctx, Format::B3Single), Some(ctx));
    }

    #[test]
    fn b3_multi_round_trips(
        ctx in context(any_trace_id(), sampling(ALL_SAMPLING), proptest::option::of(span_id()))
    ) {
        prop_assert_eq!(round_trip(&ctx, Format::B3Multi), Some(ctx));
    }

    #[test]
    fn trace_context_round_trips(
        ctx in context(
            trace_id(false),
            sampling(&[Sampling::Sampled, Sampling::NotSampled]),
            Just(None),
        ),
        state in trace_state(),
    ) {
        let mut ctx = ctx;
        ctx.trace_state = state;
        prop_assert_eq!(round_trip(&ctx, Format::TraceContext), Some(ctx));
    }

    #[test]
    fn x_ot_span_context_round_trips(
        ctx in context(
            trace_id(true),
            sampling(&[Sampling::Sampled, Sampling::NotSampled]),
            Just(None),
        ),
        baggage in proptest::collection::btree_map("[a-z0-9_-]{0,10}", "\\PC{0,12}", 0..5),
    ) {
        let mut ctx = ctx;
        ctx.baggage = baggage;
        prop_assert_eq!(round_trip(&ctx, Format::OtSpanContext), Some(ctx));
    }

    #[test]
    fn ot_tracer_round_trips(
        ctx in context(
            trace_id(true),
            sampling(&[Sampling::Sampled, Sampling::NotSampled, Sampling::Deferred]),
            Just(None),
        )
    ) {
        prop_assert_eq!(round_trip(&ctx, Format::OtTrace), Some(ctx));
    }

    #[test]
    fn jaeger_round_trips(
        ctx in context(
            any_trace_id(),
            sampling(&[Sampling::Sampled, Sampling::NotSampled, Sampling::Debug]),
            Just(None),
        )
    ) {
        prop_assert_eq!(round_trip(&ctx, Format::Jaeger), Some(ctx));
    }

    /// Arbitrary header values never panic, and a format is never both valid and malformed.
    #[test]
    fn arbitrary_values_are_either_valid_or_malformed(
        name in proptest::sample::select(&[
            "b3", "x-b3-traceid", "x-b3-sampled", "traceparent", "x-ot-span-context",
            "ot-tracer-traceid", "uber-trace-id", "baggage",
        ][..]),
        value in "[ -~]{0,80}",
    ) {
        let h = headers(&[(name, &value)]);
        let got = extract(&h, &Propagation::default());
        for format in Format::ALL {
            prop_assert!(!(got.arrived.contains(format) && got.malformed.contains(format)));
        }
        prop_assert!(got.context.is_none() || !got.arrived.is_empty());
    }

    /// After stripping and injecting every format, each format reads back the same ids.
    #[test]
    fn all_formats_agree_after_inject(ctx in context(trace_id(true), sampling(&[Sampling::Sampled]), Just(None))) {
        let mut h = headers(&[("b3", "stale"), ("x-b3-flags", "1")]);
        strip_owned(&mut h);
        inject(&ctx, Format::ALL.into_iter().collect(), &mut h);
        for format in Format::ALL {
            let got = extract(&h, &Propagation::parse(format.name()).unwrap());
            let read = got.context.unwrap();
            prop_assert_eq!(read.trace_id.value(), ctx.trace_id.value());
            prop_assert_eq!(read.span_id, ctx.span_id);
            prop_assert_eq!(read.sampling, Sampling::Sampled);
        }
    }
}
