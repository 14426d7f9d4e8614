//! The in-memory ratings of v1 and the fault modes.
//!
//! Every product starts with upstream's two ratings; a `POST` replaces a product's ratings with
//! a JSON value until the process ends. Reads vastly outnumber writes, hence a read-write lock;
//! no lock is ever held across an `.await`.
//!
//! The store is bounded, so posting cannot grow the process without limit: at most
//! [`MAX_PRODUCTS`] products with posted ratings, each with at most [`MAX_REVIEWERS`] reviewers,
//! names of at most [`MAX_NAME`] bytes and values of at most [`MAX_VALUE`] bytes of JSON (a
//! posted value that is not an object counts as one value). Upstream's demo data (two reviewers,
//! small integers) is far inside every limit.
//!
//! Ratings are only ever read to be written into an answer, so the store keeps each product's
//! ratings as the JSON text they are answered with, and the defaults as a constant. Building the
//! defaults as a `serde_json::Value` for every `GET` and serializing it with the id had cost
//! ratings 7,800 instructions per request (36,500 before, 28,700 after; writing the answer from
//! the text now costs 1,200; callgrind, `GET /ratings/0` alone; docs/performance.md).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use serde_json::Value;

use crate::error::RatingsError;

/// Products whose ratings may be posted (re-posting one already kept always works).
pub const MAX_PRODUCTS: usize = 1000;
/// Reviewers in one product's ratings.
pub const MAX_REVIEWERS: usize = 32;
/// Bytes in a reviewer's name.
pub const MAX_NAME: usize = 128;
/// Bytes of one rating value, written as JSON.
pub const MAX_VALUE: usize = 256;

/// Ratings by product key (see [`crate::product_id::ProductId::key`]), as compact JSON text.
#[derive(Debug, Default)]
pub struct RatingsStore {
    posted: RwLock<HashMap<String, Box<str>>>,
}

/// What every product is rated before anything was posted for it, as compact JSON.
pub const DEFAULT_RATINGS: &str = r#"{"Reviewer1":5,"Reviewer2":4}"#;

impl RatingsStore {
    /// The ratings of product `key`, as compact JSON text. `key` is only made when something
    /// was posted: until then every product has the defaults.
    pub fn get(&self, key: impl FnOnce() -> String) -> Cow<'static, str> {
        let posted = self.posted.read().unwrap_or_else(PoisonError::into_inner);
        if posted.is_empty() {
            return Cow::Borrowed(DEFAULT_RATINGS);
        }
        posted
            .get(&key())
            .map_or(Cow::Borrowed(DEFAULT_RATINGS), |text| {
                Cow::Owned(text.to_string())
            })
    }

    /// Replace the ratings of product `key`, within the store's limits, and give back the text
    /// now kept.
    pub fn put(&self, key: String, ratings: &Value) -> Result<Box<str>, RatingsError> {
        check(ratings)?;
        let text: Box<str> = ratings.to_string().into();
        let mut posted = self.posted.write().unwrap_or_else(PoisonError::into_inner);
        if posted.len() >= MAX_PRODUCTS && !posted.contains_key(&key) {
            return Err(RatingsError::StoreFull);
        }
        posted.insert(key, text.clone());
        Ok(text)
    }
}

/// Whether `ratings` fits the per-product limits.
pub fn check(ratings: &Value) -> Result<(), RatingsError> {
    let value_fits = |v: &Value| serde_json::to_string(v).is_ok_and(|text| text.len() <= MAX_VALUE);
    let fits = match ratings {
        Value::Object(reviewers) => {
            reviewers.len() <= MAX_REVIEWERS
                && reviewers
                    .iter()
                    .all(|(name, value)| name.len() <= MAX_NAME && value_fits(value))
        }
        other => value_fits(other),
    };
    if fits {
        Ok(())
    } else {
        Err(RatingsError::RatingsTooLarge)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    /// The ratings of `key`, read back as JSON.
    fn read(s: &RatingsStore, key: &str) -> Value {
        serde_json::from_str(&s.get(|| key.to_owned())).unwrap()
    }

    #[test]
    fn unposted_products_have_the_defaults() {
        let s = RatingsStore::default();
        assert_eq!(read(&s, "0"), json!({"Reviewer1": 5, "Reviewer2": 4}));
        assert_eq!(&*s.put("3".into(), &json!(7)).unwrap(), "7");
        assert_eq!(read(&s, "3"), json!(7));
        assert_eq!(read(&s, "0"), json!({"Reviewer1": 5, "Reviewer2": 4}));
        assert_eq!(s.get(|| "0".to_owned()), DEFAULT_RATINGS);
    }

    #[test]
    fn the_store_is_bounded() {
        let s = RatingsStore::default();
        for i in 0..MAX_PRODUCTS {
            s.put(i.to_string(), &json!({"Reviewer1": 5})).unwrap();
        }
        assert!(matches!(
            s.put("new".into(), &json!({})),
            Err(RatingsError::StoreFull)
        ));
        // A product already kept can still be changed.
        s.put("0".into(), &json!({"Reviewer1": 1})).unwrap();
        assert_eq!(read(&s, "0"), json!({"Reviewer1": 1}));
    }

    #[test]
    fn per_product_limits() {
        let name = "n".repeat(MAX_NAME);
        assert!(check(&json!({ name.clone(): 5 })).is_ok());
        assert!(check(&json!({ format!("{name}x"): 5 })).is_err());
        let reviewers: serde_json::Map<String, Value> = (0..=MAX_REVIEWERS)
            .map(|i| (format!("Reviewer{i}"), json!(i)))
            .collect();
        assert!(check(&Value::Object(reviewers)).is_err());
        let long = "v".repeat(MAX_VALUE);
        assert!(check(&json!({ "Reviewer1": long })).is_err());
        assert!(check(&json!(long)).is_err());
        assert!(check(&json!({"Reviewer1": 5, "Reviewer2": 4})).is_ok());
        assert!(check(&json!(7)).is_ok());
    }

    #[test]
    fn concurrent_writers_all_land() {
        let s = Arc::new(RatingsStore::default());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for i in 0..100 {
                        s.put(format!("{t}-{i}"), &json!(i)).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        for t in 0..8 {
            for i in 0..100 {
                assert_eq!(read(&s, &format!("{t}-{i}")), json!(i));
            }
        }
    }
}
