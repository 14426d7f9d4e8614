//! The two HTML pages: the index (`/`, `/index.html`) and the product page (`/productpage`).
//!
//! Backend JSON is turned into small view types first, so the templates only decide layout and
//! every value that came from a backend or a user is HTML-escaped by askama. The one exception is
//! the book description, which is our own constant HTML.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;

use crate::backend::{DETAILS_UNAVAILABLE, REVIEWS_UNAVAILABLE};
use crate::error::Error;
use crate::product::{DESCRIPTION_HTML, PRODUCT_ID, TITLE};
use crate::{AppState, Caller};

/// More filled stars than this are not drawn (upstream draws any number; a hostile backend
/// could otherwise make the page arbitrarily large).
const MAX_STARS: i64 = 100;

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage<'a> {
    details: &'a str,
    reviews: &'a str,
    ratings: &'a str,
}

#[derive(Template)]
#[template(path = "productpage.html")]
struct ProductPage {
    user: Option<String>,
    title: &'static str,
    description: &'static str,
    details: Option<DetailsView>,
    details_error: &'static str,
    reviews: Option<ReviewsView>,
    reviews_error: &'static str,
    trace: Option<TraceLink>,
}

/// This page view's trace, linked into the tracing UI (`TRACE_UI_URL`).
#[derive(Debug, PartialEq)]
pub struct TraceLink {
    pub id: String,
    pub url: String,
}

/// The link to `trace_id` through `template`, or nothing when either is missing.
pub fn trace_link(template: Option<&str>, trace_id: Option<String>) -> Option<TraceLink> {
    let template = template?;
    let id = trace_id?;
    Some(TraceLink {
        url: template.replace(crate::config::TRACE_ID_PLACEHOLDER, &id),
        id,
    })
}

/// The five details fields the page shows (author, year and ISBN-13 are not shown, as upstream).
#[derive(Debug, PartialEq)]
pub struct DetailsView {
    pub isbn10: String,
    pub publisher: String,
    pub pages: String,
    pub kind: String,
    pub language: String,
}

#[derive(Debug, PartialEq)]
pub struct ReviewsView {
    pub podname: String,
    /// `None` when reviews reported no cluster (the string `"null"`).
    pub cluster: Option<String>,
    pub reviews: Vec<ReviewView>,
}

#[derive(Debug, PartialEq)]
pub struct ReviewView {
    pub reviewer: String,
    pub text: String,
    pub rating: Rating,
}

#[derive(Debug, PartialEq)]
pub enum Rating {
    /// `filled` stars in the review's colour, then `outline` empty ones up to five.
    Stars {
        filled: usize,
        outline: usize,
        color: String,
    },
    /// The rating could not be fetched; reviews says why.
    Error(String),
    /// No rating to show (reviews v1, or zero stars).
    Absent,
}

/// `GET /` and `GET /index.html`.
pub async fn index(State(state): State<AppState>) -> Result<Html<String>, Error> {
    let page = IndexPage {
        details: &state.config.details_url,
        reviews: &state.config.reviews_url,
        ratings: &state.config.ratings_url,
    };
    Ok(Html(page.render()?))
}

/// `GET /productpage`: details, then (FLOOD_FACTOR extra calls, then) reviews; always 200.
pub async fn product_page(
    State(state): State<AppState>,
    Caller { forwarded, user }: Caller,
) -> Result<Response, Error> {
    let backends = &state.backends;
    let details = backends.details(PRODUCT_ID, &forwarded).await;
    backends
        .flood_reviews(PRODUCT_ID, &forwarded, state.config.flood_factor)
        .await;
    let reviews = backends.reviews(PRODUCT_ID, &forwarded).await;
    let trace = trace_link(
        state.config.trace_ui_url.as_deref(),
        forwarded.trace.as_ref().and_then(|t| t.sampled_trace_id()),
    );
    let page = ProductPage {
        user,
        title: TITLE,
        description: DESCRIPTION_HTML,
        details: details.ok().then(|| details_view(&details.body)),
        details_error: DETAILS_UNAVAILABLE,
        reviews: reviews.ok().then(|| reviews_view(&reviews.body)),
        reviews_error: REVIEWS_UNAVAILABLE,
        trace,
    };
    // A span of its own with TRACE_DETAIL=full.
    let html = tracing::debug_span!("render productpage").in_scope(|| page.render())?;
    let mut resp = Html(html).into_response();
    resp.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Cookie"));
    Ok(resp)
}

/// A JSON value as page text: strings without quotes, missing/null as nothing.
fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

pub fn details_view(body: &Value) -> DetailsView {
    DetailsView {
        isbn10: text(body.get("ISBN-10")),
        publisher: text(body.get("publisher")),
        pages: text(body.get("pages")),
        kind: text(body.get("type")),
        language: text(body.get("language")),
    }
}

pub fn reviews_view(body: &Value) -> ReviewsView {
    let cluster = body
        .get("clustername")
        .map(|c| text(Some(c)))
        .filter(|c| c != "null");
    let reviews = body
        .get("reviews")
        .and_then(Value::as_array)
        .map(|list| list.iter().map(review_view).collect())
        .unwrap_or_default();
    ReviewsView {
        podname: text(body.get("podname")),
        cluster,
        reviews,
    }
}

fn review_view(review: &Value) -> ReviewView {
    ReviewView {
        reviewer: text(review.get("reviewer")),
        text: text(review.get("text")),
        rating: review.get("rating").map_or(Rating::Absent, rating),
    }
}

/// Upstream's rule: truthy `stars` draws stars, else a truthy `error` is shown, else nothing.
fn rating(rating: &Value) -> Rating {
    let stars = rating.get("stars").and_then(Value::as_f64).unwrap_or(0.0) as i64;
    if stars != 0 {
        let filled = stars.clamp(0, MAX_STARS) as usize;
        let outline = (5 - stars).clamp(0, 5) as usize;
        return Rating::Stars {
            filled,
            outline,
            color: text(rating.get("color")),
        };
    }
    // Python truthiness: null, false and "" are not errors worth showing.
    match rating.get("error").map(|e| text(Some(e))) {
        Some(message) if !message.is_empty() && message != "false" => Rating::Error(message),
        _ => Rating::Absent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stars_follow_upstream_counts() {
        let r = |v| rating(&v);
        assert_eq!(
            r(json!({"stars": 4, "color": "black"})),
            Rating::Stars {
                filled: 4,
                outline: 1,
                color: "black".into()
            }
        );
        assert_eq!(
            r(json!({"stars": 7, "color": "red"})),
            Rating::Stars {
                filled: 7,
                outline: 0,
                color: "red".into()
            }
        );
        assert_eq!(r(json!({"stars": 0})), Rating::Absent);
        assert_eq!(
            r(json!({"error": "Ratings service is currently unavailable"})),
            Rating::Error("Ratings service is currently unavailable".into())
        );
    }

    #[test]
    fn cluster_null_is_hidden() {
        let v = reviews_view(&json!({"podname": "p", "clustername": "null", "reviews": []}));
        assert_eq!(v.cluster, None);
        let v = reviews_view(&json!({"podname": "p", "clustername": "east", "reviews": []}));
        assert_eq!(v.cluster.as_deref(), Some("east"));
    }
}
