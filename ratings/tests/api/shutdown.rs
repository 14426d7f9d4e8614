//! Graceful shutdown (docs/compatibility.md, item 89): in-flight requests finish, then the
//! server stops.

use std::time::{Duration, Instant};

use crate::helpers::{default_ratings, spawn_app};

#[tokio::test]
async fn in_flight_requests_finish_after_shutdown_starts() {
    let app = spawn_app(&[
        ("SERVICE_VERSION", "v-delayed"),
        ("RATINGS_FAULT_PROBABILITY", "1"),
        ("RATINGS_DELAY_SECONDS", "0.5"),
    ])
    .await;
    let url = app.url("/ratings/0");
    let started = Instant::now();
    let in_flight = tokio::spawn(reqwest::get(url.clone()));
    tokio::time::sleep(Duration::from_millis(150)).await;

    // Shut down while the delayed request is still being served.
    app.stop().await.unwrap();
    let resp = in_flight.await.unwrap().unwrap();
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), default_ratings(0));

    // And nothing is accepted any more.
    assert!(reqwest::get(url).await.is_err());
}
