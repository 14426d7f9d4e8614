//! Small helpers shared by the format modules: reading one header strictly, joining repeated
//! fields, parsing hex ids without the leniency of `from_str_radix` (which accepts a `+` sign),
//! and writing values without panicking.

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};

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

/// The single value of `name`: `Ok(None)` when absent; malformed when repeated or not text.
pub(crate) fn single<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Found<&'h str> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Malformed);
    }
    first.to_str().map(Some).map_err(|_| Malformed)
}

/// All values of `name` joined with `,` (how list headers combine, RFC 9110 §5.3).
pub(crate) fn joined(headers: &HeaderMap, name: &HeaderName) -> Found<String> {
    let mut out: Option<String> = None;
    for value in headers.get_all(name) {
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

/// Hex digits only (no sign, no prefix), 1 to `max_len` of them, in the accepted case.
pub(crate) fn hex(text: &str, max_len: usize, case: Case) -> Option<u128> {
    if text.is_empty() || text.len() > max_len || max_len > 32 {
        return None;
    }
    text.bytes().try_fold(0u128, |acc, b| {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' if case == Case::Any => b - b'A' + 10,
            _ => return None,
        };
        Some(acc << 4 | u128::from(digit))
    })
}

/// Exactly `len` hex digits.
pub(crate) fn hex_exact(text: &str, len: usize, case: Case) -> Option<u128> {
    if text.len() == len {
        hex(text, len, case)
    } else {
        None
    }
}

/// Replaces `name` with `value`. Values built here are always visible ASCII; one that is not
/// (a hand-built tracestate, say) is skipped rather than sent corrupted.
pub(crate) fn set(headers: &mut HeaderMap, name: HeaderName, value: String) {
    if let Ok(value) = HeaderValue::try_from(value) {
        headers.insert(name, value);
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
    }

    #[test]
    fn single_rejects_repeats_and_joined_combines() {
        let (a, b) = (HeaderName::from_static("a"), HeaderName::from_static("b"));
        let mut h = HeaderMap::new();
        assert_eq!(single(&h, &a), Ok(None));
        h.append("a", HeaderValue::from_static("1"));
        assert_eq!(single(&h, &a), Ok(Some("1")));
        h.append("a", HeaderValue::from_static("2"));
        assert_eq!(single(&h, &a), Err(Malformed));
        assert_eq!(joined(&h, &a), Ok(Some("1,2".to_owned())));
        assert_eq!(joined(&h, &b), Ok(None));
    }
}
