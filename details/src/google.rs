//! External mode: the book comes from Google Books' volume API.
//!
//! details v2 (`ENABLE_EXTERNAL_BOOK_SERVICE=true`) looks up one fixed ISBN, the Dover edition of
//! *The Comedy of Errors*, and maps the first volume onto the same keys the built-in book has.
//! istio.io's egress tasks use this call to show TLS origination (`DO_NOT_ENCRYPT=true` sends it
//! as plain HTTP to port 80 for the sidecar to encrypt), so it carries the forwarded headers of
//! the request being served like every other outbound call.

use std::time::Duration;

use bookinfo_core::client::{BodyError, CallError, Client, MAX_RESPONSE_BODY, read_body};
use bookinfo_core::headers::Forwarded;
use serde_json::Value;

use crate::book::Book;
use crate::config::GoogleBooks;
use crate::error::DetailsError;

/// The ISBN upstream looks up, whatever product id was asked for.
pub const ISBN: &str = "0486424618";

/// Destination label of the Google Books call in metrics.
const DESTINATION: &str = "googleapis";

/// Fetch the volume and map it onto a [`Book`] with the requested `id`.
pub async fn fetch_book(
    client: &Client,
    google: &GoogleBooks,
    timeout: Duration,
    id: i128,
    forwarded: &Forwarded,
) -> Result<Book, DetailsError> {
    let url = format!("{}/books/v1/volumes?q=isbn:{ISBN}", google.base);
    let unreachable = |err: CallError| DetailsError::External(describe(&err, google, timeout));
    let response = client
        .call(DESTINATION, &url, forwarded, timeout, 0)
        .await
        .map_err(unreachable)?;
    let status = response.status();
    if !status.is_success() {
        return Err(DetailsError::External(format!(
            "Google Books at {} answered {status}",
            google.authority
        )));
    }
    let body = read_body(response, MAX_RESPONSE_BODY)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge { limit } => DetailsError::External(format!(
                "Google Books at {} answered with more than {limit} bytes",
                google.authority
            )),
            BodyError::Read(e) => DetailsError::External(format!(
                "reading the answer of {} failed: {}",
                google.authority,
                bookinfo_core::client::error_chain(&e)
            )),
            BodyError::Timeout { .. } => DetailsError::External(timed_out(google, timeout)),
        })?;
    let volumes: Value = serde_json::from_slice(&body).map_err(|e| {
        DetailsError::External(format!("Google Books answered with invalid JSON: {e}"))
    })?;
    map_volume(id, &volumes).map_err(DetailsError::External)
}

/// Upstream's wording for the common case, "Failed to open TCP connection to host:port (cause)",
/// so log searches written for the original keep matching.
fn describe(err: &CallError, google: &GoogleBooks, timeout: Duration) -> String {
    match err {
        CallError::Timeout { .. } => timed_out(google, timeout),
        CallError::Transport { source, .. } if source.is_connect() => {
            format!(
                "Failed to open TCP connection to {} ({})",
                google.authority,
                root_cause(source)
            )
        }
        CallError::Transport { source, .. } => format!(
            "Request to {} failed: {}",
            google.authority,
            bookinfo_core::client::error_chain(source)
        ),
        CallError::BadUrl { url } => format!("Request to {url} failed: not an absolute URL"),
    }
}

/// Upstream's wording for a call that gave up waiting, for the head or the body alike.
fn timed_out(google: &GoogleBooks, timeout: Duration) -> String {
    format!(
        "Timed out after {} s waiting for {}",
        timeout.as_secs_f64(),
        google.authority
    )
}

/// The innermost error, e.g. `Connection refused (os error 111)` or the resolver's message.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Map a volume search result onto a book, as upstream does: the first item's `volumeInfo`,
/// first author, `publishedDate` as the year, `pageCount`, `publisher`, `printType` `BOOK` as
/// `paperback`, language `en` as `English`, and the first identifier of each ISBN type. Fields
/// Google leaves out become `null`; a result without a volume, authors or ISBNs is an error.
pub fn map_volume(id: i128, volumes: &Value) -> Result<Book, String> {
    let info = volumes
        .get("items")
        .and_then(|items| items.get(0))
        .and_then(|item| item.get("volumeInfo"))
        .filter(|info| info.is_object())
        .ok_or_else(|| format!("Google Books returned no volume for ISBN {ISBN}"))?;
    let authors = info
        .get("authors")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("Google Books volume for ISBN {ISBN} lists no authors"))?;
    let field = |name: &str| info.get(name).cloned().unwrap_or(Value::Null);
    let kind = if info.get("printType").and_then(Value::as_str) == Some("BOOK") {
        "paperback"
    } else {
        "unknown"
    };
    let language = if info.get("language").and_then(Value::as_str) == Some("en") {
        "English"
    } else {
        "unknown"
    };
    Ok(Book {
        id,
        author: authors.first().cloned().unwrap_or(Value::Null),
        year: field("publishedDate"),
        kind,
        pages: field("pageCount"),
        publisher: field("publisher"),
        language,
        isbn_10: isbn(info, "ISBN_10")?,
        isbn_13: isbn(info, "ISBN_13")?,
    })
}

/// The identifier of the first `industryIdentifiers` entry of `kind`.
fn isbn(info: &Value, kind: &str) -> Result<Value, String> {
    info.get("industryIdentifiers")
        .and_then(Value::as_array)
        .and_then(|ids| {
            ids.iter()
                .find(|entry| entry.get("type").and_then(Value::as_str) == Some(kind))
        })
        .map(|entry| entry.get("identifier").cloned().unwrap_or(Value::Null))
        .ok_or_else(|| format!("Google Books volume for ISBN {ISBN} has no {kind} identifier"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn volume(info: Value) -> Value {
        json!({ "kind": "books#volumes", "totalItems": 1, "items": [{ "volumeInfo": info }] })
    }

    #[test]
    fn other_print_types_and_languages_are_unknown() {
        let book = map_volume(
            2,
            &volume(json!({
                "authors": ["A", "B"],
                "printType": "MAGAZINE",
                "language": "fr",
                "industryIdentifiers": [
                    { "type": "ISBN_13", "identifier": "13" },
                    { "type": "ISBN_10", "identifier": "10a" },
                    { "type": "ISBN_10", "identifier": "10b" }
                ]
            })),
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&book).unwrap(),
            r#"{"id":2,"author":"A","year":null,"type":"unknown","pages":null,"publisher":null,"language":"unknown","ISBN-10":"10a","ISBN-13":"13"}"#
        );
    }

    #[test]
    fn missing_volume_authors_or_isbns_are_errors() {
        let ids = json!([
            { "type": "ISBN_10", "identifier": "1" },
            { "type": "ISBN_13", "identifier": "2" }
        ]);
        for (case, doc) in [
            (
                "no items",
                json!({ "kind": "books#volumes", "totalItems": 0 }),
            ),
            ("empty items", json!({ "items": [] })),
            (
                "google error",
                json!({ "error": { "code": 429, "message": "quota" } }),
            ),
            ("no authors", volume(json!({ "industryIdentifiers": ids }))),
            (
                "no isbn 13",
                volume(json!({
                    "authors": ["A"],
                    "industryIdentifiers": [{ "type": "ISBN_10", "identifier": "1" }]
                })),
            ),
        ] {
            assert!(map_volume(0, &doc).is_err(), "{case}");
        }
    }
}
