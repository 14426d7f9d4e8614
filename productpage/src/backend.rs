//! Calls to details, reviews and ratings, with upstream's exact success and status rules.
//!
//! A call succeeds only when a response arrived with status 200 and a JSON body. Otherwise the
//! caller gets the backend's status (or 500 when no response arrived) and upstream's error text
//! word for word, because istio.io's tasks grep the page for those sentences. reviews is tried
//! twice: upstream keeps that retry on purpose for the fault-injection task (3 s × 2 ≈ 6 s).
//!
//! Every logical call (a 2-attempt reviews call counts once) increments
//! `request_result_total{destination_app, response_code}`, as upstream does.

use std::sync::Arc;
use std::time::Duration;

use bookinfo_core::Instruments;
use bookinfo_core::client::{Client, MAX_RESPONSE_BODY, read_body};
use bookinfo_core::headers::Forwarded;
use bookinfo_core::metrics::status_label;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use prometheus::{IntCounterVec, Opts};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::{Value, json};

use crate::config::Config;

/// Error texts shown on the page and returned by the API routes (upstream's, word for word).
pub const DETAILS_UNAVAILABLE: &str =
    "Sorry, product details are currently unavailable for this book.";
pub const REVIEWS_UNAVAILABLE: &str =
    "Sorry, product reviews are currently unavailable for this book.";
pub const RATINGS_UNAVAILABLE: &str =
    "Sorry, product ratings are currently unavailable for this book.";

/// Attempts per reviews call: upstream's loop of two (one retry).
const REVIEWS_ATTEMPTS: u32 = 2;

/// Whether `id` is a product id: an integer, as upstream's ids are (digits with an optional
/// minus sign, at most 19 digits). Anything else never reaches a backend.
pub fn is_product_id(id: &str) -> bool {
    let digits = id.strip_prefix('-').unwrap_or(id);
    (1..=19).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// What stays unencoded in a path segment: letters, digits, `-`, `_` and `~` (not `.`, so no
/// segment can read as `..`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'~');

/// `id` as one URL path segment: whatever it holds, it cannot add segments, a query or a
/// fragment to the backend URL.
fn segment(id: &str) -> percent_encoding::PercentEncode<'_> {
    utf8_percent_encode(id, SEGMENT)
}

/// The outcome of one logical backend call.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    /// 200 on success; otherwise the backend's status, or 500 when no response arrived.
    pub status: u16,
    /// The backend's JSON on success; `{"error": <upstream text>}` otherwise.
    pub body: Value,
}

impl Fetched {
    pub fn ok(&self) -> bool {
        self.status == 200
    }

    /// The outcome of a call whose answer was read as a `Value`: the answer, or `message`.
    fn of(result: Result<Value, u16>, message: &str) -> Self {
        match result {
            Ok(body) => Self { status: 200, body },
            Err(status) => Self::failed(status, message),
        }
    }

    fn failed(status: u16, message: &str) -> Self {
        Self {
            status,
            body: json!({ "error": message }),
        }
    }
}

/// The three backends, the shared client and the `request_result` counter.
#[derive(Debug, Clone)]
pub struct Backends {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: Client,
    details_url: String,
    reviews_url: String,
    ratings_url: String,
    timeout: Duration,
    results: IntCounterVec,
}

impl Backends {
    pub fn new(config: &Config, instruments: &Instruments) -> Self {
        let results = IntCounterVec::new(
            Opts::new("request_result_total", "Results of requests"),
            &["destination_app", "response_code"],
        )
        .expect("constant metric options are valid");
        // Registration fails only if the name is already taken in this registry, which would
        // mean a second Backends for the same Metrics; the counter then still works, unexposed.
        if let Err(e) = instruments
            .metrics
            .registry()
            .register(Box::new(results.clone()))
        {
            tracing::warn!(cause = %e, "request_result counter not registered");
        }
        Self {
            inner: Arc::new(Inner {
                client: instruments.client("productpage", config.connections),
                details_url: config.details_url.clone(),
                reviews_url: config.reviews_url.clone(),
                ratings_url: config.ratings_url.clone(),
                timeout: config.backend_timeout,
                results,
            }),
        }
    }

    /// `GET {details}/details/{id}`, one attempt.
    pub async fn details(&self, id: &str, forwarded: &Forwarded) -> Fetched {
        Fetched::of(
            self.details_as::<Value>(id, forwarded).await,
            DETAILS_UNAVAILABLE,
        )
    }

    /// [`Backends::details`] with the answer read as `T`; `Err` holds the status.
    pub async fn details_as<T: DeserializeOwned>(
        &self,
        id: &str,
        forwarded: &Forwarded,
    ) -> Result<T, u16> {
        let url = format!("{}/details/{}", self.inner.details_url, segment(id));
        let result = match self.attempt("details", &url, forwarded, 0).await {
            Attempt::Json(body) => Ok(body),
            Attempt::Status(status) => Err(status),
        };
        self.count("details", status_of(&result));
        result
    }

    /// `GET {reviews}/reviews/{id}`, up to two attempts; the last attempt's status wins.
    pub async fn reviews(&self, id: &str, forwarded: &Forwarded) -> Fetched {
        Fetched::of(
            self.reviews_as::<Value>(id, forwarded).await,
            REVIEWS_UNAVAILABLE,
        )
    }

    /// [`Backends::reviews`] with the answer read as `T`; `Err` holds the status.
    pub async fn reviews_as<T: DeserializeOwned>(
        &self,
        id: &str,
        forwarded: &Forwarded,
    ) -> Result<T, u16> {
        let url = format!("{}/reviews/{}", self.inner.reviews_url, segment(id));
        let mut result = Err(500);
        for attempt in 0..REVIEWS_ATTEMPTS {
            if attempt > 0 {
                tracing::warn!(destination = "reviews", attempt, "retrying");
            }
            match self.attempt("reviews", &url, forwarded, attempt).await {
                Attempt::Json(body) => {
                    result = Ok(body);
                    break;
                }
                Attempt::Status(s) => result = Err(s),
            }
        }
        self.count("reviews", status_of(&result));
        result
    }

    /// `GET {ratings}/ratings/{id}`, one attempt.
    pub async fn ratings(&self, id: &str, forwarded: &Forwarded) -> Fetched {
        let url = format!("{}/ratings/{}", self.inner.ratings_url, segment(id));
        let fetched = match self.attempt("ratings", &url, forwarded, 0).await {
            Attempt::Json(body) => Ok(body),
            Attempt::Status(status) => Err(status),
        };
        self.count("ratings", status_of(&fetched));
        Fetched::of(fetched, RATINGS_UNAVAILABLE)
    }

    /// What a call for a product id that is not an integer gets, without calling: the status
    /// upstream's backend answers such an id with (details and ratings 400, reviews 404) and the
    /// usual error text, counted like a call.
    pub fn refused(&self, destination: Destination) -> Fetched {
        let (name, status, message) = match destination {
            Destination::Details => ("details", 400, DETAILS_UNAVAILABLE),
            Destination::Reviews => ("reviews", 404, REVIEWS_UNAVAILABLE),
            Destination::Ratings => ("ratings", 400, RATINGS_UNAVAILABLE),
        };
        self.count(name, status);
        Fetched::failed(status, message)
    }

    /// `flood` extra reviews calls whose results are thrown away (FLOOD_FACTOR). They run
    /// concurrently rather than one after another as upstream's do: the point is load on
    /// reviews, and a page view then costs one reviews round trip more, not `flood` more.
    pub async fn flood_reviews(&self, id: &str, forwarded: &Forwarded, flood: usize) {
        if flood == 0 {
            return;
        }
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..flood {
            let backends = self.clone();
            let id = id.to_owned();
            // Each flood call carries the request's trace: its spans hang under this request.
            let forwarded = forwarded.clone();
            // `carry`: what the call logs still lands in this request's trace.
            calls.spawn(bookinfo_core::trace::carry(async move {
                // Checked as JSON like any answer, then dropped unread.
                let _ = backends.reviews_as::<IgnoredAny>(&id, &forwarded).await;
            }));
        }
        while calls.join_next().await.is_some() {}
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        destination: &'static str,
        url: &str,
        forwarded: &Forwarded,
        attempt: u32,
    ) -> Attempt<T> {
        let response = match self
            .inner
            .client
            .call(destination, url, forwarded, self.inner.timeout, attempt)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                bookinfo_core::throttled_warn!("backend-failed", destination, cause = %e, "backend call failed");
                return Attempt::Status(500);
            }
        };
        let status = response.status().as_u16();
        if status != 200 {
            bookinfo_core::throttled_warn!(
                "backend-status",
                destination,
                url,
                status,
                "backend answered with an error"
            );
            return Attempt::Status(status);
        }
        match read_body(response, MAX_RESPONSE_BODY).await {
            Ok(bytes) => match serde_json::from_slice::<T>(&bytes) {
                Ok(body) => Attempt::Json(body),
                Err(e) => {
                    bookinfo_core::throttled_warn!(
                        "backend-json",
                        destination,
                        url,
                        cause = %e,
                        "backend sent invalid JSON"
                    );
                    Attempt::Status(500)
                }
            },
            Err(e) => {
                bookinfo_core::throttled_warn!(
                    "backend-body",
                    destination,
                    url,
                    cause = %e,
                    "reading the backend's answer failed"
                );
                Attempt::Status(500)
            }
        }
    }

    fn count(&self, destination: &str, status: u16) {
        self.inner
            .results
            .with_label_values(&[destination, status_label(status)])
            .inc();
    }
}

/// The three backends, for [`Backends::refused`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    Details,
    Reviews,
    Ratings,
}

enum Attempt<T> {
    Json(T),
    Status(u16),
}

/// The status a logical call is counted with: 200 on success.
fn status_of<T>(result: &Result<T, u16>) -> u16 {
    result.as_ref().map_or_else(|status| *status, |_| 200)
}
