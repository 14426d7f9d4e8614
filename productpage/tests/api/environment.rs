//! Backend addresses from the environment (docs/compatibility.md, items 47, 48) and
//! FLOOD_FACTOR (item 49).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use bookinfo_testing::{FakeServer, Reply};
use http::Request;
use productpage::{AppState, Config};
use tower::ServiceExt;

use crate::helpers::{Backends, DETAILS_0, REVIEWS_V1, spawn_with};

/// 47: `*_HOSTNAME` and `*_SERVICE_PORT` decide where each call goes (the fakes only receive
/// requests because the variables point at them).
#[tokio::test]
async fn hostnames_and_ports_select_backends() {
    let backends = Backends::healthy().await;
    let app = spawn_with(&backends, &[]).await;
    app.page("/productpage").await;
    app.get("/api/v1/products/0/ratings").await;
    assert_eq!(backends.details.requests()[0].uri, "/details/0");
    assert_eq!(backends.reviews.requests()[0].uri, "/reviews/0");
    assert_eq!(backends.ratings.requests()[0].uri, "/ratings/0");
    let host = backends.details.requests()[0]
        .header("host")
        .unwrap()
        .to_owned();
    assert_eq!(host, format!("127.0.0.1:{}", backends.details.port()));
}

/// 48: SERVICES_DOMAIN is appended to every host, and the index page shows the full names.
#[tokio::test]
async fn services_domain_shows_on_index() {
    let env = [("SERVICES_DOMAIN", "default.svc.cluster.local")];
    let app = productpage::app(AppState::new(Config::from_env(&env).unwrap()));
    let resp = app
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = String::from_utf8(body.to_vec()).unwrap();
    for host in ["details", "reviews", "ratings"] {
        let url = format!("<td>http://{host}.default.svc.cluster.local:9080</td>");
        assert!(body.contains(&url), "lacks {url}");
    }
}

/// 49: FLOOD_FACTOR=3 → 1 details call, then 3 discarded + 1 real reviews call; the API route
/// does not flood. Our flood calls run concurrently (a documented difference), so the page
/// takes about two reviews latencies, not four.
#[tokio::test]
async fn flood_factor_adds_reviews_calls() {
    let details_answered: Arc<Mutex<Option<Instant>>> = Arc::default();
    let first_reviews: Arc<Mutex<Option<Instant>>> = Arc::default();
    let d = details_answered.clone();
    let details = FakeServer::start(move |_, _| {
        *d.lock().unwrap() = Some(Instant::now());
        Reply::json(DETAILS_0)
    })
    .await;
    let r = first_reviews.clone();
    let latency = Duration::from_millis(300);
    let reviews = FakeServer::start(move |_, _| {
        r.lock().unwrap().get_or_insert_with(Instant::now);
        Reply::json(REVIEWS_V1).delayed(latency)
    })
    .await;
    let backends = Backends::with(details, reviews).await;
    let app = spawn_with(&backends, &[("FLOOD_FACTOR", "3")]).await;
    let started = Instant::now();
    let body = app.page("/productpage").await;
    let took = started.elapsed();
    assert!(body.contains("Book Reviews"));
    assert_eq!(backends.details.requests().len(), 1);
    assert_eq!(backends.reviews.requests().len(), 4);
    assert!(details_answered.lock().unwrap().unwrap() <= first_reviews.lock().unwrap().unwrap());
    assert!(took >= 2 * latency, "{took:?}");
    assert!(
        took < 4 * latency,
        "flood calls ran one after another: {took:?}"
    );

    app.get("/api/v1/products/0/reviews").await;
    assert_eq!(backends.reviews.requests().len(), 5);
}

/// A bad FLOOD_FACTOR stops start-up with the variable named.
#[test]
fn bad_flood_factor_is_a_config_error() {
    let env = [("FLOOD_FACTOR", "lots")];
    let errors = Config::from_env(&env).unwrap_err();
    assert!(errors.mentions("FLOOD_FACTOR"));
}
