//! Property tests over what details parses from outside: the product id in the path, and a
//! Google Books answer. Arbitrary input never panics; integers read back as written.
//! `PROPTEST_CASES=100000 cargo test -p details --test fuzz` runs longer.

use details::google::map_volume;
use details::id::{from_path, ruby_integer};
use proptest::prelude::*;

proptest! {
    #[test]
    fn any_path_gives_an_id_or_none(path in "/details/[ -~]{0,60}", text in "\\PC{0,40}") {
        let _ = from_path(&path);
        let _ = ruby_integer(&text);
    }

    #[test]
    fn integers_read_back(n in any::<i64>()) {
        prop_assert_eq!(from_path(&format!("/details/{n}")), Some(i128::from(n)));
    }

    #[test]
    fn any_json_answer_maps_or_is_an_error(body in "\\PC{0,200}") {
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(&body) {
            let _ = map_volume(0, &value);
        }
    }
}
