//! Header pass-through onto the Google Books call: exactly the shared list arrives.

use bookinfo_testing::{FakeServer, Reply, probe};

use crate::helpers::{client, fetch, spawn_app};

#[tokio::test]
async fn exactly_the_listed_headers_reach_google() {
    let fake = FakeServer::always(Reply::json(include_str!(
        "fixtures/google_books_isbn_0486424618.json"
    )))
    .await;
    let base = fake.base_url();
    let app = spawn_app(&[
        ("ENABLE_EXTERNAL_BOOK_SERVICE", "true"),
        ("GOOGLE_BOOKS_URL", &base),
    ])
    .await;
    let mut req = client().get(app.url("/details/0"));
    for (name, value) in probe::sent() {
        req = req.header(name, value);
    }
    let (status, _, body) = fetch(req).await;
    assert_eq!(status, 200, "{body}");

    let seen = &fake.requests()[0];
    // The list, plus what HTTP itself needs on the new request.
    probe::assert_forwarded_exactly(seen, &["host", "accept"]);
}
