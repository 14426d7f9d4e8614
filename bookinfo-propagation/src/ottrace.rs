//! `ot-tracer-*`: the OpenTracing basic-tracer headers (Lightstep's "LIGHTSTEP" propagation
//! mode, OpenTelemetry's `ottrace` propagator).
//!
//! No Rust propagator exists for it (docs/tracing-design.md, “Why our own propagators”). Rules:
//! `ot-tracer-traceid` is 16 or 32 hex digits of which only the low 64 bits are kept — the format
//! is 64-bit at heart, and keeping exactly what is re-injected means every hop we produce agrees on
//! the id; `ot-tracer-spanid` is 16 hex digits; `ot-tracer-sampled` is `true`/`false` (or `1`/`0`,
//! as some tracers write) and its absence means deferred. Hex is accepted in either case (the ids
//! are numbers) and written lower-case. On inject the trace id is 16 digits and the decision
//! `true`/`false`; debug is written as `true`, deferred leaves the header out. `ot-baggage-*`
//! headers are not touched: they are forwarded verbatim with the other request headers.

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};

use super::context::{Sampling, SpanId, TraceContext, TraceId};
use super::wire::{Case, Found, Malformed, Source, Values, hex_exact};

pub(crate) const TRACE_ID: HeaderName = HeaderName::from_static(super::names::OT_TRACE_ID);
pub(crate) const SPAN_ID: HeaderName = HeaderName::from_static(super::names::OT_SPAN_ID);
pub(crate) const SAMPLED: HeaderName = HeaderName::from_static(super::names::OT_SAMPLED);

/// Reads the `ot-tracer-*` headers; any one of them without both ids is malformed.
pub(crate) fn extract(headers: &impl Source) -> Found<TraceContext> {
    let trace = headers.single(&TRACE_ID)?;
    let span = headers.single(&SPAN_ID)?;
    let sampled = headers.single(&SAMPLED)?;
    let (trace, span) = match (trace, span) {
        (Some(trace), Some(span)) => (trace, span),
        (None, None) if sampled.is_none() => return Ok(None),
        _ => return Err(Malformed),
    };
    let sampling = match sampled {
        None => Sampling::Deferred,
        Some("true" | "1") => Sampling::Sampled,
        Some("false" | "0") => Sampling::NotSampled,
        Some(_) => return Err(Malformed),
    };
    let trace = match trace.len() {
        16 | 32 => hex_exact(trace, trace.len(), Case::Any),
        _ => None,
    };
    let trace_id = trace.and_then(|v| TraceId::new_64(v as u64));
    let span_id = hex_exact(span, 16, Case::Any).and_then(|v| SpanId::new(v as u64));
    match (trace_id, span_id) {
        (Some(trace_id), Some(span_id)) => Ok(Some(TraceContext::new(trace_id, span_id, sampling))),
        _ => Err(Malformed),
    }
}

/// Writes the three headers into a map [`super::inject`] has stripped of stale ones.
pub(crate) fn inject(ctx: &TraceContext, headers: &mut HeaderMap, values: &mut Values) {
    values
        .hex(u128::from(ctx.trace_id.low64()), 16)
        .set(headers, TRACE_ID);
    values.span_id(ctx.span_id).set(headers, SPAN_ID);
    if let Some(sampled) = ctx.sampling.is_sampled() {
        let text = if sampled { "true" } else { "false" };
        headers.insert(SAMPLED, HeaderValue::from_static(text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn with(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn reads_and_writes_the_basic_tracer_form() {
        let h = with(&[
            ("ot-tracer-traceid", "a3ce929d0e0e4736"),
            ("ot-tracer-spanid", "00f067aa0ba902b7"),
            ("ot-tracer-sampled", "true"),
        ]);
        let ctx = extract(&h).unwrap().unwrap();
        assert_eq!(
            ctx.trace_id,
            TraceId::new_64(0xa3ce_929d_0e0e_4736).unwrap()
        );
        assert_eq!(ctx.span_id.to_hex(), "00f067aa0ba902b7");
        assert_eq!(ctx.sampling, Sampling::Sampled);
        let mut out = HeaderMap::new();
        inject(&ctx, &mut out, &mut Values::new());
        assert_eq!(out, h);
    }

    #[test]
    fn a_128_bit_trace_id_keeps_its_low_64_bits() {
        let h = with(&[
            ("ot-tracer-traceid", "4bf92f3577b34da6a3ce929d0e0e4736"),
            ("ot-tracer-spanid", "00F067AA0BA902B7"),
        ]);
        let ctx = extract(&h).unwrap().unwrap();
        assert_eq!(
            ctx.trace_id,
            TraceId::new_64(0xa3ce_929d_0e0e_4736).unwrap()
        );
        assert_eq!(ctx.sampling, Sampling::Deferred);
        let mut out = HeaderMap::new();
        inject(&ctx, &mut out, &mut Values::new());
        assert_eq!(out["ot-tracer-traceid"], "a3ce929d0e0e4736");
        assert_eq!(out["ot-tracer-spanid"], "00f067aa0ba902b7");
        assert!(out.get("ot-tracer-sampled").is_none());
    }

    #[test]
    fn sampled_values() {
        for (value, expected) in [
            ("true", Sampling::Sampled),
            ("1", Sampling::Sampled),
            ("false", Sampling::NotSampled),
            ("0", Sampling::NotSampled),
        ] {
            let mut h = with(&[
                ("ot-tracer-traceid", "a3ce929d0e0e4736"),
                ("ot-tracer-spanid", "00f067aa0ba902b7"),
            ]);
            h.insert(SAMPLED, HeaderValue::from_static(value));
            assert_eq!(extract(&h).unwrap().unwrap().sampling, expected, "{value}");
        }
    }

    #[test]
    fn malformed_sets() {
        let trace = ("ot-tracer-traceid", "a3ce929d0e0e4736");
        let span = ("ot-tracer-spanid", "00f067aa0ba902b7");
        for bad in [
            vec![trace],
            vec![span],
            vec![("ot-tracer-sampled", "true")],
            vec![trace, span, ("ot-tracer-sampled", "yes")],
            vec![("ot-tracer-traceid", "a3ce929d0e0e47"), span],
            vec![("ot-tracer-traceid", "0000000000000000"), span],
            vec![
                ("ot-tracer-traceid", "4bf92f3577b34da60000000000000000"),
                span,
            ],
            vec![trace, ("ot-tracer-spanid", "0000000000000000")],
            vec![trace, ("ot-tracer-spanid", "f067aa0ba902b7")],
            vec![trace, ("ot-tracer-spanid", "+0f067aa0ba902b7")],
        ] {
            assert_eq!(extract(&with(&bad)), Err(Malformed), "{bad:?}");
        }
    }
}
