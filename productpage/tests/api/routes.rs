//! Routes, status codes and content types (docs/compatibility.md, items 1–8, 11).

use crate::helpers::{Backends, spawn_with};

/// 1: health is plain HTML text, not JSON.
#[tokio::test]
async fn health_is_html_text() {
    let backends = Backends::healthy().await;
    let app = spawn_with(&backends, &[]).await;
    let resp = app.get("/health").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(resp.text().await.unwrap(), "Product page is healthy");
}

/// 2: the index page, at both paths, with the service table and the two links.
#[tokio::test]
async fn index_page_lists_services_and_links() {
    let app = crate::helpers::spawn_app(Vec::new()).await;
    for path in ["/", "/index.html"] {
        let resp = app.get(path).await;
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
        let body = resp.text().await.unwrap();
        for needle in [
            "Hello! This is a simple bookstore application consisting of three services as shown below",
            "Click on one of the links below to auto generate a request to the backend as a real user or a tester",
            r#"href="/productpage?u=normal">Normal user</a>"#,
            r#"href="/productpage?u=test">Test user</a>"#,
            "<td>http://details:9080</td>",
            "<td>http://reviews:9080</td>",
            "<td>http://ratings:9080</td>",
        ] {
            assert!(body.contains(needle), "{path} lacks {needle}");
        }
    }
}

/// 3: the product list, no backend call, upstream's JSON layout.
#[tokio::test]
async fn products_list_needs_no_backend() {
    let backends = Backends::healthy().await;
    let app = spawn_with(&backends, &[]).await;
    let resp = app.get("/api/v1/products").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body = resp.text().await.unwrap();
    assert!(
        body.starts_with(r#"[{"id": 0, "title": "The Comedy of Errors", "descriptionHtml": ""#),
        "{body}"
    );
    assert!(body.contains("<b>William Shakespeare's</b>"));
    let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(parsed.as_array().unwrap().len(), 1);
    assert!(backends.all().is_empty());
}

/// 4 and 5: the whole page with healthy backends; details first, then reviews, never ratings.
#[tokio::test]
async fn product_page_with_healthy_backends() {
    let backends = Backends::healthy().await;
    let app = spawn_with(&backends, &[]).await;
    let resp = app.get("/productpage").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
    let body = resp.text().await.unwrap();
    for needle in [
        "<title>Simple Bookstore App</title>",
        "The Comedy of Errors",
        "Book Details",
        "Book Reviews",
        "ISBN-10",
        "<td>1234567890</td>",
        "<td>PublisherA</td>",
        "<td>200</td>",
        "<td>paperback</td>",
        "<td>English</td>",
        "BookInfo Sample",
    ] {
        assert!(body.contains(needle), "page lacks {needle}");
    }
    assert!(body.starts_with("<!DOCTYPE html>"));
    let details = backends.details.requests();
    let reviews = backends.reviews.requests();
    assert_eq!(details.len(), 1);
    assert_eq!(details[0].uri, "/details/0");
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0].uri, "/reviews/0");
    assert!(backends.ratings.requests().is_empty());
}

/// 5: order — reviews is only called once details has answered.
#[tokio::test]
async fn details_is_called_before_reviews() {
    use bookinfo_testing::{FakeServer, Reply};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let details_done = Arc::new(AtomicBool::new(false));
    let seen_by_reviews = Arc::new(AtomicBool::new(false));
    let flag = details_done.clone();
    let details = FakeServer::start(move |_, _| {
        flag.store(true, Ordering::SeqCst);
        Reply::json(crate::helpers::DETAILS_0)
    })
    .await;
    let (flag, seen) = (details_done.clone(), seen_by_reviews.clone());
    let reviews = FakeServer::start(move |_, _| {
        seen.store(flag.load(Ordering::SeqCst), Ordering::SeqCst);
        Reply::json(crate::helpers::REVIEWS_V1)
    })
    .await;
    let backends = Backends::with(details, reviews).await;
    let app = spawn_with(&backends, &[]).await;
    app.page("/productpage").await;
    assert!(
        seen_by_reviews.load(Ordering::SeqCst),
        "reviews called before details"
    );
}

/// 6: the query string is ignored.
#[tokio::test]
async fn query_string_is_ignored() {
    let backends = Backends::healthy().await;
    let app = spawn_with(&backends, &[]).await;
    let plain = app.page("/productpage").await;
    assert_eq!(app.page("/productpage?u=normal").await, plain);
    assert_eq!(app.page("/productpage?u=test").await, plain);
    for r in backends.all() {
        assert!(!r.1.uri.contains('?'), "{}", r.1.uri);
    }
}

/// 7: wrong methods.
#[tokio::test]
async fn wrong_methods_are_405() {
    let backends = Backends::healthy().await;
    let app = spawn_with(&backends, &[]).await;
    let post = |p: &str| app.client.post(app.url(p)).send();
    assert_eq!(post("/productpage").await.unwrap().status(), 405);
    assert_eq!(app.get("/login").await.status(), 405);
    assert_eq!(post("/logout").await.unwrap().status(), 405);
    assert!(backends.all().is_empty());
}

/// 8: no trailing-slash tolerance; unknown paths 404.
#[tokio::test]
async fn unknown_paths_are_404() {
    let backends = Backends::healthy().await;
    let app = spawn_with(&backends, &[]).await;
    for path in [
        "/api/v1/products/0/",
        "/productpage/",
        "/nope",
        "/static/other.css",
    ] {
        assert_eq!(app.get(path).await.status(), 404, "{path}");
    }
    assert!(backends.all().is_empty());
}

/// 11: embedded assets with their content types.
#[tokio::test]
async fn static_assets() {
    let app = crate::helpers::spawn_app(Vec::new()).await;
    let png = app.get("/static/img/izzy.png").await;
    assert_eq!(png.status(), 200);
    assert_eq!(png.headers()["content-type"], "image/png");
    assert!(png.bytes().await.unwrap().starts_with(b"\x89PNG\r\n\x1a\n"));
    for path in ["/static/tailwind/tailwind.css", "/static/css/bookinfo.css"] {
        let css = app.get(path).await;
        assert_eq!(css.status(), 200);
        assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
        assert!(css.text().await.unwrap().contains(".text-red-500"));
    }
}

/// HTML pages carry a content security policy allowing only this site's assets, no framing,
/// `nosniff` and a referrer policy; the page's script is a file of its own, not inline.
#[tokio::test]
async fn html_pages_carry_security_headers() {
    let backends = Backends::healthy().await;
    let app = spawn_with(&backends, &[]).await;
    for path in ["/productpage", "/", "/index.html"] {
        let resp = app.get(path).await;
        let h = resp.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert_eq!(h["referrer-policy"], "same-origin", "{path}");
        let body = resp.text().await.unwrap();
        assert!(!body.contains("<script>"), "inline script on {path}");
        assert!(!body.contains(" style="), "inline style on {path}");
    }
    let script = app.get("/static/js/productpage.js").await;
    assert_eq!(script.status(), 200);
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert!(script.text().await.unwrap().contains("showModal"));
    let json = app.get("/api/v1/products").await;
    assert_eq!(json.headers()["x-content-type-options"], "nosniff");
}

/// A request without `Host`, or with two, is refused with 400 (RFC 9112).
#[tokio::test]
async fn host_header_is_required_once() {
    use bookinfo_testing::raw;
    let backends = Backends::healthy().await;
    let app = spawn_with(&backends, &[]).await;
    for request in [
        &b"GET /productpage HTTP/1.1\r\n\r\n"[..],
        b"GET /productpage HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    ] {
        let mut conn = raw::connect(app.server.addr).await;
        raw::send(&mut conn, request).await;
        let resp = raw::read_response(&mut conn, std::time::Duration::from_secs(20))
            .await
            .unwrap();
        assert_eq!(resp.status, 400);
    }
    assert!(backends.all().is_empty());
}

/// The connection limits come from the environment (`SERVER_*`).
#[tokio::test]
async fn slow_clients_are_cut_off() {
    use bookinfo_testing::raw;
    let app = crate::helpers::spawn_app(bookinfo_testing::env(raw::SHORT_LIMITS)).await;
    raw::assert_slow_clients_are_cut_off(app.server.addr, "/health").await;
}
