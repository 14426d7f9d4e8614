//! W3C `tracestate`: vendors' opaque per-trace state, kept across our hop.
//!
//! The header is only meaningful next to a valid `traceparent`, so it is parsed as part of the
//! W3C format. A header that does not parse is dropped whole (the W3C rule), but it does not
//! invalidate the `traceparent` it came with.

use std::collections::HashSet;

/// At most this many list members are propagated; later ones are dropped whole.
pub const MAX_MEMBERS: usize = 32;

/// An ordered list of `key=value` members (left-most = most recently updated vendor).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceState {
    members: Vec<(String, String)>,
}

impl TraceState {
    /// Parses a (possibly joined) header value; `None` when any member is invalid or a key
    /// repeats. Empty members are allowed; members beyond the 32nd are dropped.
    pub fn parse(text: &str) -> Option<TraceState> {
        let mut members = Vec::new();
        let mut seen = HashSet::new();
        for raw in text.split(',') {
            let member = raw.trim_matches([' ', '\t']);
            if member.is_empty() {
                continue;
            }
            let (key, value) = member.split_once('=')?;
            if !valid_key(key) || !valid_value(value) || !seen.insert(key) {
                return None;
            }
            members.push((key.to_owned(), value.to_owned()));
        }
        members.truncate(MAX_MEMBERS);
        Some(TraceState { members })
    }

    /// Builds a state from entries, validating each like [`TraceState::parse`].
    pub fn from_members<K, V>(members: impl IntoIterator<Item = (K, V)>) -> Option<TraceState>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let members: Vec<(String, String)> = members
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let mut seen = HashSet::new();
        let valid = members.len() <= MAX_MEMBERS
            && members
                .iter()
                .all(|(k, v)| valid_key(k) && valid_value(v) && seen.insert(k.as_str()));
        valid.then_some(TraceState { members })
    }

    /// The members in order.
    pub fn members(&self) -> &[(String, String)] {
        &self.members
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether there are no members (then no `tracestate` header is sent at all).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The header value: members joined with `,`; `None` when empty.
    pub fn header_value(&self) -> Option<String> {
        if self.members.is_empty() {
            return None;
        }
        let parts: Vec<String> = self
            .members
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        Some(parts.join(","))
    }
}

fn key_char(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'*' | b'/')
}

/// `simple-key` or `tenant-id@system-id` as the W3C grammar defines them.
fn valid_key(key: &str) -> bool {
    match key.split_once('@') {
        None => {
            let first_ok = key.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
            first_ok && key.len() <= 256 && key.bytes().all(key_char)
        }
        Some((tenant, system)) => {
            let tenant_ok = tenant
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                && tenant.len() <= 241
                && tenant.bytes().all(key_char);
            let system_ok = system
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase())
                && system.len() <= 14
                && system.bytes().all(key_char);
            tenant_ok && system_ok
        }
    }
}

/// 1 to 256 printable ASCII characters except `,` and `=`, not ending in a space.
fn valid_value(value: &str) -> bool {
    let allowed = |b: u8| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=';
    !value.is_empty() && value.len() <= 256 && value.bytes().all(allowed) && !value.ends_with(' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_spec_example_and_re_emits_it() {
        let ts = TraceState::parse("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7").unwrap();
        assert_eq!(ts.get("rojo"), Some("00f067aa0ba902b7"));
        assert_eq!(
            ts.header_value().as_deref(),
            Some("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
        );
    }

    #[test]
    fn tolerates_whitespace_and_empty_members() {
        let ts = TraceState::parse(" a=1 ,\t, b@vendor=x y ,").unwrap();
        assert_eq!(ts.header_value().as_deref(), Some("a=1,b@vendor=x y"));
        assert_eq!(TraceState::parse(""), Some(TraceState::default()));
        assert_eq!(TraceState::default().header_value(), None);
    }

    #[test]
    fn rejects_invalid_members() {
        for bad in [
            "novalue",
            "Upper=1",
            "1abc=1",
            "a=",
            "a=b,a=c",
            "a=b=c",
            "a@=1",
            "a@toolongsystemid1=1",
            "a=\u{e9}",
            "a=tab\there",
        ] {
            assert_eq!(TraceState::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn keeps_only_the_first_32_members() {
        let text: Vec<String> = (0..40).map(|i| format!("k{i}=v{i}")).collect();
        let ts = TraceState::parse(&text.join(",")).unwrap();
        assert_eq!(ts.members().len(), MAX_MEMBERS);
        assert_eq!(ts.members()[31], ("k31".to_owned(), "v31".to_owned()));
    }

    #[test]
    fn from_members_validates() {
        assert!(TraceState::from_members([("a", "1")]).is_some());
        assert!(TraceState::from_members([("A", "1")]).is_none());
        assert!(TraceState::from_members([("a", "1"), ("a", "2")]).is_none());
    }
}
