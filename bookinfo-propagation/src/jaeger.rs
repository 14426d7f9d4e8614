//! `uber-trace-id`: the Jaeger clients' header, `{trace}:{span}:{parent}:{flags}`.
//!
//! The OpenTelemetry Jaeger propagator is not available for the OpenTelemetry version in use and
//! stores `uberctx-*` baggage in the trace state, leaking it into `tracestate`
//! (docs/tracing-design.md, “Why our own propagators”), so the format is handled here. Rules: ids
//! are hex that may omit leading zeros (Jaeger clients print them with `%x`), in either case; a
//! trace id longer than 16 digits is 128-bit, otherwise 64-bit, and the width is kept on inject;
//! the parent field is deprecated and always written as `0`; flags are hex, bit 1 sampled, bit 2
//! debug (debug implies sampled); the value may arrive URL-encoded (`%3A` for `:`), which some HTTP
//! stacks do. `uberctx-*` baggage headers are not touched: they are forwarded verbatim with the
//! other request headers.

use http::HeaderMap;
use http::header::HeaderName;

use super::context::{Sampling, SpanId, TraceContext, TraceId};
use super::wire::{Case, Found, Malformed, Source, Values, hex};

pub(crate) const HEADER: HeaderName = HeaderName::from_static(super::names::UBER_TRACE_ID);

const SAMPLED: u8 = 0x01;
const DEBUG: u8 = 0x02;

/// Reads the header.
pub(crate) fn extract(headers: &impl Source) -> Found<TraceContext> {
    let Some(value) = headers.single(&HEADER)? else {
        return Ok(None);
    };
    parse(&value.replace("%3A", ":").replace("%3a", ":"))
        .map(Some)
        .ok_or(Malformed)
}

/// Writes `{trace}:{span}:0:{flags}`; deferred has no representation and is written as 0.
pub(crate) fn inject(ctx: &TraceContext, headers: &mut HeaderMap, values: &mut Values) {
    let flags = match ctx.sampling {
        Sampling::Debug => SAMPLED | DEBUG,
        Sampling::Sampled => SAMPLED,
        Sampling::NotSampled | Sampling::Deferred => 0,
    };
    values
        .trace_id(ctx.trace_id)
        .push(":")
        .span_id(ctx.span_id)
        .push(":0:")
        .hex(u128::from(flags), if flags > 0xf { 2 } else { 1 })
        .set(headers, HEADER);
}

fn parse(value: &str) -> Option<TraceContext> {
    let fields: Vec<&str> = value.split(':').collect();
    let [trace, span, parent, flags] = fields.as_slice() else {
        return None;
    };
    let trace_id = if trace.len() > 16 {
        TraceId::new(hex(trace, 32, Case::Any)?)?
    } else {
        TraceId::new_64(hex(trace, 16, Case::Any)? as u64)?
    };
    let span_id = SpanId::new(hex(span, 16, Case::Any)? as u64)?;
    let parent = hex(parent, 16, Case::Any)?;
    let flags = hex(flags, 2, Case::Any)? as u8;
    let sampling = if flags & DEBUG == DEBUG {
        Sampling::Debug
    } else if flags & SAMPLED == SAMPLED {
        Sampling::Sampled
    } else {
        Sampling::NotSampled
    };
    let mut ctx = TraceContext::new(trace_id, span_id, sampling);
    ctx.parent_span_id = SpanId::new(parent as u64);
    Some(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn header(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HEADER, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn spec_example_128_bit() {
        let value = "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1";
        let ctx = extract(&header(value)).unwrap().unwrap();
        assert_eq!(ctx.trace_id.to_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(!ctx.trace_id.is_64bit());
        assert_eq!(ctx.span_id.to_hex(), "00f067aa0ba902b7");
        assert_eq!(ctx.parent_span_id, None);
        assert_eq!(ctx.sampling, Sampling::Sampled);
        let mut out = HeaderMap::new();
        inject(&ctx, &mut out, &mut Values::new());
        assert_eq!(out[HEADER], value);
    }

    #[test]
    fn short_ids_without_leading_zeros_stay_64_bit() {
        let ctx = extract(&header("a3ce929d0e0e4736:f067aa0ba902b7:5:3"))
            .unwrap()
            .unwrap();
        assert!(ctx.trace_id.is_64bit());
        assert_eq!(ctx.span_id.get(), 0x00f0_67aa_0ba9_02b7);
        assert_eq!(ctx.parent_span_id, SpanId::new(5));
        assert_eq!(ctx.sampling, Sampling::Debug);
        let mut out = HeaderMap::new();
        inject(&ctx, &mut out, &mut Values::new());
        assert_eq!(out[HEADER], "a3ce929d0e0e4736:00f067aa0ba902b7:0:3");

        let ctx = extract(&header("1:2:0:0")).unwrap().unwrap();
        assert_eq!(ctx.trace_id, TraceId::new_64(1).unwrap());
        assert_eq!(ctx.sampling, Sampling::NotSampled);
    }

    #[test]
    fn url_encoded_and_upper_case_values() {
        let ctx = extract(&header("A3CE929D0E0E4736%3A00F067AA0BA902B7%3a0%3A1"))
            .unwrap()
            .unwrap();
        assert_eq!(ctx.trace_id.to_hex(), "a3ce929d0e0e4736");
        assert_eq!(ctx.sampling, Sampling::Sampled);
    }

    #[test]
    fn debug_flag_alone_still_means_sampled() {
        let ctx = extract(&header("1:2:0:2")).unwrap().unwrap();
        assert_eq!(ctx.sampling, Sampling::Debug);
        assert_eq!(ctx.sampling.is_sampled(), Some(true));
    }

    #[test]
    fn malformed_values() {
        for bad in [
            "",
            "1:2:0",
            "1:2:0:1:9",
            "0:2:0:1",
            "1:0:0:1",
            ":2:0:1",
            "1:2::1",
            "1:2:0:",
            "1:2:0:100",
            "4bf92f3577b34da6a3ce929d0e0e47361:2:0:1",
            "1:00f067aa0ba902b71:0:1",
            "g:2:0:1",
            "+1:2:0:1",
            "1:2:0:x",
            "1;2;0;1",
        ] {
            assert_eq!(extract(&header(bad)), Err(Malformed), "{bad:?}");
        }
    }
}
