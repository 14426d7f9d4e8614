//! Sign in and out (docs/compatibility.md, items 33–39) and hostile session input.

use crate::helpers::{Backends, spawn_app, spawn_with};

const CLEARED: &str =
    "session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly; Path=/";

/// 33: form login with a Referer → back to it, with an HttpOnly session cookie on `/`.
#[tokio::test]
async fn login_redirects_to_referer_and_sets_cookie() {
    let app = spawn_app(Vec::new()).await;
    let resp = app
        .client
        .post(app.url("/login"))
        .header("referer", "http://host/productpage")
        .form(&[("username", "jason"), ("passwd", "anything")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(resp.headers()["location"], "http://host/productpage");
    assert_eq!(resp.headers()["vary"], "Cookie");
    let cookie = resp.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.starts_with("session=;"), "{cookie}");
}

/// 34 (deliberate difference): no Referer → `/productpage` instead of `None`; cookie still set.
#[tokio::test]
async fn login_without_referer_goes_to_productpage() {
    let app = spawn_app(Vec::new()).await;
    let resp = app
        .client
        .post(app.url("/login"))
        .body("username=jason&passwd=password")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(resp.headers()["location"], "/productpage");
    assert!(
        resp.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("session=")
    );
}

/// 35 and 36: query-string login; the page then names the user and offers Sign out.
#[tokio::test]
async fn query_login_and_signed_in_page() {
    let backends = Backends::healthy().await;
    let app = spawn_with(&backends, &[]).await;
    let resp = app
        .client
        .post(app.url("/login?username=qs"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let cookie = resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let body = app
        .client
        .get(app.url("/productpage"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(body.headers()["vary"], "Cookie");
    let body = body.text().await.unwrap();
    assert!(body.contains(r#"<span class="user">qs</span>"#));
    assert!(body.contains(r#"href="logout">Sign out</a>"#));
    assert!(!body.contains("sign-in-button"));
    assert_eq!(
        backends.details.requests()[0].header("end-user"),
        Some("qs")
    );
}

/// 37: logout clears the cookie exactly like upstream and goes back; then anonymous again.
#[tokio::test]
async fn logout_clears_the_session() {
    let backends = Backends::healthy().await;
    let app = spawn_with(&backends, &[]).await;
    let _cookie = app.login("jason").await;
    let resp = app
        .client
        .get(app.url("/logout"))
        .header("referer", "http://host/productpage")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(resp.headers()["location"], "http://host/productpage");
    assert_eq!(resp.headers()["set-cookie"], CLEARED);
    // The browser now sends no session cookie.
    let body = app.page("/productpage").await;
    assert!(body.contains(r#"id="sign-in-button""#));
    assert!(
        backends
            .all()
            .iter()
            .all(|(_, r)| r.header("end-user").is_none())
    );
    let no_referer = app.get("/logout").await;
    assert_eq!(no_referer.headers()["location"], "/productpage");
}

/// 38: the anonymous page's sign-in button and dialog.
#[tokio::test]
async fn anonymous_page_has_sign_in_dialog() {
    let backends = Backends::healthy().await;
    let app = spawn_with(&backends, &[]).await;
    let body = app.page("/productpage").await;
    for needle in [
        r#"id="sign-in-button""#,
        r#"<dialog id="dialog""#,
        "Sign in to BookInfo",
        r#"<form method="post" action="login""#,
        r#"name="username""#,
        r#"name="passwd""#,
        "Not using Istio yet?",
        ">Start here</a>",
    ] {
        assert!(body.contains(needle), "lacks {needle}");
    }
    assert!(!body.contains("Sign out"));
}

/// 39: a cookie from one instance works on another with the same (default) secret; an instance
/// with a different secret treats it as signed out.
#[tokio::test]
async fn cookie_works_across_replicas() {
    let backends = Backends::healthy().await;
    let first = spawn_with(&backends, &[]).await;
    let second = spawn_with(&backends, &[]).await;
    let cookie = first.login("jason").await;
    let page = second
        .client
        .get(second.url("/productpage"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert!(
        page.text()
            .await
            .unwrap()
            .contains(r#"<span class="user">jason</span>"#)
    );
    let other = spawn_with(
        &backends,
        &[("SESSION_SECRET", "another-secret-that-is-long-enough-32")],
    )
    .await;
    let page = other
        .client
        .get(other.url("/productpage"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert!(page.text().await.unwrap().contains("sign-in-button"));
}

/// A tampered cookie reads as signed out, and no end-user is sent.
#[tokio::test]
async fn tampered_cookie_is_signed_out() {
    let backends = Backends::healthy().await;
    let app = spawn_with(&backends, &[]).await;
    let cookie = app.login("jason").await;
    let forged = cookie.replace("jason", "admin");
    assert_ne!(forged, cookie);
    for bad in [forged.as_str(), "session=jason", "session=", "session=%%%"] {
        let resp = app
            .client
            .get(app.url("/productpage"))
            .header("cookie", bad)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{bad}");
        let body = resp.text().await.unwrap();
        assert!(body.contains("sign-in-button"), "{bad}");
    }
    assert!(
        backends
            .all()
            .iter()
            .all(|(_, r)| r.header("end-user").is_none())
    );
}

/// Hostile input gets a 4xx, never a crash: huge cookie, huge form, huge name.
#[tokio::test]
async fn oversized_or_broken_input_is_4xx() {
    let app = spawn_app(Vec::new()).await;
    let huge_cookie = format!("session={}", "a".repeat(20_000));
    let resp = app
        .client
        .get(app.url("/productpage"))
        .header("cookie", huge_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 431);
    let huge_form = format!("username={}", "a".repeat(200_000));
    let resp = app
        .client
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(huge_form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let long_name = "a".repeat(1000);
    let resp = app
        .client
        .post(app.url("/login"))
        .form(&[("username", long_name.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(app.get("/health").await.status(), 200);
}

/// A user name is shown escaped and still works as `end-user`.
#[tokio::test]
async fn user_name_is_escaped() {
    let backends = Backends::healthy().await;
    let app = spawn_with(&backends, &[]).await;
    let cookie = app.login("<script>alert(1)</script>").await;
    let body = app
        .client
        .get(app.url("/productpage"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let body = body.text().await.unwrap();
    assert!(!body.contains("<script>alert(1)</script>"));
    assert!(body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    assert_eq!(
        backends.details.requests()[0].header("end-user"),
        Some("<script>alert(1)</script>")
    );
}

/// No user name: nobody is signed in.
#[tokio::test]
async fn login_without_username_signs_nobody_in() {
    let app = spawn_app(Vec::new()).await;
    let resp = app
        .client
        .post(app.url("/login"))
        .form(&[("passwd", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(resp.headers()["set-cookie"], CLEARED);
}
