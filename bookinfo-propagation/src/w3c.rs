//! W3C Trace Context: `traceparent` and `tracestate`, the format Istio's OpenTelemetry provider
//! rewrites at every sidecar.
//!
//! Parsed strictly per the W3C recommendation, because the SDK's extractor is lenient in ways
//! that matter here (it pads a 16-digit trace id and reads only the first `tracestate` field):
//! lower-case hex only; version `ff` invalid; version `00` is exactly 55 characters in four
//! fields; a higher version must be at least 55 characters and is read by its first four fields;
//! trace and parent ids non-zero. `tracestate` is read only next to a valid `traceparent`, its
//! repeated fields are joined, and an invalid one is dropped without invalidating the parent.

use http::HeaderMap;
use http::header::HeaderName;

use super::context::{Sampling, SpanId, TraceContext, TraceId};
use super::tracestate::TraceState;
use super::wire::{Case, Found, Malformed, Source, Values, hex_exact};

pub(crate) const TRACEPARENT: HeaderName = HeaderName::from_static(super::names::TRACEPARENT);
pub(crate) const TRACESTATE: HeaderName = HeaderName::from_static(super::names::TRACESTATE);

/// The length of a version-00 `traceparent`.
const LEN: usize = 55;
/// The `sampled` bit of the trace flags.
const SAMPLED: u8 = 0x01;

/// Reads `traceparent` (and, if it is valid, `tracestate`).
pub(crate) fn extract(headers: &impl Source) -> Found<TraceContext> {
    let Some(value) = headers.single(&TRACEPARENT)? else {
        return Ok(None);
    };
    let mut ctx = parse_traceparent(value).ok_or(Malformed)?;
    // An unreadable tracestate is dropped; the traceparent it came with stays valid.
    if let Ok(Some(state)) = headers.joined(&TRACESTATE) {
        ctx.trace_state = TraceState::parse(&state).unwrap_or_default();
    }
    Ok(Some(ctx))
}

/// Writes `traceparent` and, only when there is something in it, `tracestate`.
///
/// The version is always `00` and the trace id always 32 digits. W3C has no "deferred" or
/// "debug": debug is written as sampled, deferred as not sampled (the receiver may still
/// sample, which is what the flag means).
pub(crate) fn inject(ctx: &TraceContext, headers: &mut HeaderMap, values: &mut Values) {
    let flags = match ctx.sampling {
        Sampling::Sampled | Sampling::Debug => SAMPLED,
        Sampling::NotSampled | Sampling::Deferred => 0,
    };
    values
        .push("00-")
        .hex(ctx.trace_id.value(), 32)
        .push("-")
        .span_id(ctx.span_id)
        .push("-")
        .hex(u128::from(flags), 2)
        .set(headers, TRACEPARENT);
    if let Some(state) = ctx.trace_state.header_value() {
        values.push(&state).set(headers, TRACESTATE);
    }
}

fn parse_traceparent(value: &str) -> Option<TraceContext> {
    let version = value.get(..2)?;
    let version = hex_exact(version, 2, Case::Lower)?;
    let fits = match version {
        0xff => false,
        0x00 => value.len() == LEN,
        // Future versions may append fields, always after a `-`.
        _ => value.len() == LEN || (value.len() > LEN && value.as_bytes()[LEN] == b'-'),
    };
    if !fits {
        return None;
    }
    // `vv-{32 trace}-{16 parent}-ff`: the dashes at fixed places, the fields hex (no dashes).
    let dash = |at: usize| value.as_bytes().get(at) == Some(&b'-');
    if !(dash(2) && dash(35) && dash(52)) {
        return None;
    }
    let (trace, parent, flags) = (value.get(3..35)?, value.get(36..52)?, value.get(53..LEN)?);
    let trace_id = TraceId::new(hex_exact(trace, 32, Case::Lower)?)?;
    let span_id = SpanId::new(hex_exact(parent, 16, Case::Lower)? as u64)?;
    let flags = hex_exact(flags, 2, Case::Lower)? as u8;
    let sampling = if flags & SAMPLED == SAMPLED {
        Sampling::Sampled
    } else {
        Sampling::NotSampled
    };
    Some(TraceContext::new(trace_id, span_id, sampling))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn with(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn spec_example() {
        let ctx = extract(&with(&[("traceparent", EXAMPLE)]))
            .unwrap()
            .unwrap();
        assert_eq!(ctx.trace_id.to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(!ctx.trace_id.is_64bit());
        assert_eq!(ctx.span_id.to_hex(), "00f067aa0ba902b7");
        assert_eq!(ctx.sampling, Sampling::Sampled);
        let mut out = HeaderMap::new();
        inject(&ctx, &mut out, &mut Values::new());
        assert_eq!(out["traceparent"], EXAMPLE);
        assert!(
            out.get("tracestate").is_none(),
            "empty tracestate is not sent"
        );
    }

    #[test]
    fn unsampled_flags_and_other_flag_bits() {
        let value = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
        let ctx = extract(&with(&[("traceparent", value)])).unwrap().unwrap();
        assert_eq!(ctx.sampling, Sampling::NotSampled);
        let value = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03";
        let ctx = extract(&with(&[("traceparent", value)])).unwrap().unwrap();
        assert_eq!(ctx.sampling, Sampling::Sampled);
    }

    #[test]
    fn higher_versions_use_the_first_four_fields() {
        for value in [
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds",
        ] {
            let ctx = extract(&with(&[("traceparent", value)])).unwrap().unwrap();
            assert_eq!(ctx.span_id.to_hex(), "00f067aa0ba902b7", "{value}");
        }
    }

    #[test]
    fn tracestate_fields_are_joined_and_kept() {
        let h = with(&[
            ("traceparent", EXAMPLE),
            ("tracestate", "congo=t61rcWkgMzE"),
            ("tracestate", "rojo=00f067aa0ba902b7"),
        ]);
        let ctx = extract(&h).unwrap().unwrap();
        let mut out = HeaderMap::new();
        inject(&ctx, &mut out, &mut Values::new());
        assert_eq!(out["tracestate"], "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
    }

    #[test]
    fn invalid_tracestate_is_dropped_but_parent_kept() {
        let h = with(&[("traceparent", EXAMPLE), ("tracestate", "UPPER=1")]);
        let ctx = extract(&h).unwrap().unwrap();
        assert!(ctx.trace_state.is_empty());
    }

    #[test]
    fn tracestate_alone_is_nothing() {
        assert_eq!(extract(&with(&[("tracestate", "a=1")])), Ok(None));
    }

    #[test]
    fn malformed_traceparents() {
        for bad in [
            "",
            "00",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
            "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(
                extract(&with(&[("traceparent", bad)])),
                Err(Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn repeated_traceparent_is_malformed() {
        let h = with(&[("traceparent", EXAMPLE), ("traceparent", EXAMPLE)]);
        assert_eq!(extract(&h), Err(Malformed));
    }

    #[test]
    fn inject_writes_64_bit_ids_as_32_digits_and_debug_as_sampled() {
        let ctx = TraceContext::new(
            TraceId::new_64(0xa3ce_929d_0e0e_4736).unwrap(),
            SpanId::new(1).unwrap(),
            Sampling::Debug,
        );
        let mut out = HeaderMap::new();
        inject(&ctx, &mut out, &mut Values::new());
        assert_eq!(
            out["traceparent"],
            "00-0000000000000000a3ce929d0e0e4736-0000000000000001-01"
        );
    }
}
