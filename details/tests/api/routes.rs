//! Built-in mode: routes, ids, methods and bodies (docs/compatibility.md, items 51–56, 59).

use crate::helpers::{JSON, builtin_book, client, fetch, spawn_app};
use reqwest::Method;

#[tokio::test]
async fn details_0_is_the_builtin_book() {
    // 51
    let app = spawn_app(&[]).await;
    let (status, ct, body) = fetch(client().get(app.url("/details/0"))).await;
    assert_eq!((status, ct.as_str()), (200, JSON));
    assert_eq!(
        body,
        r#"{"id":0,"author":"William Shakespeare","year":1595,"type":"paperback","pages":200,"publisher":"PublisherA","language":"English","ISBN-10":"1234567890","ISBN-13":"123-1234567890"}"#
    );
}

#[tokio::test]
async fn every_integer_id_gets_the_same_book() {
    // 52, 54
    let app = spawn_app(&[]).await;
    for (path, id) in [
        ("/details/1", "1"),
        ("/details/2", "2"),
        ("/details/3", "3"),
        ("/details/0/", "0"),
        ("/details/abc/5", "5"),
        ("/details/-3", "-3"),
        ("/details/%31", "1"),
        ("/details/0x10", "16"),
        ("/details/010", "8"),
        ("/details/1_000", "1000"),
        ("/details/7?x=1", "7"),
    ] {
        let (status, ct, body) = fetch(client().get(app.url(path))).await;
        assert_eq!((status, ct.as_str()), (200, JSON), "{path}");
        assert_eq!(body, builtin_book(id), "{path}");
    }
}

#[tokio::test]
async fn non_numeric_ids_are_400() {
    // 53
    let app = spawn_app(&[]).await;
    for path in [
        "/details/abc",
        "/details/1.5",
        "/details",
        "/details/",
        "/details/08",
        "/details/99999999999999999999999999999999999999999",
    ] {
        let (status, ct, body) = fetch(client().get(app.url(path))).await;
        assert_eq!((status, ct.as_str()), (400, JSON), "{path}");
        assert_eq!(
            body, r#"{"error":"please provide numeric product id"}"#,
            "{path}"
        );
    }
}

#[tokio::test]
async fn health_answers_under_its_whole_prefix() {
    // 55
    let app = spawn_app(&[]).await;
    for path in ["/health", "/health/", "/health/anything"] {
        let (status, ct, body) = fetch(client().get(app.url(path))).await;
        assert_eq!((status, ct.as_str()), (200, JSON), "{path}");
        assert_eq!(body, r#"{"status":"Details is healthy"}"#, "{path}");
    }
}

#[tokio::test]
async fn other_paths_are_404() {
    // 56 (status; the body is JSON rather than WEBrick's HTML page)
    let app = spawn_app(&[]).await;
    for path in ["/detailsfoo", "/", "/healthz", "/reviews/0"] {
        let (status, _, _) = fetch(client().get(app.url(path))).await;
        assert_eq!(status, 404, "{path}");
    }
}

#[tokio::test]
async fn methods_follow_the_webrick_mount() {
    // 56
    let app = spawn_app(&[]).await;
    for method in [Method::POST, Method::PUT] {
        let (status, ct, body) = fetch(
            client()
                .request(method.clone(), app.url("/details/0"))
                .body("ignored"),
        )
        .await;
        assert_eq!((status, ct.as_str()), (200, JSON), "{method}");
        assert_eq!(body, builtin_book("0"), "{method}");
    }
    let head = client().head(app.url("/details/0")).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.text().await.unwrap(), "");

    let options = client()
        .request(Method::OPTIONS, app.url("/details/0"))
        .send()
        .await
        .unwrap();
    assert_eq!(options.status(), 200);
    assert_eq!(options.headers()["allow"], "GET,HEAD,OPTIONS,POST,PUT");

    for method in [Method::DELETE, Method::PATCH] {
        let (status, _, _) = fetch(client().request(method.clone(), app.url("/details/0"))).await;
        assert_eq!(status, 405, "{method}");
    }
}

#[tokio::test]
async fn enable_external_must_be_exactly_true() {
    // 59: these values leave the built-in book in place (no network is touched).
    for value in ["TRUE", "1", "yes"] {
        let app = spawn_app(&[
            ("ENABLE_EXTERNAL_BOOK_SERVICE", value),
            // If external mode were wrongly enabled, this dead address would make it fail.
            ("GOOGLE_BOOKS_URL", "http://127.0.0.1:9"),
        ])
        .await;
        let (status, _, body) = fetch(client().get(app.url("/details/0"))).await;
        assert_eq!((status, body), (200, builtin_book("0")), "{value}");
    }
}

/// The connection limits come from the environment (`SERVER_*`).
#[tokio::test]
async fn slow_clients_are_cut_off() {
    use bookinfo_testing::raw;
    let app = spawn_app(raw::SHORT_LIMITS).await;
    raw::assert_slow_clients_are_cut_off(app.addr, "/details/0").await;
}
