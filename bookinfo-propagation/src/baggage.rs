//! W3C `baggage`: application key/value pairs that ride along with a request.
//!
//! Baggage is not trace context (it arrives with or without ids), so it is extracted on its own
//! and kept close to verbatim: values stay percent-encoded exactly as received and properties
//! are kept, so re-injecting it changes nothing but optional whitespace. Repeated fields are
//! joined (the W3C rule).
//!
//! Two readings exist. [`Baggage::parse`] is strict: one invalid member rejects the header.
//! What a request brings in is read with [`Baggage::parse_valid`], which keeps every valid
//! member and drops the invalid ones, so that a participating service forwards exactly what it
//! understood: never the raw header, which may be malformed or larger than the limits. Both
//! keep at most [`MAX_MEMBERS`] members and [`MAX_BYTES`] bytes, in order, stopping at the
//! first member that would not fit (members are dropped whole, never cut).

use http::HeaderMap;
use http::header::HeaderName;

use super::wire::{Malformed, Source, Values};

pub(crate) const BAGGAGE: HeaderName = HeaderName::from_static(super::names::BAGGAGE);

/// Members kept; the W3C minimum a platform must propagate.
pub const MAX_MEMBERS: usize = 64;
/// Bytes kept in the re-encoded header; the W3C minimum a platform must propagate.
pub const MAX_BYTES: usize = 8192;

/// One `key=value;property...` list member, value and properties as they arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaggageMember {
    /// An RFC 9110 token.
    pub key: String,
    /// The value, still percent-encoded.
    pub value: String,
    /// Properties (`name` or `name=value`), whitespace removed.
    pub properties: Vec<String>,
}

impl BaggageMember {
    fn encode(&self) -> String {
        let mut out = format!("{}={}", self.key, self.value);
        for property in &self.properties {
            out.push(';');
            out.push_str(property);
        }
        out
    }
}

/// A parsed `baggage` header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Baggage {
    members: Vec<BaggageMember>,
}

impl Baggage {
    /// Parses a (possibly joined) header value; `None` when any member is invalid. Empty list
    /// members (from joining or trailing commas) are skipped; limits are applied.
    pub fn parse(text: &str) -> Option<Baggage> {
        let (baggage, dropped) = Baggage::parse_valid(text);
        (dropped == 0).then_some(baggage)
    }

    /// Parses a (possibly joined) header value member by member: the valid members within the
    /// limits, and how many members were dropped because they were invalid. Empty list members
    /// (from joining or trailing commas) are skipped without counting.
    pub fn parse_valid(text: &str) -> (Baggage, usize) {
        let mut members = Vec::new();
        let mut dropped = 0;
        for raw in text.split(',') {
            if raw.trim_matches(OWS).is_empty() {
                continue;
            }
            match parse_member(raw) {
                Some(member) => members.push(member),
                None => dropped += 1,
            }
        }
        (Baggage::limited(members), dropped)
    }

    /// Keeps members in order while both limits hold.
    fn limited(members: Vec<BaggageMember>) -> Baggage {
        let mut kept = Vec::new();
        let mut bytes = 0;
        for member in members {
            let len = member.encode().len() + usize::from(!kept.is_empty());
            if kept.len() == MAX_MEMBERS || bytes + len > MAX_BYTES {
                break;
            }
            bytes += len;
            kept.push(member);
        }
        Baggage { members: kept }
    }

    /// The members in order.
    pub fn members(&self) -> &[BaggageMember] {
        &self.members
    }

    /// The (still percent-encoded) value of the first member named `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|m| m.key == key)
            .map(|m| m.value.as_str())
    }

    /// Whether there are no members (then no header is sent).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The header value; `None` when empty.
    pub fn header_value(&self) -> Option<String> {
        if self.members.is_empty() {
            return None;
        }
        let parts: Vec<String> = self.members.iter().map(BaggageMember::encode).collect();
        Some(parts.join(","))
    }

    /// Replaces the `baggage` header with this baggage (removing it when empty).
    pub fn inject(&self, headers: &mut HeaderMap) {
        headers.remove(&BAGGAGE);
        if let Some(value) = self.header_value() {
            Values::new().push(&value).set(headers, BAGGAGE);
        }
    }
}

/// Reads the `baggage` header(s): the valid members within the limits (`None` when there are
/// none), and whether anything was dropped as invalid. A header that is not text counts as
/// entirely invalid.
pub(crate) fn extract(headers: &impl Source) -> (Option<Baggage>, bool) {
    match headers.joined(&BAGGAGE) {
        Ok(Some(text)) => {
            let (baggage, dropped) = Baggage::parse_valid(&text);
            ((!baggage.is_empty()).then_some(baggage), dropped > 0)
        }
        Ok(None) => (None, false),
        Err(Malformed) => (None, true),
    }
}

const OWS: [char; 2] = [' ', '\t'];

fn parse_member(raw: &str) -> Option<BaggageMember> {
    let mut parts = raw.split(';');
    let (key, value) = parts.next()?.split_once('=')?;
    let key = key.trim_matches(OWS);
    let value = value.trim_matches(OWS);
    if !is_token(key) || !value.bytes().all(is_baggage_octet) {
        return None;
    }
    let properties = parts.map(parse_property).collect::<Option<Vec<_>>>()?;
    Some(BaggageMember {
        key: key.to_owned(),
        value: value.to_owned(),
        properties,
    })
}

fn parse_property(raw: &str) -> Option<String> {
    match raw.split_once('=') {
        Some((key, value)) => {
            let (key, value) = (key.trim_matches(OWS), value.trim_matches(OWS));
            (is_token(key) && value.bytes().all(is_baggage_octet)).then(|| format!("{key}={value}"))
        }
        None => {
            let key = raw.trim_matches(OWS);
            is_token(key).then(|| key.to_owned())
        }
    }
}

fn is_token(text: &str) -> bool {
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    !text.is_empty() && text.bytes().all(tchar)
}

/// Printable ASCII except space, `"`, `,`, `;` and `\`.
fn is_baggage_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn spec_examples() {
        let b = Baggage::parse("userId=alice,isProduction=false;prop").unwrap();
        assert_eq!(b.get("userId"), Some("alice"));
        assert_eq!(b.members()[1].properties, ["prop"]);
        assert_eq!(
            b.header_value().as_deref(),
            Some("userId=alice,isProduction=false;prop")
        );
        let b = Baggage::parse("key1 = value1; property1;property2 = v2, key2=%20x").unwrap();
        assert_eq!(
            b.header_value().as_deref(),
            Some("key1=value1;property1;property2=v2,key2=%20x")
        );
    }

    #[test]
    fn repeated_fields_are_joined() {
        let mut h = HeaderMap::new();
        h.append("baggage", HeaderValue::from_static("a=1"));
        h.append("baggage", HeaderValue::from_static("b=2"));
        let (b, dropped) = extract(&h);
        assert_eq!(b.unwrap().header_value().as_deref(), Some("a=1,b=2"));
        assert!(!dropped);
    }

    #[test]
    fn malformed_baggage() {
        for bad in [
            "novalue", "=v", "k=a b", "k=\"q\"", "k=v;=p", "k y=v", "k=v;p q",
        ] {
            assert_eq!(Baggage::parse(bad), None, "{bad:?}");
            let mut h = HeaderMap::new();
            h.insert("baggage", HeaderValue::from_str(bad).unwrap());
            assert_eq!(extract(&h), (None, true), "{bad:?}");
        }
    }

    #[test]
    fn limits_drop_whole_members() {
        let many: Vec<String> = (0..70).map(|i| format!("k{i}=v")).collect();
        let b = Baggage::parse(&many.join(",")).unwrap();
        assert_eq!(b.members().len(), MAX_MEMBERS);

        let big = "x".repeat(5000);
        let b = Baggage::parse(&format!("a={big},b={big},c=1")).unwrap();
        let keys: Vec<&str> = b.members().iter().map(|m| m.key.as_str()).collect();
        assert_eq!(keys, ["a"], "stops at the first member that would not fit");
        assert!(b.header_value().unwrap().len() <= MAX_BYTES);
    }

    #[test]
    fn parse_valid_keeps_the_valid_members_in_order() {
        let (b, dropped) = Baggage::parse_valid("a=1, bad member ,b=2;p,=x,c=3,");
        assert_eq!(b.header_value().as_deref(), Some("a=1,b=2;p,c=3"));
        assert_eq!(dropped, 2);
        let (b, dropped) = Baggage::parse_valid("no value,k y=v");
        assert!(b.is_empty());
        assert_eq!(dropped, 2);
        // Invalid members do not count towards the member limit.
        let mut text = vec!["bad".to_owned()];
        text.extend((0..70).map(|i| format!("k{i}=v")));
        let (b, dropped) = Baggage::parse_valid(&text.join(","));
        assert_eq!(dropped, 1);
        assert_eq!(b.members().len(), MAX_MEMBERS);
        assert_eq!(b.members()[0].key, "k0");
        assert_eq!(b.members()[63].key, "k63");
    }

    #[test]
    fn inject_replaces_and_removes_when_empty() {
        let mut h = HeaderMap::new();
        h.insert("baggage", HeaderValue::from_static("old=1"));
        Baggage::parse("new=2").unwrap().inject(&mut h);
        assert_eq!(h["baggage"], "new=2");
        Baggage::default().inject(&mut h);
        assert!(h.get("baggage").is_none());
    }
}
