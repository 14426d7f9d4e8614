//! The two HTML pages: the index (`/`, `/index.html`) and the product page (`/productpage`).
//!
//! Backend JSON is turned into small view types first, so the templates only decide layout and
//! every value that came from a backend or a user is HTML-escaped by askama. The one exception is
//! the book description, which is our own constant HTML.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

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
#[derive(Debug, Default, PartialEq)]
pub struct DetailsView {
    pub isbn10: String,
    pub publisher: String,
    pub pages: String,
    pub kind: String,
    pub language: String,
}

#[derive(Debug, Default, PartialEq)]
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
    let details = backends
        .details_as::<DetailsView>(PRODUCT_ID, &forwarded)
        .await;
    backends
        .flood_reviews(PRODUCT_ID, &forwarded, state.config.flood_factor)
        .await;
    let reviews = backends
        .reviews_as::<ReviewsView>(PRODUCT_ID, &forwarded)
        .await;
    // The id is only formatted when there is a tracing UI to link to.
    let trace = state.config.trace_ui_url.as_deref().and_then(|template| {
        trace_link(
            Some(template),
            forwarded.trace.as_ref().and_then(|t| t.sampled_trace_id()),
        )
    });
    let page = ProductPage {
        user,
        title: TITLE,
        description: DESCRIPTION_HTML,
        details: details.ok(),
        details_error: DETAILS_UNAVAILABLE,
        reviews: reviews.ok(),
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

// The page reads its backends' answers straight into the views above, without building a
// `serde_json::Value` first. Reading a page view's two answers went from about 37,000
// instructions (parsing into `Value`s 30,000, building the views and freeing the values the
// rest) to about 11,000 (callgrind, pass-through page views; docs/performance.md).
//
// The rules are upstream's reading of a parsed answer, and the tests check them against that
// reading of a `Value`:
//
// * any JSON value is accepted; one that is not an object shows as empty fields;
// * a field's text is a string's own text, nothing for null or a missing field, and the JSON
//   text of anything else (`200`, `true`, `{"a":1}`);
// * of repeated keys, the last one counts;
// * a rating shows stars when `stars` is a non-zero number, else its `error` when that is
//   truthy, else nothing.
//
// Unlike a `Value`, fields the page does not show are skipped without checking that their
// numbers fit an `f64`.

/// A visitor's methods for JSON scalars (booleans, numbers, strings, null), each reading as
/// `$value`.
macro_rules! scalars_read_as {
    ($ty:ty, $value:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<$ty, E> {
            Ok($value)
        }
        fn visit_i64<E>(self, _: i64) -> Result<$ty, E> {
            Ok($value)
        }
        fn visit_u64<E>(self, _: u64) -> Result<$ty, E> {
            Ok($value)
        }
        fn visit_f64<E>(self, _: f64) -> Result<$ty, E> {
            Ok($value)
        }
        fn visit_str<E>(self, _: &str) -> Result<$ty, E> {
            Ok($value)
        }
        fn visit_unit<E>(self) -> Result<$ty, E> {
            Ok($value)
        }
    };
}

/// A JSON object read field by field into `Self`; any other JSON value reads as the default.
trait FromObject: Default {
    /// Reads the value of `key` from `map` (skipping it when the page does not use it).
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error>;
}

/// `T` read from any JSON value (see [`FromObject`]).
struct Object<T>(T);

impl<'de, T: FromObject> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(ObjectVisitor(PhantomData))
            .map(Object)
    }
}

struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: FromObject> Visitor<'de> for ObjectVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut out = T::default();
        while let Some(Key(key)) = map.next_key()? {
            out.field(&key, &mut map)?;
        }
        Ok(out)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        IgnoredAny.visit_seq(seq)?;
        Ok(T::default())
    }

    scalars_read_as!(T, T::default());
}

/// An object key, borrowed from the answer's bytes when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// A JSON value as page text: a string's own text, nothing for null, the JSON text of the rest.
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Text, E> {
                Ok(Text(v))
            }
            fn visit_unit<E>(self) -> Result<Text, E> {
                Ok(Text(String::new()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Text, E> {
                Ok(Text(Value::from(v).to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Text, E> {
                Ok(Text(Value::from(v).to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Text, E> {
                Ok(Text(Value::from(v).to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Text, E> {
                Ok(Text(Value::from(v).to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Text, A::Error> {
                let v = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(Text(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Text, A::Error> {
                let v = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Text(v.to_string()))
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

/// A number as `f64`; anything else as 0 (`Value::as_f64` on upstream's answer, or 0).
struct Number(f64);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NumberVisitor;
        #[allow(clippy::cast_precision_loss)] // as `Value::as_f64` does
        impl<'de> Visitor<'de> for NumberVisitor {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Number, E> {
                Ok(Number(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Number, E> {
                Ok(Number(v))
            }
            fn visit_str<E>(self, _: &str) -> Result<Number, E> {
                Ok(Number(0.0))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Number, E> {
                Ok(Number(0.0))
            }
            fn visit_unit<E>(self) -> Result<Number, E> {
                Ok(Number(0.0))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Number, A::Error> {
                IgnoredAny.visit_seq(seq)?;
                Ok(Number(0.0))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Number, A::Error> {
                IgnoredAny.visit_map(map)?;
                Ok(Number(0.0))
            }
        }
        deserializer.deserialize_any(NumberVisitor)
    }
}

fn text<'de, A: MapAccess<'de>>(map: &mut A) -> Result<String, A::Error> {
    map.next_value::<Text>().map(|t| t.0)
}

fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>().map(drop)
}

impl FromObject for DetailsView {
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "ISBN-10" => self.isbn10 = text(map)?,
            "publisher" => self.publisher = text(map)?,
            "pages" => self.pages = text(map)?,
            "type" => self.kind = text(map)?,
            "language" => self.language = text(map)?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for DetailsView {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Object::deserialize(deserializer).map(|o| o.0)
    }
}

impl FromObject for ReviewsView {
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "podname" => self.podname = text(map)?,
            // Reviews reports "no cluster" as the string "null".
            "clustername" => self.cluster = Some(text(map)?).filter(|c| c != "null"),
            "reviews" => self.reviews = map.next_value::<ReviewList>()?.0,
            _ => skip(map)?,
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for ReviewsView {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Object::deserialize(deserializer).map(|o| o.0)
    }
}

/// The `reviews` list: an array of reviews, or nothing when it is anything else.
struct ReviewList(Vec<ReviewView>);

impl<'de> Deserialize<'de> for ReviewList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = ReviewList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ReviewList, A::Error> {
                let mut list = Vec::with_capacity(seq.size_hint().unwrap_or(2).min(16));
                while let Some(Object(review)) = seq.next_element::<Object<ReviewView>>()? {
                    list.push(review);
                }
                Ok(ReviewList(list))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ReviewList, A::Error> {
                IgnoredAny.visit_map(map)?;
                Ok(ReviewList(Vec::new()))
            }
            scalars_read_as!(ReviewList, ReviewList(Vec::new()));
        }
        deserializer.deserialize_any(ListVisitor)
    }
}

impl Default for ReviewView {
    fn default() -> Self {
        Self {
            reviewer: String::new(),
            text: String::new(),
            rating: Rating::Absent,
        }
    }
}

impl FromObject for ReviewView {
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "reviewer" => self.reviewer = text(map)?,
            "text" => self.text = text(map)?,
            "rating" => self.rating = map.next_value::<Object<RatingFields>>()?.0.rating(),
            _ => skip(map)?,
        }
        Ok(())
    }
}

/// What a review's `rating` object says.
#[derive(Default)]
struct RatingFields {
    stars: f64,
    color: String,
    error: Option<String>,
}

impl FromObject for RatingFields {
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "stars" => self.stars = map.next_value::<Number>()?.0,
            "color" => self.color = text(map)?,
            "error" => self.error = Some(text(map)?),
            _ => skip(map)?,
        }
        Ok(())
    }
}

impl RatingFields {
    /// Upstream's rule: truthy `stars` draws stars, else a truthy `error` is shown, else nothing.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    fn rating(self) -> Rating {
        let stars = self.stars as i64;
        if stars != 0 {
            let filled = stars.clamp(0, MAX_STARS) as usize;
            let outline = (5 - stars).clamp(0, 5) as usize;
            return Rating::Stars {
                filled,
                outline,
                color: self.color,
            };
        }
        // Python truthiness: null, false and "" are not errors worth showing.
        match self.error {
            Some(message) if !message.is_empty() && message != "false" => Rating::Error(message),
            _ => Rating::Absent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Upstream's reading of an answer, written over a parsed `Value`: the oracle the direct
    /// reading above must agree with.
    mod oracle {
        use super::super::{DetailsView, MAX_STARS, Rating, ReviewView, ReviewsView};
        use serde_json::Value;

        fn text(v: Option<&Value>) -> String {
            match v {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            }
        }

        pub fn details(body: &Value) -> DetailsView {
            DetailsView {
                isbn10: text(body.get("ISBN-10")),
                publisher: text(body.get("publisher")),
                pages: text(body.get("pages")),
                kind: text(body.get("type")),
                language: text(body.get("language")),
            }
        }

        pub fn reviews(body: &Value) -> ReviewsView {
            ReviewsView {
                podname: text(body.get("podname")),
                cluster: body
                    .get("clustername")
                    .map(|c| text(Some(c)))
                    .filter(|c| c != "null"),
                reviews: body
                    .get("reviews")
                    .and_then(Value::as_array)
                    .map(|list| list.iter().map(review).collect())
                    .unwrap_or_default(),
            }
        }

        fn review(review: &Value) -> ReviewView {
            ReviewView {
                reviewer: text(review.get("reviewer")),
                text: text(review.get("text")),
                rating: review.get("rating").map_or(Rating::Absent, rating),
            }
        }

        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        fn rating(rating: &Value) -> Rating {
            let stars = rating.get("stars").and_then(Value::as_f64).unwrap_or(0.0) as i64;
            if stars != 0 {
                return Rating::Stars {
                    filled: stars.clamp(0, MAX_STARS) as usize,
                    outline: (5 - stars).clamp(0, 5) as usize,
                    color: text(rating.get("color")),
                };
            }
            match rating.get("error").map(|e| text(Some(e))) {
                Some(m) if !m.is_empty() && m != "false" => Rating::Error(m),
                _ => Rating::Absent,
            }
        }
    }

    const ANSWERS: &[&str] = &[
        // What the services answer.
        r#"{"id":0,"author":"William Shakespeare","year":1595,"type":"paperback","pages":200,"publisher":"PublisherA","language":"English","ISBN-10":"1234567890","ISBN-13":"123-1234567890"}"#,
        r#"{"id":"0","podname":"reviews-v2-abc","clustername":"null","reviews":[{"reviewer":"Reviewer1","text":"An extremely entertaining play by Shakespeare.","rating":{"stars":5,"color":"black"}},{"reviewer":"Reviewer2","text":"Absolutely fun and entertaining.","rating":{"stars":4,"color":"black"}}]}"#,
        r#"{"id":"0","podname":"reviews-v1","clustername":"east","reviews":[{"reviewer":"Reviewer1","text":"t"},{"reviewer":"Reviewer2","text":"u"}]}"#,
        r#"{"reviews":[{"reviewer":"R","text":"t","rating":{"error":"Ratings service is currently unavailable"}}]}"#,
        // Other shapes a backend could send.
        r#"{"pages":"200","type":null,"publisher":true,"language":["en","fr"],"ISBN-10":{"b":1,"a":[2.5,null]}}"#,
        r#"{"pages":1.5e3,"type":-7,"publisher":18446744073709551615,"language":"\u00e9\n\"q\""}"#,
        r#"{"pages":1,"pages":2,"ISBN-10":"x","ISBN-10":null}"#,
        r#"{"clustername":null,"podname":12,"reviews":{"reviewer":"not a list"}}"#,
        r#"{"clustername":"null","clustername":"west","reviews":[1,"two",null,[3],{"rating":7},{"rating":{"stars":"5","error":false}}]}"#,
        r#"{"reviews":[{"rating":{"stars":4.9,"color":{"c":1}}},{"rating":{"stars":-2,"error":"e"}},{"rating":{"stars":0,"error":""}},{"rating":{"stars":1000,"color":"red"}},{"rating":{"stars":0.4,"error":"x"}}]}"#,
        r#"{"reviews":[{"reviewer":"a","reviewer":"b","rating":{"stars":3},"rating":{"stars":2,"color":"blue"}}],"reviews\u0021":[]}"#,
        r#"{"k\u0065y":"escaped keys count: not a known field"}"#,
        "[]",
        "[1,2,{\"pages\":1}]",
        "\"a string\"",
        "42",
        "null",
        "true",
        "{}",
    ];

    #[test]
    fn answers_read_as_upstream_reads_them() {
        for answer in ANSWERS {
            let value: Value = serde_json::from_str(answer).unwrap();
            let details: DetailsView = serde_json::from_str(answer).unwrap();
            assert_eq!(details, oracle::details(&value), "{answer}");
            let reviews: ReviewsView = serde_json::from_str(answer).unwrap();
            assert_eq!(reviews, oracle::reviews(&value), "{answer}");
        }
    }

    #[test]
    fn invalid_json_is_refused_like_a_value() {
        for bad in [
            "",
            "{",
            r#"{"pages":}"#,
            r#"{"reviews":[{"rating":{"stars":1}]}"#,
            "{} x",
            "nul",
        ] {
            assert!(serde_json::from_str::<Value>(bad).is_err(), "{bad}");
            assert!(serde_json::from_str::<DetailsView>(bad).is_err(), "{bad}");
            assert!(serde_json::from_str::<ReviewsView>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stars_follow_upstream_counts() {
        let r = |text: &str| {
            serde_json::from_str::<Object<RatingFields>>(text)
                .unwrap()
                .0
                .rating()
        };
        assert_eq!(
            r(r#"{"stars": 4, "color": "black"}"#),
            Rating::Stars {
                filled: 4,
                outline: 1,
                color: "black".into()
            }
        );
        assert_eq!(
            r(r#"{"stars": 7, "color": "red"}"#),
            Rating::Stars {
                filled: 7,
                outline: 0,
                color: "red".into()
            }
        );
        assert_eq!(r(r#"{"stars": 0}"#), Rating::Absent);
        assert_eq!(
            r(r#"{"error": "Ratings service is currently unavailable"}"#),
            Rating::Error("Ratings service is currently unavailable".into())
        );
    }

    #[test]
    fn cluster_null_is_hidden() {
        let read = |text: &str| serde_json::from_str::<ReviewsView>(text).unwrap().cluster;
        assert_eq!(
            read(r#"{"podname": "p", "clustername": "null", "reviews": []}"#),
            None
        );
        assert_eq!(
            read(r#"{"podname": "p", "clustername": "east", "reviews": []}"#).as_deref(),
            Some("east")
        );
    }
}
