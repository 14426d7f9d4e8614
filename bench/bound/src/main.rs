//! `bookinfo-bound`: what a page of BookInfo's shape costs with nothing but the framework.
//!
//! Four bare axum servers, each its own process like the real services, chained with one pooled
//! reqwest client each, make the calls of a reviews-v2 page view: productpage calls details and
//! reviews (concurrently), reviews calls ratings. Bodies are tiny fixed JSON strings: no HTML,
//! no configuration, no header forwarding, no metrics, no logs, no tracing. Whatever the real
//! services spend beyond this is their own cost; `scripts/bench-bound.sh` reports the real page
//! as a share of this bound.
//!
//! ```text
//! bookinfo-bound ratings 19282
//! bookinfo-bound details 19281
//! bookinfo-bound reviews 19283 http://127.0.0.1:19282
//! bookinfo-bound productpage 19280 http://127.0.0.1:19281 http://127.0.0.1:19283
//! ```

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::serve::ListenerExt;

const RATINGS: &str = r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#;
const DETAILS: &str = r#"{"id":0,"author":"William Shakespeare","year":1595,"type":"paperback","pages":200,"publisher":"PublisherA","language":"English","ISBN-10":"1234567890","ISBN-13":"123-1234567890"}"#;

#[derive(Clone)]
struct Downstream {
    client: reqwest::Client,
    urls: Vec<String>,
}

async fn fetch(client: &reqwest::Client, url: String) -> Result<String, StatusCode> {
    let resp = client
        .get(url)
        .send()
        .await
        .map_err(|_| StatusCode::BAD_GATEWAY)?;
    resp.text().await.map_err(|_| StatusCode::BAD_GATEWAY)
}

async fn reviews(State(d): State<Downstream>, Path(id): Path<u32>) -> Result<String, StatusCode> {
    let ratings = fetch(&d.client, format!("{}/ratings/{id}", d.urls[0])).await?;
    Ok(format!(r#"{{"id":"{id}","reviews":{ratings}}}"#))
}

async fn productpage(State(d): State<Downstream>) -> Result<String, StatusCode> {
    let (details, reviews) = tokio::join!(
        fetch(&d.client, format!("{}/details/0", d.urls[0])),
        fetch(&d.client, format!("{}/reviews/0", d.urls[1])),
    );
    Ok(format!(
        r#"{{"details":{},"reviews":{}}}"#,
        details?, reviews?
    ))
}

fn router(role: &str, urls: Vec<String>) -> Option<Router> {
    let state = Downstream {
        client: reqwest::Client::new(),
        urls,
    };
    let need = |n: usize| state.urls.len() == n;
    Some(match role {
        "ratings" if need(0) => Router::new().route("/ratings/{id}", get(|| async { RATINGS })),
        "details" if need(0) => Router::new().route("/details/{id}", get(|| async { DETAILS })),
        "reviews" if need(1) => Router::new()
            .route("/reviews/{id}", get(reviews))
            .with_state(state),
        "productpage" if need(2) => Router::new()
            .route("/productpage", get(productpage))
            .with_state(state),
        _ => return None,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: bookinfo-bound ratings|details PORT | reviews PORT RATINGS_URL | productpage PORT DETAILS_URL REVIEWS_URL";
    let (Some(role), Some(port)) = (
        args.first(),
        args.get(1).and_then(|p| p.parse::<u16>().ok()),
    ) else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let Some(app) = router(role, args[2..].to_vec()) else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let listener =
        match tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("bookinfo-bound: cannot listen on port {port}: {e}");
                return ExitCode::FAILURE;
            }
        };
    // Small answers: no Nagle delay, as the real services do.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    match axum::serve(listener, app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bookinfo-bound: {e}");
            ExitCode::FAILURE
        }
    }
}
