//! The in-memory ratings of v1 and the fault modes.
//!
//! Every product starts with upstream's two ratings; a `POST` replaces a product's ratings with
//! any JSON value until the process ends. Reads vastly outnumber writes, hence a read-write lock;
//! no lock is ever held across an `.await`.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use serde_json::{Value, json};

/// Ratings by product key (see [`crate::product_id::ProductId::key`]).
#[derive(Debug, Default)]
pub struct RatingsStore {
    posted: RwLock<HashMap<String, Value>>,
}

/// What every product is rated before anything was posted for it.
pub fn default_ratings() -> Value {
    json!({ "Reviewer1": 5, "Reviewer2": 4 })
}

impl RatingsStore {
    /// The ratings of product `key`.
    pub fn get(&self, key: &str) -> Value {
        let posted = self.posted.read().unwrap_or_else(PoisonError::into_inner);
        posted.get(key).cloned().unwrap_or_else(default_ratings)
    }

    /// Replace the ratings of product `key`.
    pub fn put(&self, key: String, ratings: Value) {
        let mut posted = self.posted.write().unwrap_or_else(PoisonError::into_inner);
        posted.insert(key, ratings);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn unposted_products_have_the_defaults() {
        let s = RatingsStore::default();
        assert_eq!(s.get("0"), json!({"Reviewer1": 5, "Reviewer2": 4}));
        s.put("3".into(), json!(7));
        assert_eq!(s.get("3"), json!(7));
        assert_eq!(s.get("0"), json!({"Reviewer1": 5, "Reviewer2": 4}));
    }

    #[test]
    fn concurrent_writers_all_land() {
        let s = Arc::new(RatingsStore::default());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for i in 0..100 {
                        s.put(format!("{t}-{i}"), json!(i));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        for t in 0..8 {
            for i in 0..100 {
                assert_eq!(s.get(&format!("{t}-{i}")), json!(i));
            }
        }
    }
}
