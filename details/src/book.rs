//! The book a details answer describes, in upstream's key order.
//!
//! productpage and istio.io's tasks read these keys by name, and the acceptance tests compare the
//! body byte for byte, so the struct's field order *is* the wire order. Values that come from
//! Google Books are kept as the JSON values Google sent (`year` is its `publishedDate` string).

use std::fmt::Write as _;
use std::sync::LazyLock;

use serde::Serialize;
use serde_json::{Value, json};

/// One book, serialized as upstream's compact JSON object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Book {
    /// The requested id (any integer gets the same book; istio.io's rate-limit task asks for 1–3).
    pub id: i128,
    pub author: Value,
    pub year: Value,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub pages: Value,
    pub publisher: Value,
    pub language: &'static str,
    #[serde(rename = "ISBN-10")]
    pub isbn_10: Value,
    #[serde(rename = "ISBN-13")]
    pub isbn_13: Value,
}

impl Book {
    /// The hard-coded paperback every id maps to when Google Books is not used.
    pub fn builtin(id: i128) -> Self {
        Self {
            id,
            author: json!("William Shakespeare"),
            year: json!(1595),
            kind: "paperback",
            pages: json!(200),
            publisher: json!("PublisherA"),
            language: "English",
            isbn_10: json!("1234567890"),
            isbn_13: json!("123-1234567890"),
        }
    }

    /// The JSON answer [`Book::builtin`] serializes to. Only the id changes from one request to
    /// the next, so the fields after it are serialized once and copied behind the id. Building
    /// and serializing the book per request had cost details 4,100 instructions per request
    /// (33,500 before, 29,400 after, of which this function 360; callgrind, `GET /details/0`
    /// alone; docs/performance.md).
    pub fn builtin_json(id: i128) -> String {
        const OPEN: &str = r#"{"id":"#;
        static AFTER_ID: LazyLock<String> = LazyLock::new(|| {
            let whole =
                serde_json::to_string(&Book::builtin(0)).expect("a book of constants serializes");
            whole
                .strip_prefix(OPEN)
                .and_then(|rest| rest.strip_prefix('0'))
                .expect("the id is the first field")
                .to_owned()
        });
        let mut text = String::with_capacity(OPEN.len() + 40 + AFTER_ID.len());
        text.push_str(OPEN);
        // Writing into a `String` cannot fail.
        let _ = write!(text, "{id}");
        text.push_str(&AFTER_ID);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_book_serializes_in_upstream_order() {
        assert_eq!(
            serde_json::to_string(&Book::builtin(0)).unwrap(),
            r#"{"id":0,"author":"William Shakespeare","year":1595,"type":"paperback","pages":200,"publisher":"PublisherA","language":"English","ISBN-10":"1234567890","ISBN-13":"123-1234567890"}"#
        );
    }

    #[test]
    fn the_builtin_answer_is_the_builtin_book_serialized() {
        for id in [0, 1, 7, -3, 1 << 70, -(1_i128 << 100), i128::MAX, i128::MIN] {
            assert_eq!(
                Book::builtin_json(id),
                serde_json::to_string(&Book::builtin(id)).unwrap(),
                "{id}"
            );
        }
    }

    #[test]
    fn wide_ids_serialize_as_plain_integers() {
        let text = serde_json::to_string(&Book::builtin(-(1_i128 << 100))).unwrap();
        assert!(
            text.starts_with(r#"{"id":-1267650600228229401496703205376,"#),
            "{text}"
        );
    }
}
