//! Property tests over what reviews parses from outside: the ratings answer. Arbitrary bytes
//! never panic; an answer written from two star counts reads back as them.
//! `PROPTEST_CASES=100000 cargo test -p reviews --test fuzz` runs longer.

use proptest::prelude::*;
use reviews::ratings::read_ratings;

proptest! {
    #[test]
    fn any_answer_is_read_or_refused(body in proptest::collection::vec(any::<u8>(), 0..200), text in "\\PC{0,100}") {
        let _ = read_ratings(&body);
        let _ = read_ratings(text.as_bytes());
    }

    #[test]
    fn star_counts_read_back(a in any::<i32>(), b in any::<i32>(), id in any::<i64>()) {
        let body = format!(r#"{{"id":{id},"ratings":{{"Reviewer1":{a},"Reviewer2":{b}}}}}"#);
        prop_assert_eq!(read_ratings(body.as_bytes()), Ok([Some(a), Some(b)]));
    }
}
