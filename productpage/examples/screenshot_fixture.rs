//! Serves productpage against fake backends in six states, for the screenshot script
//! (`scripts/screenshots.sh`): anonymous, signed in as jason, reviews v1, v2, v3, and every
//! backend down. Case `i` listens on `127.0.0.1:<base port + i>`; the line `ready` on stdout
//! says all six are up. Stop it with Ctrl-C or SIGTERM.
//!
//!     cargo run -p productpage --example screenshot_fixture -- 19400

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use bookinfo_testing::{FakeServer, Reply};
use tower::ServiceExt;

const DETAILS: &str = r#"{"id":0,"author":"William Shakespeare","year":1595,"type":"paperback","pages":200,"publisher":"PublisherA","language":"English","ISBN-10":"1234567890","ISBN-13":"123-1234567890"}"#;

fn reviews(pod: &str, rating: Option<(&str, &str)>) -> String {
    let r = |stars: &str, color: &str| {
        format!(r#", "rating": {{"stars": {stars}, "color": "{color}"}}"#)
    };
    let (r1, r2) = match rating {
        Some((color, _)) => (r("5", color), r("4", color)),
        None => (String::new(), String::new()),
    };
    format!(
        r#"{{"id": "0","podname": "{pod}","clustername": "null","reviews": [{{  "reviewer": "Reviewer1",  "text": "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!"{r1}}},{{  "reviewer": "Reviewer2",  "text": "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare."{r2}}}]}}"#
    )
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let base: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(19400);
    let details = FakeServer::always(Reply::json(DETAILS)).await;
    let v1 = FakeServer::always(Reply::json(reviews("reviews-v1-5b9c7f6d8-kx2lp", None))).await;
    let v2 = FakeServer::always(Reply::json(reviews(
        "reviews-v2-7d7c9f8b6-m4q9z",
        Some(("black", "")),
    )))
    .await;
    let v3 = FakeServer::always(Reply::json(reviews(
        "reviews-v3-6f4d8c5b7-p8w2r",
        Some(("red", "")),
    )))
    .await;
    // A port nobody listens on: connections are refused at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port()
        .to_string();

    let cases: [(&str, String, String, bool); 6] = [
        ("anonymous", details.port(), v2.port(), false),
        ("jason", details.port(), v2.port(), true),
        ("v1", details.port(), v1.port(), false),
        ("v2", details.port(), v2.port(), false),
        ("v3", details.port(), v3.port(), false),
        ("down", closed.clone(), closed.clone(), false),
    ];
    let mut servers = Vec::new();
    for (i, (name, details_port, reviews_port, signed_in)) in cases.into_iter().enumerate() {
        let env = [
            ("DETAILS_HOSTNAME", "127.0.0.1"),
            ("DETAILS_SERVICE_PORT", details_port.as_str()),
            ("REVIEWS_HOSTNAME", "127.0.0.1"),
            ("REVIEWS_SERVICE_PORT", reviews_port.as_str()),
            ("BACKEND_TIMEOUT_SECONDS", "1"),
        ];
        let config = productpage::Config::from_env(&env).map_err(std::io::Error::other)?;
        let mut router = productpage::app(productpage::AppState::new(config));
        if signed_in {
            let cookie = sign_in(router.clone(), "jason").await?;
            router = router.layer(middleware::from_fn(move |mut req: Request, next: Next| {
                let cookie = cookie.clone();
                async move {
                    req.headers_mut().insert(header::COOKIE, cookie);
                    next.run(req).await
                }
            }));
        }
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", base + i as u16)).await?;
        eprintln!("{name}: http://127.0.0.1:{}/productpage", base + i as u16);
        servers.push(tokio::spawn(
            async move { axum::serve(listener, router).await },
        ));
    }
    println!("ready");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = tokio::time::sleep(Duration::from_secs(600)) => {}
    }
    Ok(())
}

/// The `session` cookie productpage hands out for `user` (as a browser would get it).
async fn sign_in(router: axum::Router, user: &str) -> std::io::Result<HeaderValue> {
    let req = Request::post(format!("/login?username={user}"))
        .body(Body::empty())
        .map_err(std::io::Error::other)?;
    let resp = router.oneshot(req).await.map_err(std::io::Error::other)?;
    let set_cookie = resp
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| std::io::Error::other("login set no cookie"))?;
    let pair = set_cookie.split(';').next().unwrap_or_default().to_owned();
    HeaderValue::from_str(&pair).map_err(std::io::Error::other)
}
