//! Property tests over the parsers that read what callers send: arbitrary input never panics,
//! and whatever parses is written back in a form that parses to the same thing.
//! `PROPTEST_CASES=100000 cargo test -p bookinfo-propagation --test fuzz` runs longer.

#![allow(clippy::unwrap_used)] // Tests fail loudly on anything unexpected.

use bookinfo_propagation::{Baggage, Propagation, TraceState, extract};
use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;

/// Text shaped like the headers, with the separators and odd bytes parsers trip on.
fn header_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,120}",
        "([a-z0-9_*/@-]{0,12}(=[ -~&&[^,=]]{0,12})?[ \t]*[,;]?[ \t]*){0,12}",
        "\\PC{0,40}",
    ]
}

/// The W3C limits the parsers keep to (members and bytes of baggage, members of tracestate).
const BAGGAGE_MEMBERS: usize = 64;
const BAGGAGE_BYTES: usize = 8192;
const TRACESTATE_MEMBERS: usize = 32;

proptest! {
    #[test]
    fn baggage_never_panics_and_round_trips(text in header_like()) {
        if let Some(parsed) = Baggage::parse(&text) {
            prop_assert!(parsed.members().len() <= BAGGAGE_MEMBERS);
            match parsed.header_value() {
                Some(written) => {
                    prop_assert!(written.len() <= BAGGAGE_BYTES);
                    prop_assert_eq!(Baggage::parse(&written), Some(parsed));
                }
                None => prop_assert!(parsed.is_empty()),
            }
        }
    }

    #[test]
    fn valid_baggage_members_survive(
        members in proptest::collection::vec(
            ("[A-Za-z0-9!#$&'*+.^_`|~-]{1,12}", "[A-Za-z0-9%._~-]{0,16}", proptest::collection::vec("[a-z]{1,6}(=[a-z0-9]{1,6})?", 0..3)),
            1..8,
        )
    ) {
        let text = members
            .iter()
            .map(|(k, v, props)| {
                let mut m = format!("{k}={v}");
                for p in props {
                    m.push(';');
                    m.push_str(p);
                }
                m
            })
            .collect::<Vec<_>>()
            .join(" , ");
        let parsed = Baggage::parse(&text).unwrap();
        prop_assert_eq!(parsed.members().len(), members.len());
        for (member, (k, v, props)) in parsed.members().iter().zip(&members) {
            prop_assert_eq!(&member.key, k);
            prop_assert_eq!(&member.value, v);
            prop_assert_eq!(&member.properties, props);
        }
        let written = parsed.header_value().unwrap();
        prop_assert_eq!(Baggage::parse(&written), Some(parsed));
    }

    #[test]
    fn tracestate_never_panics_and_round_trips(text in header_like()) {
        if let Some(parsed) = TraceState::parse(&text) {
            prop_assert!(parsed.members().len() <= TRACESTATE_MEMBERS);
            let written = parsed.header_value().unwrap_or_default();
            prop_assert_eq!(TraceState::parse(&written), Some(parsed));
        }
    }

    /// Every trace header, with any bytes a header value may hold, extracts without panicking.
    #[test]
    fn extraction_never_panics(
        name in proptest::sample::select(&[
            "b3", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled",
            "x-b3-flags", "traceparent", "tracestate", "baggage", "x-ot-span-context",
            "ot-tracer-traceid", "ot-tracer-spanid", "ot-tracer-sampled", "uber-trace-id",
            "uberctx-user", "ot-baggage-user",
        ][..]),
        bytes in proptest::collection::vec(
            prop_oneof![Just(b'\t'), 0x20u8..=0x7e, 0x80u8..=0xff],
            0..200,
        ),
        with_traceparent in any::<bool>(),
    ) {
        let mut headers = HeaderMap::new();
        if with_traceparent {
            headers.insert(
                "traceparent",
                HeaderValue::from_static("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            );
        }
        if let Ok(value) = HeaderValue::from_bytes(&bytes) {
            headers.append(HeaderName::from_static(name), value);
        }
        let _ = extract(&headers, &Propagation::default());
    }
}
