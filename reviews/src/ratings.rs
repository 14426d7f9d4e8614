//! The call to the ratings service (reviews v2/v3) and how its answer is read.
//!
//! One GET, no retry, bounded by the colour-dependent timeout and a 1 MiB answer, carrying the forwarded headers of
//! the request being served (`end-user` among them, which is what lets Istio route jason's
//! reviews→ratings hop). Any failure is reported per reviewer inside a 200 answer, never as an
//! error status: productpage shows "Ratings service is currently unavailable" for it.

use std::time::Duration;

use bookinfo_core::client::{Client, MAX_RESPONSE_BODY, read_body};
use bookinfo_core::headers::Forwarded;
use http::StatusCode;
use http::header::{ACCEPT, HeaderValue};
use serde_json::Value;

use crate::body::REVIEWS;

/// Destination label of the ratings call in metrics.
const DESTINATION: &str = "ratings";

/// Each reviewer's stars, `None` where unavailable.
pub type Stars = [Option<i32>; 2];

/// Ask ratings for `product_id`; every failure becomes "unavailable" for both reviewers.
pub async fn fetch(
    client: &Client,
    base: &str,
    product_id: i32,
    timeout: Duration,
    forwarded: &Forwarded,
) -> Stars {
    let url = format!("{base}/ratings/{product_id}");
    // Upstream's Java client asks for JSON; that header is this call's own, not forwarded.
    let accept = [(ACCEPT, HeaderValue::from_static("application/json"))];
    let outcome = match client
        .call_with(DESTINATION, &url, forwarded, &accept, timeout, 0)
        .await
    {
        Err(err) => Err(err.to_string()),
        Ok(resp) if resp.status() != StatusCode::OK => {
            Err(format!("ratings answered {}", resp.status()))
        }
        Ok(resp) => match read_body(resp, MAX_RESPONSE_BODY).await {
            Ok(body) => read_ratings(&body),
            Err(err) => Err(format!("reading the ratings answer failed: {err}")),
        },
    };
    match outcome {
        Ok(stars) => stars,
        Err(cause) => {
            // While ratings is down every request fails the same way: a few lines a minute,
            // each saying how many were left out, not one per request.
            bookinfo_core::throttled_warn!("ratings-unavailable", %url, %cause, "ratings unavailable");
            [None, None]
        }
    }
}

/// Read a 200 answer: `{"ratings": {"Reviewer1": n, "Reviewer2": m}}`. Without a `ratings`
/// object (ratings v2 reports database trouble that way) both are unavailable; a missing or
/// non-integer reviewer is unavailable on its own. Upstream fails the whole request on a body
/// that is not JSON; we report it as unavailable like every other ratings failure.
pub fn read_ratings(body: &[u8]) -> Result<Stars, String> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| format!("ratings answered invalid JSON: {e}"))?;
    let ratings = doc
        .get("ratings")
        .and_then(Value::as_object)
        .ok_or_else(|| format!("ratings answered without ratings: {doc}"))?;
    Ok(REVIEWS.map(|(reviewer, _)| {
        ratings
            .get(reviewer)
            .and_then(Value::as_i64)
            .and_then(|n| i32::try_from(n).ok())
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_reviewers() {
        let body = br#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#;
        assert_eq!(read_ratings(body), Ok([Some(5), Some(4)]));
    }

    #[test]
    fn a_missing_or_odd_reviewer_is_unavailable_alone() {
        assert_eq!(
            read_ratings(br#"{"id":0,"ratings":{"Reviewer1":3}}"#),
            Ok([Some(3), None])
        );
        assert_eq!(
            read_ratings(br#"{"ratings":{"Reviewer1":"5","Reviewer2":0}}"#),
            Ok([None, Some(0)])
        );
        assert_eq!(
            read_ratings(br#"{"ratings":{"Reviewer1":4.5,"Reviewer2":99999999999}}"#),
            Ok([None, None])
        );
    }

    #[test]
    fn no_ratings_object_or_no_json_is_an_error() {
        for body in [
            &br#"{"error":"could not connect to ratings database"}"#[..],
            br#"{"ratings":[5,4]}"#,
            b"not json",
            b"",
        ] {
            assert!(
                read_ratings(body).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
