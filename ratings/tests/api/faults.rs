//! Fault modes (docs/compatibility.md, items 80–83), with shortened periods and delays.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;

use crate::helpers::{Answer, client, default_ratings, get, send_via, spawn_app};

const UNAVAILABLE: &str = r#"{"error":"Service unavailable"}"#;
const HEALTHY: &str = r#"{"status":"Ratings is healthy"}"#;
const UNHEALTHY: &str = r#"{"status":"Ratings is not healthy"}"#;

/// `n` concurrent `GET /ratings/0`, each with its duration.
async fn many_gets(env: &[(&str, &str)], n: usize) -> Vec<(Answer, Duration)> {
    let app = Arc::new(spawn_app(env).await);
    let client = client();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let app = app.clone();
        let client = client.clone();
        tasks.spawn(async move {
            let started = Instant::now();
            let answer = send_via(&client, &app, Method::GET, "/ratings/0", "").await;
            (answer, started.elapsed())
        });
    }
    let mut out = Vec::new();
    while let Some(done) = tasks.join_next().await {
        out.push(done.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn faulty_fails_every_request_at_probability_one() {
    for (answer, _) in many_gets(
        &[
            ("SERVICE_VERSION", "v-faulty"),
            ("RATINGS_FAULT_PROBABILITY", "1"),
        ],
        20,
    )
    .await
    {
        answer.assert_json(503, UNAVAILABLE);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn faulty_fails_nothing_at_probability_zero() {
    for (answer, _) in many_gets(
        &[
            ("SERVICE_VERSION", "v-faulty"),
            ("RATINGS_FAULT_PROBABILITY", "0"),
        ],
        20,
    )
    .await
    {
        answer.assert_json(200, &default_ratings(0));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn faulty_fails_about_half_by_default() {
    // 80. 200 fair coin flips: the bounds are more than 5 standard deviations (≈7) wide.
    let answers = many_gets(&[("SERVICE_VERSION", "v-faulty")], 200).await;
    let mut failed = 0;
    for (answer, _) in &answers {
        if answer.status == 503 {
            answer.assert_json(503, UNAVAILABLE);
            failed += 1;
        } else {
            answer.assert_json(200, &default_ratings(0));
        }
    }
    assert!((60..=140).contains(&failed), "{failed} of 200 failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn faulty_stays_healthy() {
    let app = spawn_app(&[
        ("SERVICE_VERSION", "v-faulty"),
        ("RATINGS_FAULT_PROBABILITY", "1"),
    ])
    .await;
    get(&app, "/health").await.assert_json(200, HEALTHY);
}

#[tokio::test(flavor = "multi_thread")]
async fn delayed_delays_about_half_by_default() {
    // 81, with a 1 s delay instead of 7 s. 60 fair coin flips, bounds > 4.5 standard
    // deviations (≈3.9) wide.
    let delay = Duration::from_secs(1);
    let answers = many_gets(
        &[
            ("SERVICE_VERSION", "v-delayed"),
            ("RATINGS_DELAY_SECONDS", "1"),
        ],
        60,
    )
    .await;
    let mut slow = 0;
    for (answer, took) in &answers {
        answer.assert_json(200, &default_ratings(0));
        if *took >= delay {
            slow += 1;
        }
    }
    assert!((12..=48).contains(&slow), "{slow} of 60 were delayed");
}

#[tokio::test(flavor = "multi_thread")]
async fn delayed_at_probability_one_always_waits() {
    let answers = many_gets(
        &[
            ("SERVICE_VERSION", "v-delayed"),
            ("RATINGS_DELAY_SECONDS", "0.3"),
            ("RATINGS_FAULT_PROBABILITY", "1"),
        ],
        10,
    )
    .await;
    for (answer, took) in answers {
        answer.assert_json(200, &default_ratings(0));
        assert!(
            took >= Duration::from_millis(300),
            "answered after {took:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn delayed_at_probability_zero_never_waits() {
    let answers = many_gets(
        &[
            ("SERVICE_VERSION", "v-delayed"),
            ("RATINGS_DELAY_SECONDS", "5"),
            ("RATINGS_FAULT_PROBABILITY", "0"),
        ],
        10,
    )
    .await;
    for (answer, took) in answers {
        answer.assert_json(200, &default_ratings(0));
        assert!(took < Duration::from_secs(5), "answered after {took:?}");
    }
}

/// Sleep until `at` after `start` (the middle of a phase, far from its edges).
async fn until(start: Instant, at: Duration) {
    tokio::time::sleep_until((start + at).into()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unavailable_toggles_every_period() {
    // 82, with a 3 s period instead of 60 s; checks happen mid-phase, 1.5 s from either edge,
    // so a slow start on a loaded machine cannot move a check into the wrong phase.
    let start = Instant::now();
    let app = spawn_app(&[
        ("SERVICE_VERSION", "v-unavailable"),
        ("RATINGS_FAULT_PERIOD_SECONDS", "3"),
    ])
    .await;
    get(&app, "/ratings/0")
        .await
        .assert_json(200, &default_ratings(0));
    until(start, Duration::from_millis(4500)).await;
    get(&app, "/ratings/0").await.assert_json(503, UNAVAILABLE);
    // Only GETs are affected, and the service stays healthy.
    get(&app, "/health").await.assert_json(200, HEALTHY);
    until(start, Duration::from_millis(7500)).await;
    get(&app, "/ratings/0")
        .await
        .assert_json(200, &default_ratings(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn unhealthy_toggles_gets_and_health_together() {
    // 83, with a 3 s period instead of 900 s.
    let start = Instant::now();
    let app = spawn_app(&[
        ("SERVICE_VERSION", "v-unhealthy"),
        ("RATINGS_FAULT_PERIOD_SECONDS", "3"),
    ])
    .await;
    get(&app, "/ratings/0")
        .await
        .assert_json(200, &default_ratings(0));
    get(&app, "/health").await.assert_json(200, HEALTHY);
    until(start, Duration::from_millis(4500)).await;
    get(&app, "/ratings/0").await.assert_json(503, UNAVAILABLE);
    get(&app, "/health").await.assert_json(500, UNHEALTHY);
    until(start, Duration::from_millis(7500)).await;
    get(&app, "/ratings/0")
        .await
        .assert_json(200, &default_ratings(0));
    get(&app, "/health").await.assert_json(200, HEALTHY);
}
