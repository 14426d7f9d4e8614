//! The book a details answer describes, in upstream's key order.
//!
//! productpage and istio.io's tasks read these keys by name, and the acceptance tests compare the
//! body byte for byte, so the struct's field order *is* the wire order. Values that come from
//! Google Books are kept as the JSON values Google sent (`year` is its `publishedDate` string).

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
    fn wide_ids_serialize_as_plain_integers() {
        let text = serde_json::to_string(&Book::builtin(-(1_i128 << 100))).unwrap();
        assert!(
            text.starts_with(r#"{"id":-1267650600228229401496703205376,"#),
            "{text}"
        );
    }
}
