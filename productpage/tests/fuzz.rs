//! Property tests over what productpage parses from outside: session cookie values, redirect
//! targets from `Referer`, `Origin`, product ids and login forms. Arbitrary input never panics;
//! what is written parses back to the same thing.
//! `PROPTEST_CASES=100000 cargo test -p productpage --test fuzz` runs longer.

#![allow(clippy::unwrap_used)] // Tests fail loudly on anything unexpected.

use axum::http::{HeaderMap, HeaderValue};
use productpage::backend::is_product_id;
use productpage::session::{MAX_USER_LEN, Session, is_cross_site, redirect_target};
use proptest::prelude::*;

proptest! {
    #[test]
    fn sessions_round_trip(
        issued_ms in any::<u64>(),
        id in any::<u128>(),
        user in "\\PC{1,64}",
    ) {
        prop_assume!(user.len() <= MAX_USER_LEN);
        let session = Session { issued_ms, id, user };
        let encoded = session.encode();
        // Cookie-safe: no separators, white space or quotes a cookie value may not hold.
        prop_assert!(encoded.bytes().all(|b| b.is_ascii_graphic() && !b";,\"\\".contains(&b)));
        prop_assert_eq!(Session::decode(&encoded), Some(session));
    }

    #[test]
    fn any_cookie_value_decodes_or_is_refused(value in "[ -~]{0,80}|[0-9]{1,20}\\.[0-9a-f]{32}\\.[ -~]{0,20}") {
        if let Some(session) = Session::decode(&value) {
            prop_assert!(!session.user.is_empty() && session.user.len() <= MAX_USER_LEN);
            prop_assert_eq!(Session::decode(&session.encode()), Some(session));
        }
    }

    /// Whatever the `Referer`, the target is a path on this site, and stable.
    #[test]
    fn redirects_are_always_local(
        referer in prop_oneof![
            "[ -~]{0,60}",
            "(https?:)?//[a-z.@:0-9\\\\]{0,20}/[ -~]{0,20}",
            "/[ -~]{0,40}",
        ],
        host in prop_oneof![Just("bookinfo:9080".to_owned()), "[a-z0-9.:@]{1,12}"],
    ) {
        let target = redirect_target(Some(&referer), Some(&host));
        prop_assert!(target.starts_with('/'), "{}", target);
        prop_assert!(!target.starts_with("//"), "{}", target);
        prop_assert!(!target.contains('\\'), "{}", target);
        prop_assert!(HeaderValue::from_str(&target).is_ok());
        prop_assert_eq!(redirect_target(Some(&target), Some(&host)), target);
    }

    #[test]
    fn origin_checks_never_panic(origin in "[ -~]{0,60}", site in "[ -~]{0,20}") {
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&origin) {
            headers.insert("origin", v);
        }
        if let Ok(v) = HeaderValue::from_str(&site) {
            headers.insert("sec-fetch-site", v);
        }
        let _ = is_cross_site(&headers, Some("bookinfo:9080"));
    }

    #[test]
    fn product_ids_are_exactly_the_integers(id in "\\PC{0,24}", n in any::<i64>()) {
        prop_assert!(is_product_id(&n.to_string()));
        if is_product_id(&id) {
            prop_assert!(id.parse::<i128>().is_ok(), "{}", id);
            prop_assert!(id.bytes().all(|b| b.is_ascii_digit() || b == b'-'));
        }
    }

    /// Login forms: any body parses or is refused; written pairs read back the same.
    #[test]
    fn login_forms_round_trip(
        pairs in proptest::collection::vec(("\\PC{0,12}", "\\PC{0,24}"), 0..5),
        junk in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let _ = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&junk);
        let body = serde_urlencoded::to_string(&pairs).unwrap();
        let back: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
        prop_assert_eq!(back, pairs);
    }
}
