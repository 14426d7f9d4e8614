//! Sign in and out (docs/compatibility.md, items 33–39) and hostile session input.

use crate::helpers::{Backends, spawn_app, spawn_with};

const CLEARED: &str =
    "session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly; Path=/";

/// 33: form login with a Referer → back to it (its path, when it is this site), with an
/// HttpOnly, SameSite=Lax session cookie on `/` that expires with the session.
#[tokio::test]
async fn login_redirects_to_referer_and_sets_cookie() {
    let app = spawn_app(Vec::new()).await;
    let resp = app
        .client
        .post(app.url("/login"))
        .header("referer", app.url("/productpage?u=normal"))
        .form(&[("username", "jason"), ("passwd", "anything")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(resp.headers()["location"], "/productpage?u=normal");
    assert_eq!(resp.headers()["vary"], "Cookie");
    let cookie = resp.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("session="), "{cookie}");
    for attribute in ["HttpOnly", "Path=/", "SameSite=Lax", "Max-Age=86400"] {
        assert!(cookie.contains(attribute), "{attribute}: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "{cookie}");
    assert!(!cookie.starts_with("session=;"), "{cookie}");
}

/// Sign-in and sign-out only ever redirect to a path on this site.
#[tokio::test]
async fn redirects_never_leave_the_site() {
    let app = spawn_app(Vec::new()).await;
    let same_origin = app.url("/productpage?x=1");
    let cases = [
        ("https://evil.example/", "/productpage"),
        ("//evil.example", "/productpage"),
        ("//evil.example/productpage", "/productpage"),
        ("javascript:alert(document.cookie)", "/productpage"),
        ("http://host/productpage", "/productpage"),
        ("/index.html", "/index.html"),
        (same_origin.as_str(), "/productpage?x=1"),
    ];
    for (referer, expected) in cases {
        let login = app
            .client
            .post(app.url("/login"))
            .header("referer", referer)
            .form(&[("username", "jason")])
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 302, "{referer}");
        assert_eq!(login.headers()["location"], expected, "login, {referer}");
        let logout = app
            .client
            .get(app.url("/logout"))
            .header("referer", referer)
            .send()
            .await
            .unwrap();
        assert_eq!(logout.headers()["location"], expected, "logout, {referer}");
    }
}

/// `SESSION_COOKIE_SECURE=true` marks the cookie Secure (a site served over HTTPS).
#[tokio::test]
async fn secure_cookie_when_configured() {
    let app = spawn_app(bookinfo_testing::env(&[
        ("SESSION_COOKIE_SECURE", "true"),
        ("SESSION_LIFETIME_SECONDS", "3600"),
    ]))
    .await;
    let resp = app
        .client
        .post(app.url("/login"))
        .form(&[("username", "jason")])
        .send()
        .await
        .unwrap();
    let cookie = resp.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("Secure") && cookie.contains("Max-Age=3600"),
        "{cookie}"
    );
}

/// A session ends with its lifetime: the same cookie signs nobody in afterwards.
#[tokio::test]
async fn sessions_expire() {
    let backends = Backends::healthy().await;
    let app = spawn_with(&backends, &[("SESSION_LIFETIME_SECONDS", "1")]).await;
    let cookie = app.login("jason").await;
    let signed_in = |body: &str| body.contains(r#"<span class="user">jason</span>"#);
    let page = |cookie: String| {
        let request = app
            .client
            .get(app.url("/productpage"))
            .header("cookie", cookie);
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    assert!(signed_in(&page(cookie.clone()).await));
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert!(
        !signed_in(&page(cookie).await),
        "still signed in after the lifetime"
    );
}

/// A cookie captured before logging out no longer signs anyone in afterwards (on this replica).
#[tokio::test]
async fn logout_revokes_the_session() {
    let backends = Backends::healthy().await;
    let app = spawn_with(&backends, &[]).await;
    let captured = app.login("jason").await;
    let other = app.login("jason").await;
    let resp = app
        .client
        .get(app.url("/logout"))
        .header("cookie", &captured)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    for (cookie, expected) in [(&captured, false), (&other, true)] {
        let body = app
            .client
            .get(app.url("/productpage"))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(
            body.contains(r#"<span class="user">jason</span>"#),
            expected,
            "{cookie}"
        );
    }
}

/// Another site cannot sign a visitor in: a cross-site `text/plain` post (which a page elsewhere
/// can send with a plain form), or any post a browser marks as cross-site.
#[tokio::test]
async fn cross_site_sign_in_is_refused() {
    let app = spawn_app(Vec::new()).await;
    let attempts = [
        // <form enctype="text/plain" action="http://bookinfo/login?username=attacker">
        app.client
            .post(app.url("/login?username=attacker"))
            .header("content-type", "text/plain")
            .body("username=attacker"),
        app.client
            .post(app.url("/login"))
            .header("origin", "https://evil.example")
            .form(&[("username", "attacker")]),
        app.client
            .post(app.url("/login"))
            .header("sec-fetch-site", "cross-site")
            .form(&[("username", "attacker")]),
        app.client
            .post(app.url("/login"))
            .header("origin", "null")
            .form(&[("username", "attacker")]),
    ];
    for attempt in attempts {
        let resp = attempt.send().await.unwrap();
        assert!(resp.status().is_client_error(), "{}", resp.status());
        assert!(resp.headers().get("set-cookie").is_none());
        assert_eq!(resp.headers()["content-type"], "application/json");
    }
    // The real form, posted from this site by a browser.
    let resp = app
        .client
        .post(app.url("/login"))
        .header("origin", format!("http://{}", app.server.addr))
        .header("sec-fetch-site", "same-origin")
        .form(&[("username", "jason")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    assert!(
        resp.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("session=")
    );
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
        .header("referer", app.url("/productpage"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(resp.headers()["location"], "/productpage");
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
