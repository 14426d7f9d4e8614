//! B3, the Zipkin format Istio's default tracing provider reads and writes (openzipkin
//! b3-propagation): the single `b3` header and the multi-header `x-b3-*` form.
//!
//! Written here rather than taken from `opentelemetry-zipkin` because that propagator turns a
//! deferred decision into "deny", drops debug, pads 64-bit trace ids and writes `b3: 0` from an
//! empty context (docs/tracing-design.md, “Why our own propagators”). Rules kept here:
//!
//! * trace ids are 16 or 32 hex digits, span ids 16; all-zero ids are invalid;
//! * hex is accepted in either case and always written lower-case: Envoy parses B3 ids as numbers
//!   and accepts upper case, so rejecting them would split a trace the mesh considers whole;
//! * sampling `1`/`0` (and, in `x-b3-sampled` only, the legacy `true`/`false`), debug `d` or
//!   `x-b3-flags: 1`, and no sampling field at all means *deferred*;
//! * `b3: 0|1|d` and a lone `x-b3-sampled`/`x-b3-flags` are decisions without ids;
//! * on inject, debug is written as `x-b3-flags: 1` without `x-b3-sampled`, a deferred decision
//!   is not written at all, and the trace id keeps the width it arrived in.

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};

use super::Candidate;
use super::context::{Sampling, SpanId, TraceContext, TraceId};
use super::wire::{Case, Found, Malformed, Source, Values, hex, hex_exact};

/// The single-header form.
pub(crate) const SINGLE: HeaderName = HeaderName::from_static(super::names::B3);
pub(crate) const TRACE_ID: HeaderName = HeaderName::from_static(super::names::B3_TRACE_ID);
pub(crate) const SPAN_ID: HeaderName = HeaderName::from_static(super::names::B3_SPAN_ID);
pub(crate) const PARENT_SPAN_ID: HeaderName =
    HeaderName::from_static(super::names::B3_PARENT_SPAN_ID);
pub(crate) const SAMPLED: HeaderName = HeaderName::from_static(super::names::B3_SAMPLED);
pub(crate) const FLAGS: HeaderName = HeaderName::from_static(super::names::B3_FLAGS);

/// Reads the `b3` header.
pub(crate) fn extract_single(headers: &impl Source) -> Found<Candidate> {
    let Some(value) = headers.single(&SINGLE)? else {
        return Ok(None);
    };
    if let Some(decision) = single_sampling(value) {
        return Ok(Some(Candidate::Decision(decision)));
    }
    let fields: Vec<&str> = value.split('-').collect();
    let (trace, span, rest) = match fields.as_slice() {
        [trace, span, rest @ ..] if rest.len() <= 2 => (*trace, *span, rest),
        _ => return Err(Malformed),
    };
    let sampling = match rest.first() {
        Some(flag) => single_sampling(flag).ok_or(Malformed)?,
        None => Sampling::Deferred,
    };
    let parent = match rest.get(1) {
        Some(parent) => parent_id(parent)?,
        None => None,
    };
    let mut ctx = TraceContext::new(trace_id(trace)?, span_id(span)?, sampling);
    ctx.parent_span_id = parent;
    Ok(Some(Candidate::Context(ctx)))
}

/// Reads the `x-b3-*` headers.
pub(crate) fn extract_multi(headers: &impl Source) -> Found<Candidate> {
    let trace = headers.single(&TRACE_ID)?;
    let span = headers.single(&SPAN_ID)?;
    let parent = headers.single(&PARENT_SPAN_ID)?;
    let sampling = multi_sampling(headers.single(&SAMPLED)?, headers.single(&FLAGS)?)?;
    match (trace, span) {
        (Some(trace), Some(span)) => {
            let mut ctx = TraceContext::new(trace_id(trace)?, span_id(span)?, sampling);
            ctx.parent_span_id = match parent {
                Some(parent) => parent_id(parent)?,
                None => None,
            };
            Ok(Some(Candidate::Context(ctx)))
        }
        (None, None) if parent.is_none() => Ok(match sampling {
            Sampling::Deferred => None,
            decision => Some(Candidate::Decision(decision)),
        }),
        _ => Err(Malformed),
    }
}

/// Writes `b3: {trace}-{span}[-{sampling}[-{parent}]]`. A deferred decision has no sampling
/// field, and then the grammar leaves no room for the parent either.
pub(crate) fn inject_single(ctx: &TraceContext, headers: &mut HeaderMap, values: &mut Values) {
    values.trace_id(ctx.trace_id).push("-").span_id(ctx.span_id);
    let flag = match ctx.sampling {
        Sampling::Sampled => Some("1"),
        Sampling::NotSampled => Some("0"),
        Sampling::Debug => Some("d"),
        Sampling::Deferred => None,
    };
    if let Some(flag) = flag {
        values.push("-").push(flag);
        if let Some(parent) = ctx.parent_span_id {
            values.push("-").span_id(parent);
        }
    }
    values.set(headers, SINGLE);
}

/// Writes the `x-b3-*` headers into a map [`super::inject`] has stripped of stale ones.
pub(crate) fn inject_multi(ctx: &TraceContext, headers: &mut HeaderMap, values: &mut Values) {
    values.trace_id(ctx.trace_id).set(headers, TRACE_ID);
    values.span_id(ctx.span_id).set(headers, SPAN_ID);
    if let Some(parent) = ctx.parent_span_id {
        values.span_id(parent).set(headers, PARENT_SPAN_ID);
    }
    let flag = match ctx.sampling {
        Sampling::Sampled => Some((SAMPLED, "1")),
        Sampling::NotSampled => Some((SAMPLED, "0")),
        Sampling::Debug => Some((FLAGS, "1")),
        Sampling::Deferred => None,
    };
    if let Some((name, value)) = flag {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

/// The sampling field of the single header (and the whole of a sampling-only header).
fn single_sampling(flag: &str) -> Option<Sampling> {
    match flag {
        "1" => Some(Sampling::Sampled),
        "0" => Some(Sampling::NotSampled),
        "d" => Some(Sampling::Debug),
        _ => None,
    }
}

/// `x-b3-flags: 1` means debug whatever `x-b3-sampled` says; no sampled header means deferred.
fn multi_sampling(sampled: Option<&str>, flags: Option<&str>) -> Result<Sampling, Malformed> {
    let decision = match sampled {
        None => Sampling::Deferred,
        Some("1" | "true") => Sampling::Sampled,
        Some("0" | "false") => Sampling::NotSampled,
        Some(_) => return Err(Malformed),
    };
    match flags {
        Some("1") => Ok(Sampling::Debug),
        None | Some("0") => Ok(decision),
        Some(_) => Err(Malformed),
    }
}

/// 16 hex digits make a 64-bit id (kept 64-bit), 32 a 128-bit one.
fn trace_id(text: &str) -> Result<TraceId, Malformed> {
    let id = match text.len() {
        16 => hex(text, 16, Case::Any).and_then(|v| TraceId::new_64(v as u64)),
        32 => hex(text, 32, Case::Any).and_then(TraceId::new),
        _ => None,
    };
    id.ok_or(Malformed)
}

fn span_id(text: &str) -> Result<SpanId, Malformed> {
    hex_exact(text, 16, Case::Any)
        .and_then(|v| SpanId::new(v as u64))
        .ok_or(Malformed)
}

/// A parent id of all zeros is what some clients send for "no parent"; it is read as absent.
fn parent_id(text: &str) -> Result<Option<SpanId>, Malformed> {
    hex_exact(text, 16, Case::Any)
        .map(|v| SpanId::new(v as u64))
        .ok_or(Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn context(found: Found<Candidate>) -> TraceContext {
        match found {
            Ok(Some(Candidate::Context(ctx))) => ctx,
            other => panic!("expected a context, got {other:?}"),
        }
    }

    #[test]
    fn single_spec_example_with_parent() {
        let h = headers(&[(
            "b3",
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
        )]);
        let ctx = context(extract_single(&h));
        assert_eq!(ctx.trace_id.to_hex(), "80f198ee56343ba864fe8b2a57d3eff7");
        assert_eq!(ctx.span_id.to_hex(), "e457b5a2e4d86bd1");
        assert_eq!(ctx.parent_span_id.unwrap().to_hex(), "05e3ac9a4f6e3b90");
        assert_eq!(ctx.sampling, Sampling::Sampled);
    }

    #[test]
    fn single_without_sampling_is_deferred_and_keeps_64_bit_width() {
        let h = headers(&[("b3", "a3ce929d0e0e4736-00f067aa0ba902b7")]);
        let ctx = context(extract_single(&h));
        assert_eq!(ctx.sampling, Sampling::Deferred);
        assert!(ctx.trace_id.is_64bit());
        let mut out = HeaderMap::new();
        inject_single(&ctx, &mut out, &mut Values::new());
        assert_eq!(out["b3"], "a3ce929d0e0e4736-00f067aa0ba902b7");
    }

    #[test]
    fn single_debug_flag() {
        let h = headers(&[("b3", "a3ce929d0e0e4736-00f067aa0ba902b7-d")]);
        assert_eq!(context(extract_single(&h)).sampling, Sampling::Debug);
    }

    #[test]
    fn sampling_only_single_headers_are_decisions() {
        for (value, expected) in [
            ("0", Sampling::NotSampled),
            ("1", Sampling::Sampled),
            ("d", Sampling::Debug),
        ] {
            let h = headers(&[("b3", value)]);
            assert_eq!(
                extract_single(&h),
                Ok(Some(Candidate::Decision(expected))),
                "{value}"
            );
        }
    }

    #[test]
    fn uppercase_hex_is_accepted_and_written_lower_case() {
        let h = headers(&[("b3", "A3CE929D0E0E4736-00F067AA0BA902B7-1")]);
        let ctx = context(extract_single(&h));
        let mut out = HeaderMap::new();
        inject_single(&ctx, &mut out, &mut Values::new());
        assert_eq!(out["b3"], "a3ce929d0e0e4736-00f067aa0ba902b7-1");
    }

    #[test]
    fn multi_spec_example() {
        let h = headers(&[
            ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
            ("x-b3-parentspanid", "05e3ac9a4f6e3b90"),
            ("x-b3-spanid", "e457b5a2e4d86bd1"),
            ("x-b3-sampled", "1"),
        ]);
        let ctx = context(extract_multi(&h));
        assert_eq!(ctx.trace_id.to_hex(), "80f198ee56343ba864fe8b2a57d3eff7");
        assert_eq!(ctx.parent_span_id.unwrap().to_hex(), "05e3ac9a4f6e3b90");
        assert_eq!(ctx.sampling, Sampling::Sampled);
    }

    #[test]
    fn multi_sampling_values() {
        for (sampled, flags, expected) in [
            (Some("1"), None, Sampling::Sampled),
            (Some("true"), None, Sampling::Sampled),
            (Some("0"), None, Sampling::NotSampled),
            (Some("false"), None, Sampling::NotSampled),
            (None, None, Sampling::Deferred),
            (None, Some("1"), Sampling::Debug),
            (Some("0"), Some("1"), Sampling::Debug),
            (Some("1"), Some("0"), Sampling::Sampled),
        ] {
            assert_eq!(multi_sampling(sampled, flags), Ok(expected));
        }
        assert_eq!(multi_sampling(Some("yes"), None), Err(Malformed));
        assert_eq!(multi_sampling(None, Some("2")), Err(Malformed));
    }

    #[test]
    fn lone_multi_sampling_headers_are_decisions() {
        let h = headers(&[("x-b3-sampled", "0")]);
        assert_eq!(
            extract_multi(&h),
            Ok(Some(Candidate::Decision(Sampling::NotSampled)))
        );
        let h = headers(&[("x-b3-flags", "1")]);
        assert_eq!(
            extract_multi(&h),
            Ok(Some(Candidate::Decision(Sampling::Debug)))
        );
        assert_eq!(extract_multi(&HeaderMap::new()), Ok(None));
    }

    #[test]
    fn zero_parent_reads_as_no_parent() {
        let h = headers(&[("b3", "a3ce929d0e0e4736-00f067aa0ba902b7-1-0000000000000000")]);
        assert_eq!(context(extract_single(&h)).parent_span_id, None);
    }

    #[test]
    fn malformed_single_values() {
        for bad in [
            "",
            "true",
            "D",
            "a3ce929d0e0e4736",
            "a3ce929d0e0e4736-",
            "0000000000000000-00f067aa0ba902b7",
            "00000000000000000000000000000000-00f067aa0ba902b7",
            "a3ce929d0e0e4736-0000000000000000",
            "a3ce929d0e0e473-00f067aa0ba902b7",
            "a3ce929d0e0e47360-00f067aa0ba902b7",
            "a3ce929d0e0e4736-00f067aa0ba902b",
            "a3ce929d0e0e4736-00f067aa0ba902b7-2",
            "a3ce929d0e0e4736-00f067aa0ba902b7-true",
            "a3ce929d0e0e4736-00f067aa0ba902b7-1-05e3ac9a",
            "a3ce929d0e0e4736-00f067aa0ba902b7-1-05e3ac9a4f6e3b90-x",
            "g3ce929d0e0e4736-00f067aa0ba902b7",
            "+3ce929d0e0e4736-00f067aa0ba902b7",
            " a3ce929d0e0e4736-00f067aa0ba902b7",
        ] {
            let mut h = HeaderMap::new();
            h.insert("b3", HeaderValue::from_str(bad).unwrap());
            assert_eq!(extract_single(&h), Err(Malformed), "{bad:?}");
        }
    }

    #[test]
    fn malformed_multi_sets() {
        let trace = ("x-b3-traceid", "a3ce929d0e0e4736");
        let span = ("x-b3-spanid", "00f067aa0ba902b7");
        for bad in [
            vec![trace],
            vec![span],
            vec![("x-b3-parentspanid", "05e3ac9a4f6e3b90")],
            vec![("x-b3-traceid", "0000000000000000"), span],
            vec![trace, ("x-b3-spanid", "0")],
            vec![trace, span, ("x-b3-sampled", "2")],
            vec![trace, span, ("x-b3-flags", "debug")],
            vec![trace, span, ("x-b3-parentspanid", "xyz")],
            vec![trace, span, ("x-b3-spanid", "00f067aa0ba902b8")],
        ] {
            assert_eq!(extract_multi(&headers(&bad)), Err(Malformed), "{bad:?}");
        }
    }

    #[test]
    fn inject_multi_writes_debug_as_flags_only_and_deferred_as_nothing() {
        let mut ctx = TraceContext::new(
            TraceId::new(0x80f1_98ee_5634_3ba8_64fe_8b2a_57d3_eff7).unwrap(),
            SpanId::new(0xe457_b5a2_e4d8_6bd1).unwrap(),
            Sampling::Debug,
        );
        let mut out = headers(&[
            ("x-b3-sampled", "0"),
            ("x-b3-parentspanid", "1111111111111111"),
        ]);
        // Through the module's entry point, which first strips what the caller sent.
        let multi = [super::super::Format::B3Multi].into_iter().collect();
        super::super::inject(&ctx, multi, &mut out);
        assert_eq!(out["x-b3-traceid"], "80f198ee56343ba864fe8b2a57d3eff7");
        assert_eq!(out["x-b3-spanid"], "e457b5a2e4d86bd1");
        assert_eq!(out["x-b3-flags"], "1");
        assert!(out.get("x-b3-sampled").is_none());
        assert!(out.get("x-b3-parentspanid").is_none());

        ctx.sampling = Sampling::Deferred;
        super::super::inject(&ctx, multi, &mut out);
        assert!(out.get("x-b3-sampled").is_none());
        assert!(out.get("x-b3-flags").is_none());
    }

    #[test]
    fn inject_single_with_parent_and_deferred_parent_dropped() {
        let mut ctx = TraceContext::new(
            TraceId::new_64(0xa3ce_929d_0e0e_4736).unwrap(),
            SpanId::new(0x00f0_67aa_0ba9_02b7).unwrap(),
            Sampling::NotSampled,
        );
        ctx.parent_span_id = SpanId::new(0x05e3_ac9a_4f6e_3b90);
        let mut out = HeaderMap::new();
        inject_single(&ctx, &mut out, &mut Values::new());
        assert_eq!(
            out["b3"],
            "a3ce929d0e0e4736-00f067aa0ba902b7-0-05e3ac9a4f6e3b90"
        );
        ctx.sampling = Sampling::Deferred;
        inject_single(&ctx, &mut out, &mut Values::new());
        assert_eq!(out["b3"], "a3ce929d0e0e4736-00f067aa0ba902b7");
    }
}
