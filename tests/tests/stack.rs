//! The whole BookInfo, four real services on loopback port 0, checked end to end through
//! productpage as a user (or istio.io's task scripts) would see it.

#![allow(clippy::unwrap_used)] // Test helpers: a failed unwrap is a failed test.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bookinfo_launcher::{ReviewsChoice, Service, Stack, StackOptions};
use bookinfo_testing::{FakeServer, Reply};

const FILLED_STAR: &str = r#"id="glyphicon glyphicon-star""#;
const DETAILS_ERROR: &str = "Sorry, product details are currently unavailable for this book.";
const REVIEWS_ERROR: &str = "Sorry, product reviews are currently unavailable for this book.";
const RATINGS_ERROR: &str = "Ratings service is currently unavailable";

fn no_env() -> Arc<Vec<(String, String)>> {
    Arc::new(Vec::new())
}

async fn start(options: StackOptions) -> Stack {
    Stack::start(options, no_env())
        .await
        .expect("the stack starts")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn page(client: &reqwest::Client, stack: &Stack) -> String {
    let resp = client
        .get(format!("http://{}/productpage", stack.productpage))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "productpage always answers 200");
    resp.text().await.unwrap()
}

/// A port nothing listens on.
async fn dead_port() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port().to_string()
}

#[tokio::test]
async fn v1_page_has_reviews_without_stars() {
    let stack = start(StackOptions::ephemeral(ReviewsChoice::V1)).await;
    let html = page(&client(), &stack).await;
    assert!(html.contains("<title>Simple Bookstore App</title>"));
    assert!(html.contains("Book Details") && html.contains("PublisherA"));
    assert!(html.contains("Book Reviews") && html.contains("Reviewer1"));
    assert!(html.contains("An extremely entertaining play by Shakespeare."));
    assert_eq!(
        html.matches("reviews-v1-local").count(),
        2,
        "pod name once per review"
    );
    assert!(!html.contains("glyphicon"), "v1 shows no stars");
    stack.stop().await.unwrap();
}

#[tokio::test]
async fn v2_page_has_black_stars_from_ratings() {
    let stack = start(StackOptions::ephemeral(ReviewsChoice::V2)).await;
    let html = page(&client(), &stack).await;
    // Ratings 5 and 4: nine filled stars, in black.
    assert_eq!(html.matches(FILLED_STAR).count(), 9, "{html}");
    assert!(html.contains("text-black-500"));
    assert!(!html.contains("text-red-500"));
    assert!(!html.contains(RATINGS_ERROR));
    stack.stop().await.unwrap();
}

#[tokio::test]
async fn v3_page_has_red_stars() {
    let stack = start(StackOptions::ephemeral(ReviewsChoice::V3)).await;
    let html = page(&client(), &stack).await;
    assert_eq!(html.matches(FILLED_STAR).count(), 9);
    assert!(html.contains("text-red-500"));
    assert!(html.contains("reviews-v3-local"));
    stack.stop().await.unwrap();
}

#[tokio::test]
async fn all_versions_rotate_like_a_mesh() {
    let stack = start(StackOptions::ephemeral(ReviewsChoice::All)).await;
    let c = client();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let html = page(&c, &stack).await;
        let version = ["v1", "v2", "v3"]
            .into_iter()
            .find(|v| html.contains(&format!("reviews-{v}-local")))
            .expect("a reviews pod name on the page");
        seen.push(version);
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        ["v1", "v2", "v3"],
        "three refreshes hit three versions"
    );
    stack.stop().await.unwrap();
}

#[tokio::test]
async fn signed_in_user_reaches_ratings_as_end_user() {
    // Real productpage and reviews v2; ratings is a recording stand-in so we can see the
    // headers that arrive on the reviews -> ratings hop (the one Istio routes jason on).
    let ratings = FakeServer::always(Reply::json(
        r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#,
    ))
    .await;
    let stack = start(StackOptions::ephemeral(ReviewsChoice::V2).with_env(
        Service::Reviews,
        "RATINGS_SERVICE_PORT",
        &ratings.port(),
    ))
    .await;
    let c = client();

    let login = c
        .post(format!("http://{}/login", stack.productpage))
        .form(&[("username", "jason"), ("passwd", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 302);
    let html = page(&c, &stack).await;
    assert!(html.contains("jason") && html.contains("Sign out"));
    assert_eq!(html.matches(FILLED_STAR).count(), 9);
    let seen = ratings.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].uri, "/ratings/0");
    assert_eq!(seen[0].header("end-user"), Some("jason"));

    // After signing out, no end-user reaches ratings.
    let logout = c
        .get(format!("http://{}/logout", stack.productpage))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 302);
    let html = page(&c, &stack).await;
    assert!(html.contains("sign-in-button"));
    let seen = ratings.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].header("end-user"), None);
    stack.stop().await.unwrap();
}

#[tokio::test]
async fn an_incoming_end_user_header_is_not_trusted() {
    let ratings = FakeServer::always(Reply::json(r#"{"id":0,"ratings":{"Reviewer1":1}}"#)).await;
    let stack = start(StackOptions::ephemeral(ReviewsChoice::V2).with_env(
        Service::Reviews,
        "RATINGS_SERVICE_PORT",
        &ratings.port(),
    ))
    .await;
    let resp = client()
        .get(format!("http://{}/productpage", stack.productpage))
        .header("end-user", "eve")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(ratings.requests()[0].header("end-user"), None);
    stack.stop().await.unwrap();
}

#[tokio::test]
async fn details_down_shows_details_error_and_still_the_reviews() {
    let port = dead_port().await;
    let stack = start(StackOptions::ephemeral(ReviewsChoice::V2).with_env(
        Service::Productpage,
        "DETAILS_SERVICE_PORT",
        &port,
    ))
    .await;
    let html = page(&client(), &stack).await;
    assert!(html.contains("Error fetching product details"));
    assert!(html.contains(DETAILS_ERROR));
    assert!(!html.contains("Book Details"));
    assert!(html.contains("Book Reviews"));
    assert_eq!(html.matches(FILLED_STAR).count(), 9);
    stack.stop().await.unwrap();
}

#[tokio::test]
async fn hanging_reviews_give_the_reviews_error_after_two_timeouts() {
    let reviews = FakeServer::always(Reply::hang()).await;
    let stack = start(StackOptions::ephemeral(ReviewsChoice::V1).with_env(
        Service::Productpage,
        "REVIEWS_SERVICE_PORT",
        &reviews.port(),
    ))
    .await;
    let started = Instant::now();
    let html = page(&client(), &stack).await;
    let elapsed = started.elapsed();
    // Default 3 s timeout, two attempts: about 6 s (istio.io's fault-injection task relies on it).
    assert!(
        elapsed >= Duration::from_millis(5800) && elapsed < Duration::from_secs(9),
        "took {elapsed:?}"
    );
    assert_eq!(reviews.requests().len(), 2, "one retry");
    assert!(html.contains("Error fetching product reviews"));
    assert!(html.contains(REVIEWS_ERROR));
    assert!(html.contains("Book Details"), "details still shown");
    stack.stop().await.unwrap();
}

#[tokio::test]
async fn faulty_ratings_give_per_review_rating_errors() {
    let stack = start(
        StackOptions::ephemeral(ReviewsChoice::V3)
            .with_env(Service::Ratings, "SERVICE_VERSION", "v-faulty")
            .with_env(Service::Ratings, "RATINGS_FAULT_PROBABILITY", "1"),
    )
    .await;
    let html = page(&client(), &stack).await;
    assert_eq!(
        html.matches(RATINGS_ERROR).count(),
        2,
        "one error per review"
    );
    assert!(!html.contains(FILLED_STAR));
    assert!(
        html.contains("Book Reviews"),
        "the reviews themselves are still shown"
    );
    stack.stop().await.unwrap();
}

#[tokio::test]
async fn api_routes_pass_backend_json_through_the_stack() {
    let stack = start(StackOptions::ephemeral(ReviewsChoice::V2)).await;
    let c = client();
    let ratings = c
        .get(format!(
            "http://{}/api/v1/products/0/ratings",
            stack.productpage
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(ratings.status(), 200);
    assert_eq!(
        ratings.text().await.unwrap(),
        r#"{"id": 0, "ratings": {"Reviewer1": 5, "Reviewer2": 4}}"#
    );
    let details = c
        .get(format!("http://{}/api/v1/products/abc", stack.productpage))
        .send()
        .await
        .unwrap();
    assert_eq!(details.status(), 400, "details' 400 passes through");
    stack.stop().await.unwrap();
}
