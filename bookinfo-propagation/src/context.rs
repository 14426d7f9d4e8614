//! The format-neutral trace context that every propagation format reads into and writes from.
//!
//! Each wire format can express a different subset of it (64-bit trace ids only, no parent, no
//! "deferred" decision, ...), so the type keeps what the richest formats carry and remembers the
//! details that must survive a hop unchanged: the width the trace id arrived in (a 64-bit B3 id
//! re-injected as 32 hex is the same trace to Zipkin but a different wire form to everyone else)
//! and the difference between "not sampled" and "no decision yet".

use std::collections::BTreeMap;
use std::fmt;
use std::num::{NonZeroU64, NonZeroU128};

use super::tracestate::TraceState;

/// The two lower-case hex digits of every byte value.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut pairs = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        pairs[i] = [DIGITS[i >> 4], DIGITS[i & 0xf]];
        i += 1;
    }
    pairs
};

/// The low `digits` (at most 32) hex digits of `value`, lower-case and zero-padded: the tail of
/// the returned buffer from the returned index. Ids are written on every outbound request, so
/// this skips the formatting machinery and writes two digits per byte.
pub fn hex_digits(value: u128, digits: usize) -> ([u8; 32], usize) {
    let digits = digits.min(32);
    let bytes = value.to_be_bytes();
    let mut text = [0u8; 32];
    for i in (32 - digits) / 2..16 {
        let [high, low] = HEX_PAIRS[usize::from(bytes[i])];
        text[2 * i] = high;
        text[2 * i + 1] = low;
    }
    (text, 32 - digits)
}

/// Appends the low `digits` hex digits of `value` (see [`hex_digits`]).
fn push_hex(out: &mut String, value: u128, digits: usize) {
    let (text, start) = hex_digits(value, digits);
    out.extend(text[start..].iter().map(|&b| char::from(b)));
}

/// A non-zero trace id that remembers whether it arrived as 64 or 128 bits.
///
/// A 64-bit id always has a zero high half. Equality includes the width, because the width is
/// part of what must be preserved on the next hop.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId {
    value: NonZeroU128,
    short: bool,
}

impl TraceId {
    /// A 128-bit trace id; `None` for zero (every format treats the all-zero id as invalid).
    pub fn new(value: u128) -> Option<TraceId> {
        NonZeroU128::new(value).map(|value| TraceId {
            value,
            short: false,
        })
    }

    /// A 64-bit trace id (injected as 16 hex where the format allows it); `None` for zero.
    pub fn new_64(value: u64) -> Option<TraceId> {
        NonZeroU128::new(u128::from(value)).map(|value| TraceId { value, short: true })
    }

    /// A fresh 128-bit id from `next`, retried until it is non-zero.
    pub fn generate(mut next: impl FnMut() -> u128) -> TraceId {
        loop {
            if let Some(id) = TraceId::new(next()) {
                return id;
            }
        }
    }

    /// The id as a 128-bit number (a 64-bit id is zero-extended).
    pub fn value(self) -> u128 {
        self.value.get()
    }

    /// The low 64 bits: all that the 64-bit-only formats can carry.
    pub fn low64(self) -> u64 {
        // Truncation is the point: the high half is dropped on purpose.
        self.value.get() as u64
    }

    /// Whether the id arrived as (and will be written as) 64 bits.
    pub fn is_64bit(self) -> bool {
        self.short
    }

    /// The same number marked as 128-bit (as a W3C `traceparent` would carry it).
    pub fn widened(self) -> TraceId {
        TraceId {
            value: self.value,
            short: false,
        }
    }

    /// Lower-case hex in the arrival width: 16 digits for 64-bit ids, else 32.
    pub fn to_hex(self) -> String {
        let digits = if self.short { 16 } else { 32 };
        let mut out = String::with_capacity(digits);
        push_hex(&mut out, self.value.get(), digits);
        out
    }

    /// Lower-case hex, always 32 digits.
    pub fn to_hex_128(self) -> String {
        let mut out = String::with_capacity(32);
        push_hex(&mut out, self.value.get(), 32);
        out
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({})", self.to_hex())
    }
}

/// A non-zero 64-bit span id.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId(NonZeroU64);

impl SpanId {
    /// `None` for zero, which every format treats as invalid.
    pub fn new(value: u64) -> Option<SpanId> {
        NonZeroU64::new(value).map(SpanId)
    }

    /// A fresh id from `next`, retried until it is non-zero.
    pub fn generate(mut next: impl FnMut() -> u64) -> SpanId {
        loop {
            if let Some(id) = SpanId::new(next()) {
                return id;
            }
        }
    }

    /// The id as a number.
    pub fn get(self) -> u64 {
        self.0.get()
    }

    /// Lower-case hex, always 16 digits.
    pub fn to_hex(self) -> String {
        let mut out = String::with_capacity(16);
        push_hex(&mut out, u128::from(self.0.get()), 16);
        out
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({})", self.to_hex())
    }
}

/// The sampling decision carried with a context.
///
/// `Deferred` and `Debug` exist because B3 has them and erasing them is exactly the bug this
/// module avoids: a deferred request turned into "deny", or a debug request losing its force.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sampling {
    /// The caller sampled the trace: record and propagate "sampled".
    Sampled,
    /// The caller decided not to sample: propagate "not sampled" (real ids still flow).
    NotSampled,
    /// No decision yet: the receiver's own sampler decides, and that decision is propagated.
    Deferred,
    /// Forced sampling (B3 `d` / `x-b3-flags: 1`, Jaeger debug flag); implies sampled.
    Debug,
}

impl Sampling {
    /// `Some(true)` for sampled or debug, `Some(false)` for not sampled, `None` when deferred.
    pub fn is_sampled(self) -> Option<bool> {
        match self {
            Sampling::Sampled | Sampling::Debug => Some(true),
            Sampling::NotSampled => Some(false),
            Sampling::Deferred => None,
        }
    }
}

/// One hop's trace context: the ids a format carries plus the decision and vendor state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceContext {
    /// The trace every span of the request belongs to.
    pub trace_id: TraceId,
    /// The span this context names: on extract the caller's span, on inject our client span.
    pub span_id: SpanId,
    /// The parent of `span_id`, for formats that carry one (B3's optional `parentspanid`);
    /// Envoys with shared span contexts use it, everyone else ignores it.
    pub parent_span_id: Option<SpanId>,
    /// The sampling decision that travels with the context.
    pub sampling: Sampling,
    /// W3C `tracestate` entries; kept so vendors' state survives our hop.
    pub trace_state: TraceState,
    /// Baggage carried *inside* the trace header itself. Only `x-ot-span-context` has room for
    /// it; keeping it here means regenerating that header does not drop the caller's items.
    /// Baggage in separate headers (`baggage`, `ot-baggage-*`, `uberctx-*`) is not kept here.
    pub baggage: BTreeMap<String, String>,
}

impl TraceContext {
    /// A context with the given ids, no parent, no vendor state and no baggage.
    pub fn new(trace_id: TraceId, span_id: SpanId, sampling: Sampling) -> TraceContext {
        TraceContext {
            trace_id,
            span_id,
            parent_span_id: None,
            sampling,
            trace_state: TraceState::default(),
            baggage: BTreeMap::new(),
        }
    }

    /// The context of a child span: same trace (and width), decision, state and baggage; the
    /// new span id from `next` (retried until non-zero); this span as its parent.
    pub fn child(&self, next: impl FnMut() -> u64) -> TraceContext {
        TraceContext {
            span_id: SpanId::generate(next),
            parent_span_id: Some(self.span_id),
            ..self.clone()
        }
    }

    /// The same context with another sampling decision (e.g. once a deferred one is made).
    pub fn with_sampling(mut self, sampling: Sampling) -> TraceContext {
        self.sampling = sampling;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_ids_are_rejected() {
        assert!(TraceId::new(0).is_none());
        assert!(TraceId::new_64(0).is_none());
        assert!(SpanId::new(0).is_none());
    }

    #[test]
    fn width_is_kept_in_hex_and_equality() {
        let short = TraceId::new_64(0xa3ce_929d_0e0e_4736).unwrap();
        assert_eq!(short.to_hex(), "a3ce929d0e0e4736");
        assert_eq!(short.to_hex_128(), "0000000000000000a3ce929d0e0e4736");
        let long = TraceId::new(0xa3ce_929d_0e0e_4736).unwrap();
        assert_eq!(long.to_hex(), "0000000000000000a3ce929d0e0e4736");
        assert_ne!(short, long);
        assert_eq!(short.widened(), long);
        assert_eq!(short.value(), long.value());
    }

    #[test]
    fn generators_skip_zero() {
        let mut values = [0u64, 0, 7].into_iter();
        assert_eq!(SpanId::generate(|| values.next().unwrap_or(1)).get(), 7);
        let mut values = [0u128, 9].into_iter();
        assert_eq!(TraceId::generate(|| values.next().unwrap_or(1)).value(), 9);
    }

    #[test]
    fn child_keeps_trace_and_points_at_parent() {
        let parent = TraceContext::new(
            TraceId::new_64(1).unwrap(),
            SpanId::new(2).unwrap(),
            Sampling::Debug,
        );
        let child = parent.child(|| 3);
        assert_eq!(child.trace_id, parent.trace_id);
        assert!(child.trace_id.is_64bit());
        assert_eq!(child.span_id.get(), 3);
        assert_eq!(child.parent_span_id, Some(parent.span_id));
        assert_eq!(child.sampling, Sampling::Debug);
    }

    #[test]
    fn sampling_decisions() {
        assert_eq!(Sampling::Debug.is_sampled(), Some(true));
        assert_eq!(Sampling::Sampled.is_sampled(), Some(true));
        assert_eq!(Sampling::NotSampled.is_sampled(), Some(false));
        assert_eq!(Sampling::Deferred.is_sampled(), None);
    }
}
