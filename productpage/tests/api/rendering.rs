//! How reviews are drawn (docs/compatibility.md, items 40–45) and what is escaped.

use bookinfo_testing::{FakeServer, Reply};

use crate::helpers::{Backends, DETAILS_0, REVIEWS_V1, count, reviews_rated, spawn_with};

const STAR: &str = r#"id="glyphicon glyphicon-star""#;

async fn page_for(reviews_body: &str) -> String {
    let backends = Backends::with(
        FakeServer::always(Reply::json(DETAILS_0)).await,
        FakeServer::always(Reply::json(reviews_body)).await,
    )
    .await;
    let app = spawn_with(&backends, &[]).await;
    app.page("/productpage").await
}

/// Outline stars: star SVGs without the filled-star id.
fn outline_stars(body: &str) -> usize {
    count(body, "<svg class=\"star\"")
}

/// 40: v1 has no stars; texts quoted, reviewers and the pod name twice.
#[tokio::test]
async fn v1_reviews_have_no_stars() {
    let body = page_for(REVIEWS_V1).await;
    assert!(body.contains(
        "\"An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!\""
    ));
    assert!(body.contains("\"Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.\""));
    assert!(body.contains("Reviewer1") && body.contains("Reviewer2"));
    assert_eq!(count(&body, "Reviews served by:"), 2);
    assert_eq!(count(&body, "reviews-v1-abc"), 2);
    assert!(!body.contains("glyphicon glyphicon-star"));
    assert!(!body.contains("on cluster"));
}

/// 41: 5 + 4 black stars → 9 filled, 1 outline, black container.
#[tokio::test]
async fn black_stars() {
    let body = page_for(&reviews_rated("black")).await;
    assert_eq!(count(&body, STAR), 9);
    assert_eq!(outline_stars(&body), 1);
    assert_eq!(count(&body, "class=\"stars text-black-500\""), 2);
}

/// 42: red.
#[tokio::test]
async fn red_stars() {
    let body = page_for(&reviews_rated("red")).await;
    assert_eq!(count(&body, STAR), 9);
    assert_eq!(outline_stars(&body), 1);
    assert_eq!(count(&body, "class=\"stars text-red-500\""), 2);
    assert!(!body.contains("text-black-500"));
}

/// 43 and 44: a rating error is shown in red for its review; zero stars show nothing.
#[tokio::test]
async fn rating_error_and_zero_stars() {
    let body = page_for(
        r#"{"id": "0","podname": "p","clustername": "null","reviews": [
            {"reviewer": "R1", "text": "t1", "rating": {"error": "Ratings service is currently unavailable"}},
            {"reviewer": "R2", "text": "t2", "rating": {"stars": 0}},
            {"reviewer": "R3", "text": "t3", "rating": {"stars": 7, "color": "blue"}}]}"#,
    )
    .await;
    assert_eq!(
        count(
            &body,
            r#"<p class="error">Ratings service is currently unavailable</p>"#
        ),
        1
    );
    // Only R3's seven stars, no outline ones.
    assert_eq!(count(&body, STAR), 7);
    assert_eq!(outline_stars(&body), 0);
    assert!(body.contains("text-blue-500"));
}

/// 45: the cluster name appears only when it is not the string "null".
#[tokio::test]
async fn cluster_name() {
    let body =
        page_for(&REVIEWS_V1.replace(r#""clustername": "null""#, r#""clustername": "cluster2""#))
            .await;
    assert_eq!(
        count(&body, "on cluster <span class=\"pod\">cluster2</span>"),
        2
    );
}

/// Backend text is escaped; only our own description is raw HTML.
#[tokio::test]
async fn backend_values_are_escaped() {
    let body = page_for(
        r#"{"podname": "<b>pod</b>", "clustername": "null", "reviews": [
            {"reviewer": "<script>alert(1)</script>", "text": "<img src=x onerror=alert(1)>",
             "rating": {"stars": 1, "color": "\"><script>"}}]}"#,
    )
    .await;
    assert!(!body.contains("<script>alert"));
    assert!(!body.contains("<img src=x"));
    assert!(!body.contains("<b>pod</b>"));
    assert!(!body.contains("\"><script>"));
    assert!(body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    assert!(body.contains("<b>William Shakespeare's</b>"));
}
