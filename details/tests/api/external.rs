//! External mode against a fake Google Books server (docs/compatibility.md, items 57, 58).

use std::time::{Duration, Instant};

use bookinfo_testing::{FakeServer, Reply};
use http::StatusCode;

use crate::helpers::{JSON, client, fetch, spawn_app};

/// A realistic volume search answer for ISBN 0486424618, as Google Books serves it.
const VOLUME: &str = include_str!("fixtures/google_books_isbn_0486424618.json");

async fn google(reply: Reply) -> FakeServer {
    FakeServer::always(reply).await
}

fn external(google_url: &str) -> [(&str, &str); 2] {
    [
        ("ENABLE_EXTERNAL_BOOK_SERVICE", "true"),
        ("GOOGLE_BOOKS_URL", google_url),
    ]
}

#[tokio::test]
async fn maps_the_google_volume_and_forwards_headers() {
    // 58
    let fake = google(Reply::json(VOLUME)).await;
    let base = fake.base_url();
    let app = spawn_app(&external(&base)).await;
    let (status, ct, body) = fetch(
        client()
            .get(app.url("/details/0"))
            .header("x-request-id", "r1")
            .header("end-user", "jason")
            .header("cookie", "c=1"),
    )
    .await;
    assert_eq!((status, ct.as_str()), (200, JSON), "{body}");
    assert_eq!(
        body,
        r#"{"id":0,"author":"William Shakespeare","year":"2002-01-01","type":"paperback","pages":80,"publisher":"Courier Corporation","language":"English","ISBN-10":"0486424618","ISBN-13":"9780486424613"}"#
    );
    let seen = fake.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, http::Method::GET);
    assert_eq!(seen[0].uri, "/books/v1/volumes?q=isbn:0486424618");
    assert_eq!(seen[0].header("x-request-id"), Some("r1"));
    assert_eq!(seen[0].header("end-user"), Some("jason"));
    assert_eq!(seen[0].header("cookie"), Some("c=1"));
}

#[tokio::test]
async fn the_requested_id_is_kept() {
    let fake = google(Reply::json(VOLUME)).await;
    let app = spawn_app(&external(&fake.base_url())).await;
    let (status, _, body) = fetch(client().get(app.url("/details/abc/42"))).await;
    assert_eq!(status, 200);
    assert!(
        body.starts_with(r#"{"id":42,"author":"William Shakespeare","#),
        "{body}"
    );
    let (status, _, body) = fetch(client().get(app.url("/details/x"))).await;
    assert_eq!(
        (status, body.as_str()),
        (400, r#"{"error":"please provide numeric product id"}"#)
    );
    assert_eq!(fake.requests().len(), 1, "a bad id must not reach Google");
}

#[tokio::test]
async fn unreachable_google_is_400_naming_host_and_port() {
    // 57, with a closed local port standing in for "no network".
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let app = spawn_app(&external(&format!("http://127.0.0.1:{port}"))).await;
    let (status, ct, body) = fetch(client().get(app.url("/details/0"))).await;
    assert_eq!((status, ct.as_str()), (400, JSON));
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    let prefix = format!("Failed to open TCP connection to 127.0.0.1:{port} (");
    assert!(
        error["error"].as_str().unwrap().starts_with(&prefix),
        "{body}"
    );
}

#[tokio::test]
async fn a_silent_google_times_out_after_five_seconds() {
    let fake = google(Reply::hang()).await;
    let app = spawn_app(&external(&fake.base_url())).await;
    let started = Instant::now();
    let (status, _, body) = fetch(client().get(app.url("/details/0"))).await;
    let elapsed = started.elapsed();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Timed out after 5 s"), "{body}");
    assert!(
        elapsed >= Duration::from_millis(4900) && elapsed < Duration::from_millis(6500),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn error_statuses_and_unexpected_documents_are_400() {
    for (reply, expected) in [
        (
            Reply::status_json(
                StatusCode::FORBIDDEN,
                r#"{"error":{"code":403,"message":"quota"}}"#,
            ),
            "answered 403 Forbidden",
        ),
        (Reply::json("<html>"), "invalid JSON"),
        (
            Reply::json(r#"{"kind":"books#volumes","totalItems":0}"#),
            "no volume for ISBN 0486424618",
        ),
    ] {
        let fake = google(reply).await;
        let app = spawn_app(&external(&fake.base_url())).await;
        let (status, ct, body) = fetch(client().get(app.url("/details/0"))).await;
        assert_eq!((status, ct.as_str()), (400, JSON), "{body}");
        assert!(body.contains(expected), "{body}");
    }
}

/// A Google Books answer far bigger than any real one is refused, not read whole.
#[tokio::test]
async fn an_oversized_google_answer_is_an_error() {
    // The real volume, padded to 4 MiB: valid JSON that would map to a book.
    let padded = VOLUME.replacen('{', &format!(r#"{{"pad": "{}", "#, "x".repeat(4 << 20)), 1);
    let fake = google(Reply::json(padded)).await;
    let app = spawn_app(&external(&fake.base_url())).await;
    let (status, ct, body) = fetch(client().get(app.url("/details/0"))).await;
    assert_eq!((status, ct.as_str()), (400, JSON), "{body}");
    assert!(
        body.contains("answered with more than 1048576 bytes"),
        "{body}"
    );
}
