//! Small helpers shared by the format modules: reading one header strictly, joining repeated
//! fields, parsing hex ids without the leniency of `from_str_radix` (which accepts a `+` sign),
//! and writing values without panicking.

use bytes::BytesMut;
use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};

use super::context::{SpanId, TraceId, hex_digits};

/// A header of a format was present but did not parse; the format is then treated as absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Malformed;

/// What one format found in a header map.
pub(crate) type Found<T> = Result<Option<T>, Malformed>;

/// Which letter case a format accepts for hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Case {
    /// Only `0-9a-f` (W3C requires it).
    Lower,
    /// Either case (numeric ids, as Envoy and Jaeger parse them).
    Any,
}

/// Where a format reads its headers: a request's whole header map, or the trace headers picked
/// out of it in one pass ([`crate::Seen`], what [`crate::extract`] uses).
pub(crate) trait Source {
    /// The single value of `name`: `Ok(None)` when absent; malformed when repeated or not text.
    fn single(&self, name: &HeaderName) -> Found<&str>;

    /// All values of `name` joined with `,` (how list headers combine, RFC 9110 §5.3).
    fn joined(&self, name: &HeaderName) -> Found<String>;
}

impl Source for HeaderMap {
    fn single(&self, name: &HeaderName) -> Found<&str> {
        let mut values = self.get_all(name).iter();
        let Some(first) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(Malformed);
        }
        first.to_str().map(Some).map_err(|_| Malformed)
    }

    fn joined(&self, name: &HeaderName) -> Found<String> {
        let mut out: Option<String> = None;
        for value in self.get_all(name) {
            let text = value.to_str().map_err(|_| Malformed)?;
            match out.as_mut() {
                Some(joined) => {
                    joined.push(',');
                    joined.push_str(text);
                }
                None => out = Some(text.to_owned()),
            }
        }
        Ok(out)
    }
}

/// Hex digits only (no sign, no prefix), 1 to `max_len` of them, in the accepted case.
///
/// Each digit is one table look-up, without a branch, into two 64-bit halves (a `u128` shift
/// takes several instructions). Against a `match` per digit into a `u128`, reading the context
/// of a participating leaf's request (`extract`, `traceparent` and `x-b3-*`) went from 3,463 to
/// 2,922 instructions (callgrind; docs/performance.md).
pub(crate) fn hex(text: &str, max_len: usize, case: Case) -> Option<u128> {
    if text.is_empty() || text.len() > max_len || max_len > 32 {
        return None;
    }
    let table = match case {
        Case::Lower => &HEX_LOWER,
        Case::Any => &HEX_ANY,
    };
    let (high, low) = text.as_bytes().split_at(text.len().saturating_sub(16));
    Some(u128::from(hex64(high, table)?) << 64 | u128::from(hex64(low, table)?))
}

/// A byte's value as a hex digit, or [`NOT_HEX`].
type HexTable = [u8; 256];

/// Marks a byte that is not a digit in a [`HexTable`].
const NOT_HEX: u8 = 0x80;

const fn hex_table(upper_too: bool) -> HexTable {
    let mut table = [NOT_HEX; 256];
    let mut i = 0;
    while i < 16 {
        let digit = b"0123456789abcdef"[i];
        table[digit as usize] = i as u8;
        if upper_too {
            table[digit.to_ascii_uppercase() as usize] = i as u8;
        }
        i += 1;
    }
    table
}

static HEX_LOWER: HexTable = hex_table(false);
static HEX_ANY: HexTable = hex_table(true);

/// At most 16 hex digits (none gives 0).
fn hex64(digits: &[u8], table: &HexTable) -> Option<u64> {
    let (mut value, mut seen) = (0u64, 0u8);
    for &b in digits {
        let digit = table[usize::from(b)];
        seen |= digit;
        value = value << 4 | u64::from(digit & 0x0f);
    }
    (seen & NOT_HEX == 0).then_some(value)
}

/// Exactly `len` hex digits.
pub(crate) fn hex_exact(text: &str, len: usize, case: Case) -> Option<u128> {
    if text.len() == len {
        hex(text, len, case)
    } else {
        None
    }
}

/// The header values of one injection, written into one shared buffer.
///
/// Each value is a slice of the same allocation, so writing five trace headers costs two
/// allocations (the buffer and its reference count) instead of one per value, and copying the
/// headers afterwards (the HTTP client keeps a copy of every request's headers) only counts
/// references: a value built in its own `String` is reallocated on its first copy.
pub(crate) struct Values(BytesMut);

impl Values {
    /// Room for `traceparent` and a full set of `x-b3-*` values; it grows if a format needs more.
    pub(crate) fn new() -> Self {
        Self(BytesMut::with_capacity(160))
    }

    /// Appends text to the value being written.
    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.0.extend_from_slice(text.as_bytes());
        self
    }

    /// Appends `value` as `digits` lower-case hex digits (the low ones when fewer than needed).
    pub(crate) fn hex(&mut self, value: u128, digits: usize) -> &mut Self {
        let (text, start) = hex_digits(value, digits);
        self.0.extend_from_slice(&text[start..]);
        self
    }

    /// Appends a trace id in the width it arrived in (16 or 32 digits).
    pub(crate) fn trace_id(&mut self, id: TraceId) -> &mut Self {
        self.hex(id.value(), if id.is_64bit() { 16 } else { 32 })
    }

    /// Appends a span id (16 digits).
    pub(crate) fn span_id(&mut self, id: SpanId) -> &mut Self {
        self.hex(u128::from(id.get()), 16)
    }

    /// Replaces `name` in `headers` with everything appended since the last call. A value that
    /// is not visible ASCII (a hand-built tracestate, say) is skipped rather than sent corrupted.
    pub(crate) fn set(&mut self, headers: &mut HeaderMap, name: HeaderName) {
        let value = self.0.split().freeze();
        if let Ok(value) = HeaderValue::from_maybe_shared(value) {
            headers.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_strict() {
        assert_eq!(hex("00ff", 4, Case::Lower), Some(255));
        assert_eq!(hex("00FF", 4, Case::Any), Some(255));
        for bad in ["", "+ff", "-1", "0x1", "ff ", "00FF", "12345"] {
            assert_eq!(hex(bad, 4, Case::Lower), None, "{bad:?}");
        }
        assert_eq!(hex_exact("0f", 3, Case::Lower), None);
        // Across the two halves the digits are read into.
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(hex(id, 32, Case::Lower), u128::from_str_radix(id, 16).ok());
        assert_eq!(
            hex(&id[..17], 32, Case::Lower),
            u128::from_str_radix(&id[..17], 16).ok()
        );
        assert_eq!(hex(&format!("{id}0"), 32, Case::Lower), None);
        assert_eq!(hex("G0000000000000000", 32, Case::Any), None);
    }

    #[test]
    fn values_are_written_one_after_another_from_one_buffer() {
        let mut h = HeaderMap::new();
        let mut values = Values::new();
        let (a, b, c) = (
            HeaderName::from_static("a"),
            HeaderName::from_static("b"),
            HeaderName::from_static("c"),
        );
        let long = "x".repeat(300); // more than the initial room
        values
            .push("00-")
            .hex(0xab, 4)
            .push("-")
            .set(&mut h, a.clone());
        values.push(&long).set(&mut h, b.clone());
        values.hex(u128::MAX, 40).set(&mut h, c.clone());
        assert_eq!(h[&a], "00-00ab-");
        assert_eq!(h[&b], long.as_str());
        assert_eq!(h[&c], "f".repeat(32).as_str());
        // Replaced, not appended; a value that is not visible ASCII is skipped.
        values.push("new").set(&mut h, a.clone());
        values.push("bad\n").set(&mut h, a.clone());
        assert_eq!(h.get_all(&a).iter().collect::<Vec<_>>(), ["new"]);
        // A clone of the map sees the same values.
        assert_eq!(h.clone(), h);
    }

    #[test]
    fn single_rejects_repeats_and_joined_combines() {
        let (a, b) = (HeaderName::from_static("a"), HeaderName::from_static("b"));
        let mut h = HeaderMap::new();
        assert_eq!(h.single(&a), Ok(None));
        h.append("a", HeaderValue::from_static("1"));
        assert_eq!(h.single(&a), Ok(Some("1")));
        h.append("a", HeaderValue::from_static("2"));
        assert_eq!(h.single(&a), Err(Malformed));
        assert_eq!(h.joined(&a), Ok(Some("1,2".to_owned())));
        assert_eq!(h.joined(&b), Ok(None));
    }
}
