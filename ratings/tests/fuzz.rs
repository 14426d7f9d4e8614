//! Property tests over what ratings parses from outside: product ids from the raw URL and
//! posted ratings JSON. Arbitrary input never panics; ids read back as the numbers written.
//! `PROPTEST_CASES=100000 cargo test -p ratings --test fuzz` runs longer.

#![allow(clippy::unwrap_used)] // Tests fail loudly on anything unexpected.

use proptest::prelude::*;
use ratings::product_id::ProductId;
use ratings::store::{self, RatingsStore};
use serde_json::Value;

/// Any JSON value, small.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,40}".prop_map(Value::from),
        "x{250,300}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-z]{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// What a ratings POST may hold: an object of reviewers (sometimes more, or longer names,
/// than the store keeps), or any other JSON value.
fn ratings_document() -> impl Strategy<Value = Value> {
    prop_oneof![
        proptest::collection::btree_map(
            prop_oneof!["Reviewer[0-9]{1,2}", "\\PC{0,20}", "n{120,140}"],
            json(),
            0..36,
        )
        .prop_map(|m| Value::Object(m.into_iter().collect())),
        json(),
    ]
}

proptest! {
    #[test]
    fn any_url_gives_an_id_or_none(url in "/ratings/[ -~]{0,60}|/ratings/[0-9]{250,400}") {
        if let Some(id) = ProductId::from_raw_url(&url) {
            let n = id.number();
            prop_assert!(n.as_f64().is_some_and(f64::is_finite), "{}", n);
        }
    }

    #[test]
    fn integer_ids_read_back(n in -(1i64 << 53)..=(1i64 << 53), query in "(\\?[a-z=&]{0,10})?") {
        let id = ProductId::from_raw_url(&format!("/ratings/{n}{query}")).unwrap();
        prop_assert_eq!(id.number().as_i64(), Some(n));
        prop_assert_eq!(id.key(), n.to_string());
    }

    /// Posted ratings: any JSON is either kept exactly or refused with the limits' error, and
    /// any bytes at all are either JSON or refused.
    #[test]
    fn posted_ratings_are_kept_exactly_or_refused(value in ratings_document(), junk in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = serde_json::from_slice::<Value>(&junk);
        let s = RatingsStore::default();
        // Compared as the text answered: what reading it back gives also depends on the
        // parser's float precision.
        match s.put("1".into(), &value) {
            Ok(kept) => {
                prop_assert!(store::check(&value).is_ok());
                prop_assert_eq!(&*kept, value.to_string());
                prop_assert_eq!(s.get(|| "1".to_owned()), value.to_string());
            }
            Err(_) => prop_assert_eq!(s.get(|| "1".to_owned()), store::DEFAULT_RATINGS),
        }
    }
}
