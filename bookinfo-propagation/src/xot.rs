//! `x-ot-span-context`: the header of Envoy's Lightstep driver (Envoy ≤ 1.23) and upstream
//! BookInfo's oldest forwarded format.
//!
//! The value is standard base64 of Lightstep's protobuf `BinaryCarrier`, whose field 2 is a
//! `BasicTracerCarrier { fixed64 trace_id = 1; fixed64 span_id = 2; bool sampled = 3;
//! map<string, string> baggage_items = 4; }` (lightstep-tracer-cpp `lightstep_carrier.proto`,
//! docs/tracing-design.md, “x-ot-span-context”). No maintained Rust crate reads it, and pulling
//! in a protobuf stack for four fields is not worth it, so the wire format is decoded and encoded
//! by hand here.
//!
//! Only 64 bits of trace id fit: extracted ids are 64-bit, and injecting a 128-bit id writes its
//! low half. There is no parent and no "deferred" or "debug": debug is written as sampled,
//! deferred as not sampled. Baggage keys are lower-cased on extract, as Lightstep does.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use http::header::HeaderName;

use super::context::{Sampling, SpanId, TraceContext, TraceId};
use super::wire::{Found, Malformed, Source, Values};

pub(crate) const HEADER: HeaderName = HeaderName::from_static(super::names::X_OT_SPAN_CONTEXT);

/// Reads the header.
pub(crate) fn extract(headers: &impl Source) -> Found<TraceContext> {
    let Some(value) = headers.single(&HEADER)? else {
        return Ok(None);
    };
    let bytes = STANDARD.decode(value).map_err(|_| Malformed)?;
    decode(&bytes).map(Some)
}

/// Writes the header with the context's (low 64-bit) trace id, span id, decision and baggage.
pub(crate) fn inject(ctx: &TraceContext, headers: &mut HeaderMap, values: &mut Values) {
    values
        .push(&STANDARD.encode(encode(ctx)))
        .set(headers, HEADER);
}

// Protobuf wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// Decodes a `BinaryCarrier`.
fn decode(bytes: &[u8]) -> Result<TraceContext, Malformed> {
    let mut basic = Basic::default();
    let mut seen_basic = false;
    let mut reader = Reader(bytes);
    while let Some((field, wire)) = reader.key()? {
        match (field, wire) {
            (2, LEN) => {
                decode_basic(reader.bytes()?, &mut basic)?;
                seen_basic = true;
            }
            // Field 1 (deprecated text context) and unknown fields are skipped.
            _ => reader.skip(wire)?,
        }
    }
    if !seen_basic {
        return Err(Malformed);
    }
    let trace_id = TraceId::new_64(basic.trace_id).ok_or(Malformed)?;
    let span_id = SpanId::new(basic.span_id).ok_or(Malformed)?;
    let sampling = if basic.sampled {
        Sampling::Sampled
    } else {
        Sampling::NotSampled
    };
    let mut ctx = TraceContext::new(trace_id, span_id, sampling);
    ctx.baggage = basic.baggage;
    Ok(ctx)
}

/// The fields of `BasicTracerCarrier`; proto3 defaults when absent.
#[derive(Default)]
struct Basic {
    trace_id: u64,
    span_id: u64,
    sampled: bool,
    baggage: BTreeMap<String, String>,
}

/// Decodes (merges, as protobuf does for a repeated embedded message) a `BasicTracerCarrier`.
fn decode_basic(bytes: &[u8], basic: &mut Basic) -> Result<(), Malformed> {
    let mut reader = Reader(bytes);
    while let Some((field, wire)) = reader.key()? {
        match (field, wire) {
            (1, FIXED64) => basic.trace_id = reader.fixed64()?,
            (2, FIXED64) => basic.span_id = reader.fixed64()?,
            (3, VARINT) => basic.sampled = reader.varint()? != 0,
            (4, LEN) => {
                let (key, value) = decode_entry(reader.bytes()?)?;
                basic.baggage.insert(key.to_lowercase(), value);
            }
            (1..=4, _) => return Err(Malformed),
            _ => reader.skip(wire)?,
        }
    }
    Ok(())
}

/// Decodes one `map<string, string>` entry (`key = 1`, `value = 2`).
fn decode_entry(bytes: &[u8]) -> Result<(String, String), Malformed> {
    let (mut key, mut value) = (String::new(), String::new());
    let mut reader = Reader(bytes);
    while let Some((field, wire)) = reader.key()? {
        match (field, wire) {
            (1, LEN) => key = utf8(reader.bytes()?)?,
            (2, LEN) => value = utf8(reader.bytes()?)?,
            (1 | 2, _) => return Err(Malformed),
            _ => reader.skip(wire)?,
        }
    }
    Ok((key, value))
}

fn utf8(bytes: &[u8]) -> Result<String, Malformed> {
    String::from_utf8(bytes.to_vec()).map_err(|_| Malformed)
}

/// Encodes a `BinaryCarrier` holding only `basic_ctx`, fields in number order, `sampled`
/// omitted when false (the proto3 canonical form), baggage in key order.
fn encode(ctx: &TraceContext) -> Vec<u8> {
    let mut basic = Vec::with_capacity(32);
    basic.push(key(1, FIXED64));
    basic.extend_from_slice(&ctx.trace_id.low64().to_le_bytes());
    basic.push(key(2, FIXED64));
    basic.extend_from_slice(&ctx.span_id.get().to_le_bytes());
    if ctx.sampling.is_sampled() == Some(true) {
        basic.extend_from_slice(&[key(3, VARINT), 1]);
    }
    for (k, v) in &ctx.baggage {
        let mut entry = Vec::new();
        put_bytes(&mut entry, 1, k.as_bytes());
        put_bytes(&mut entry, 2, v.as_bytes());
        put_bytes(&mut basic, 4, &entry);
    }
    let mut carrier = Vec::with_capacity(basic.len() + 3);
    put_bytes(&mut carrier, 2, &basic);
    carrier
}

/// A field key for small field numbers (all ours are below 16, so one byte).
fn key(field: u8, wire: u8) -> u8 {
    (field << 3) | wire
}

fn put_bytes(out: &mut Vec<u8>, field: u8, bytes: &[u8]) {
    out.push(key(field, LEN));
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A cursor over protobuf bytes; every read checks bounds.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// The next field number and wire type, `None` at the end.
    fn key(&mut self) -> Result<Option<(u64, u8)>, Malformed> {
        if self.0.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = key >> 3;
        if field == 0 {
            return Err(Malformed);
        }
        Ok(Some((field, (key & 0x7) as u8)))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if n > self.0.len() {
            return Err(Malformed);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn varint(&mut self) -> Result<u64, Malformed> {
        let mut value = 0u64;
        for i in 0..10 {
            let byte = self.take(1)?[0];
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Malformed)
    }

    fn fixed64(&mut self) -> Result<u64, Malformed> {
        let bytes: [u8; 8] = self.take(8)?.try_into().map_err(|_| Malformed)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn bytes(&mut self) -> Result<&'a [u8], Malformed> {
        let len = usize::try_from(self.varint()?).map_err(|_| Malformed)?;
        self.take(len)
    }

    /// Skips a field's value; groups (wire types 3 and 4) are not used by this message.
    fn skip(&mut self, wire: u8) -> Result<(), Malformed> {
        match wire {
            VARINT => self.varint().map(drop),
            FIXED64 => self.take(8).map(drop),
            LEN => self.bytes().map(drop),
            FIXED32 => self.take(4).map(drop),
            _ => Err(Malformed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    /// The worked example of docs/tracing-design.md, “x-ot-span-context”: trace
    /// a3ce929d0e0e4736, span 00f067aa0ba902b7, sampled.
    const EXAMPLE: &str = "EhQJNkcODp2SzqMRtwKpC6pn8AAYAQ==";
    /// The same with baggage `user=jason`.
    const EXAMPLE_BAGGAGE: &str = "EiMJNkcODp2SzqMRtwKpC6pn8AAYASINCgR1c2VyEgVqYXNvbg==";

    fn header(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HEADER, HeaderValue::from_str(value).unwrap());
        h
    }

    fn example_context() -> TraceContext {
        TraceContext::new(
            TraceId::new_64(0xa3ce_929d_0e0e_4736).unwrap(),
            SpanId::new(0x00f0_67aa_0ba9_02b7).unwrap(),
            Sampling::Sampled,
        )
    }

    #[test]
    fn decodes_the_spec_example() {
        let ctx = extract(&header(EXAMPLE)).unwrap().unwrap();
        assert_eq!(ctx, example_context());
        assert!(ctx.trace_id.is_64bit());
    }

    #[test]
    fn encodes_the_spec_examples() {
        let mut out = HeaderMap::new();
        inject(&example_context(), &mut out, &mut Values::new());
        assert_eq!(out[HEADER], EXAMPLE);

        let mut ctx = example_context();
        ctx.baggage.insert("user".into(), "jason".into());
        inject(&ctx, &mut out, &mut Values::new());
        assert_eq!(out[HEADER], EXAMPLE_BAGGAGE);
    }

    #[test]
    fn decodes_baggage_and_lower_cases_keys() {
        let ctx = extract(&header(EXAMPLE_BAGGAGE)).unwrap().unwrap();
        assert_eq!(ctx.baggage.get("user").map(String::as_str), Some("jason"));

        let mut upper = example_context();
        upper.baggage.insert("User".into(), "jason".into());
        let bytes = encode(&upper);
        assert_eq!(decode(&bytes).unwrap().baggage, ctx.baggage);
    }

    #[test]
    fn unsampled_and_unknown_fields() {
        // basic_ctx without field 3, plus an unknown varint field 9 and a deprecated text field.
        let mut basic = vec![0x09];
        basic.extend_from_slice(&7u64.to_le_bytes());
        basic.push(0x11);
        basic.extend_from_slice(&8u64.to_le_bytes());
        basic.extend_from_slice(&[0x48, 0x96, 0x01]);
        let mut carrier = vec![0x0a, 0x01, b'x'];
        put_bytes(&mut carrier, 2, &basic);
        let ctx = decode(&carrier).unwrap();
        assert_eq!(ctx.trace_id.value(), 7);
        assert_eq!(ctx.span_id.get(), 8);
        assert_eq!(ctx.sampling, Sampling::NotSampled);
    }

    #[test]
    fn malformed_values() {
        let zero_trace = {
            let mut ctx = example_context();
            ctx.trace_id = TraceId::new_64(1).unwrap();
            let mut bytes = encode(&ctx);
            bytes[3..11].copy_from_slice(&[0; 8]);
            STANDARD.encode(bytes)
        };
        let truncated = STANDARD.encode(&encode(&example_context())[..10]);
        let wrong_wire = STANDARD.encode([0x12, 0x02, 0x08, 0x01]);
        let bad_utf8 = STANDARD.encode([0x12, 0x06, 0x22, 0x04, 0x0a, 0x02, 0xff, 0xfe]);
        for bad in [
            "",
            "not base64!",
            "EhQJNkcODp2SzqMRtwKpC6pn8AAYAQ",
            "EhQJNkcODp2SzqMRtwKpC6pn8AAYAQ=",
            "AA==",
            "CgF4",
            zero_trace.as_str(),
            truncated.as_str(),
            wrong_wire.as_str(),
            bad_utf8.as_str(),
        ] {
            assert_eq!(extract(&header(bad)), Err(Malformed), "{bad:?}");
        }
    }

    #[test]
    fn injecting_a_128_bit_id_keeps_the_low_half() {
        let mut ctx = example_context();
        ctx.trace_id = TraceId::new(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736).unwrap();
        let mut out = HeaderMap::new();
        inject(&ctx, &mut out, &mut Values::new());
        assert_eq!(out[HEADER], EXAMPLE);
    }

    #[test]
    fn varints_round_trip() {
        for value in [0, 1, 127, 128, 300, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            assert_eq!(Reader(&out).varint(), Ok(value));
        }
        assert_eq!(Reader(&[0xff; 11]).varint(), Err(Malformed));
    }
}
