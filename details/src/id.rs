//! Product ids as upstream reads them from the request path.
//!
//! Upstream takes the last non-empty segment of the URL-decoded path and converts it with Ruby's
//! `Integer()`, so `/details/0/`, `/details/abc/5`, `/details/-3`, `/details/%31`, `/details/0x10`
//! (16) and `/details/010` (8) all succeed. Users plausibly send decimal ids, trailing slashes and
//! negative numbers; we also keep the radix prefixes and underscores, because they cost a few lines
//! and make the parser a faithful stand-in. Ruby integers are unbounded; ours stop at `i128`, and a
//! larger id is reported as not numeric.

use percent_encoding::percent_decode_str;

/// The product id of a `/details...` request path, or `None` when it is not an integer.
pub fn from_path(path: &str) -> Option<i128> {
    // Decode the whole path before splitting, as WEBrick does: `%2F` separates segments.
    let decoded = percent_decode_str(path).decode_utf8().ok()?;
    let last = decoded.split('/').rfind(|s| !s.is_empty())?;
    ruby_integer(last)
}

/// Ruby's `Integer(text)`: surrounding whitespace, an optional sign, an optional radix prefix
/// (`0x`, `0b`, `0o`, `0d`, or a bare leading `0` for octal) and single underscores between
/// digits.
pub fn ruby_integer(text: &str) -> Option<i128> {
    let s = text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r'));
    let (negative, unsigned) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = unsigned.get(..2).map(str::to_ascii_lowercase);
    let (radix, digits, may_open_with_underscore) = match lower.as_deref() {
        Some("0x") => (16, &unsigned[2..], false),
        Some("0b") => (2, &unsigned[2..], false),
        Some("0o") => (8, &unsigned[2..], false),
        Some("0d") => (10, &unsigned[2..], false),
        // `010` is octal; the `0` already separates, so `0_7` is fine too.
        _ if unsigned.len() > 1 && unsigned.starts_with('0') => (8, &unsigned[1..], true),
        _ => (10, unsigned, false),
    };
    let magnitude = digits_value(digits, radix, may_open_with_underscore)?;
    let value = i128::try_from(magnitude).ok()?;
    Some(if negative { -value } else { value })
}

fn digits_value(digits: &str, radix: u32, may_open_with_underscore: bool) -> Option<u128> {
    if digits.is_empty()
        || digits.ends_with('_')
        || digits.contains("__")
        || (digits.starts_with('_') && !may_open_with_underscore)
    {
        return None;
    }
    let mut value: u128 = 0;
    for c in digits.chars().filter(|c| *c != '_') {
        let digit = c.to_digit(radix)?;
        value = value
            .checked_mul(u128::from(radix))?
            .checked_add(u128::from(digit))?;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruby_integer_accepts_what_ruby_accepts() {
        for (text, expected) in [
            ("0", 0),
            ("7", 7),
            ("-3", -3),
            ("+4", 4),
            (" 12\n", 12),
            ("0x10", 16),
            ("0X1f", 31),
            ("-0x10", -16),
            ("010", 8),
            ("0o17", 15),
            ("0b101", 5),
            ("0d19", 19),
            ("1_000", 1000),
            ("0_7", 7),
            ("00", 0),
        ] {
            assert_eq!(ruby_integer(text), Some(expected), "{text:?}");
        }
    }

    #[test]
    fn ruby_integer_rejects_what_ruby_rejects() {
        for text in [
            "", " ", "abc", "1.5", "1e3", "-", "+", "--1", "0x", "0xg", "08", "1__0", "_1", "1_",
            "0x_1", "1 2", "details", "١",
        ] {
            assert_eq!(ruby_integer(text), None, "{text:?}");
        }
    }

    #[test]
    fn beyond_i128_is_not_numeric() {
        assert_eq!(ruby_integer(&"9".repeat(40)), None);
        assert_eq!(
            ruby_integer(&"9".repeat(38)),
            Some("9".repeat(38).parse().unwrap())
        );
    }

    #[test]
    fn id_is_the_last_non_empty_segment_of_the_decoded_path() {
        for (path, expected) in [
            ("/details/0", Some(0)),
            ("/details/0/", Some(0)),
            ("/details/abc/5", Some(5)),
            ("/details/5//", Some(5)),
            ("/details/%31", Some(1)),
            ("/details/a%2F9", Some(9)),
            ("/details/0x10", Some(16)),
            ("/details/010", Some(8)),
            ("/details", None),
            ("/details/", None),
            ("/details/abc", None),
            ("/details/1.5", None),
            ("/details/%ff", None),
        ] {
            assert_eq!(from_path(path), expected, "{path}");
        }
    }
}
