//! The product id, read the way upstream reads it.
//!
//! Upstream takes the text after the last `/` of the *raw* request URL (query string included)
//! and runs JavaScript's `parseInt` on it. So `/ratings/1abc` is product 1, `/ratings/5/7` is 7,
//! `/ratings/0?x=1` is 0 and `/ratings/abc` is not a number. Clients and istio.io's tasks rely
//! only on the plain decimal case, but matching `parseInt` exactly costs little and keeps the
//! odd cases identical too (including its `0x` hexadecimal prefix).
//!
//! One deliberate difference: where `parseInt` overflows to `Infinity` (an id of more than
//! about 308 digits), upstream answers `"id": null`; here that id is refused like any other
//! non-number (400), rather than mapped onto a product.

use serde_json::Number;

/// A parsed product id; serialises as the JSON number upstream would print.
#[derive(Clone, Debug, PartialEq)]
pub struct ProductId(Number);

impl ProductId {
    /// The id from a raw request target such as `/ratings/0?x=1`; `None` where upstream's
    /// `parseInt` gives `NaN`, or overflows to `±Infinity`.
    pub fn from_raw_url(path_and_query: &str) -> Option<ProductId> {
        let last = path_and_query.rsplit('/').next().unwrap_or_default();
        parse_int(last).map(ProductId)
    }

    /// The JSON number.
    pub fn number(&self) -> &Number {
        &self.0
    }

    /// A key identifying the product in the in-memory store (`1` and `01` are the same id).
    pub fn key(&self) -> String {
        self.0.to_string()
    }
}

/// JavaScript's `parseInt(text)` without a radix: optional leading white space and sign, `0x`
/// selects hexadecimal, then the longest run of digits; no digits at all is `NaN` (`None`).
fn parse_int(text: &str) -> Option<Number> {
    let text = text.trim_start();
    let (negative, text) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = match text.get(..2) {
        Some("0x" | "0X") => (16, &text[2..]),
        _ => (10, text),
    };
    // JavaScript numbers are doubles: accumulate as one, as parseInt does.
    let mut count = 0usize;
    let magnitude = digits
        .chars()
        .map_while(|c| c.to_digit(radix))
        .fold(0f64, |acc, d| {
            count += 1;
            acc * f64::from(radix) + f64::from(d)
        });
    if count == 0 || !magnitude.is_finite() {
        return None;
    }
    let value = if negative { -magnitude } else { magnitude };
    Some(js_number(value))
}

/// A double as JSON the way `JSON.stringify` prints it: integral values without a fraction
/// (and `-0` as `0`), others as they are.
pub(crate) fn js_number(value: f64) -> Number {
    // 2^53: beyond it not every integer is representable, and i64 conversion stays exact below.
    const SAFE: f64 = 9_007_199_254_740_992.0;
    if value.fract() == 0.0 && value.abs() <= SAFE {
        #[allow(clippy::cast_possible_truncation)]
        Number::from(value as i64)
    } else {
        Number::from_f64(value).unwrap_or_else(|| Number::from(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(url: &str) -> Option<String> {
        ProductId::from_raw_url(url).map(|p| p.number().to_string())
    }

    #[test]
    fn upstream_examples() {
        // docs/compatibility.md, items 74 and 75.
        assert_eq!(id("/ratings/0").as_deref(), Some("0"));
        assert_eq!(id("/ratings/1abc").as_deref(), Some("1"));
        assert_eq!(id("/ratings/2.9").as_deref(), Some("2"));
        assert_eq!(id("/ratings/-1").as_deref(), Some("-1"));
        assert_eq!(id("/ratings/0?x=1").as_deref(), Some("0"));
        assert_eq!(id("/ratings/5/7").as_deref(), Some("7"));
        assert_eq!(id("/ratings/abc"), None);
        assert_eq!(id("/ratings/"), None);
        assert_eq!(id("/ratings/5/x"), None);
    }

    #[test]
    fn parse_int_corners() {
        assert_eq!(id("/ratings/+3").as_deref(), Some("3"));
        assert_eq!(id("/ratings/-0").as_deref(), Some("0"));
        assert_eq!(id("/ratings/007").as_deref(), Some("7"));
        assert_eq!(id("/ratings/0x1f").as_deref(), Some("31"));
        assert_eq!(id("/ratings/0xg"), None);
        assert_eq!(id("/ratings/-"), None);
        // The query's own slashes count: the last segment wins.
        assert_eq!(id("/ratings/1?next=/4").as_deref(), Some("4"));
    }

    #[test]
    fn huge_ids_stay_numbers() {
        let big = id("/ratings/123456789012345678901234").unwrap();
        assert!(big.parse::<f64>().unwrap() > 1.2e23, "{big}");
        assert_eq!(
            id("/ratings/9007199254740992").as_deref(),
            Some("9007199254740992")
        );
    }

    #[test]
    fn ids_that_overflow_are_not_numbers() {
        let digits = "9".repeat(60_000);
        assert_eq!(id(&format!("/ratings/{digits}")), None);
        assert_eq!(id(&format!("/ratings/-{digits}")), None);
        assert_eq!(id(&format!("/ratings/0x{}", "f".repeat(300))), None);
        // The largest finite ones still are.
        assert!(id(&format!("/ratings/{}", "9".repeat(308))).is_some());
    }

    #[test]
    fn equal_ids_share_a_key() {
        let a = ProductId::from_raw_url("/ratings/01").unwrap();
        let b = ProductId::from_raw_url("/ratings/1?x").unwrap();
        assert_eq!(a.key(), b.key());
    }
}
