//! `bookinfo-load` against the real BookInfo (all four services, reviews v1, v2 and v3 in
//! rotation, on loopback ports): a counted run's summary adds up and names the versions the
//! pages showed; failures and bad arguments are reported.

#![allow(clippy::unwrap_used)]

use std::process::Output;
use std::sync::Arc;

use bookinfo_launcher::{ReviewsChoice, Stack, StackOptions};
use serde_json::{Value, json};

async fn load(args: &[&str]) -> Output {
    let exe = env!("CARGO_BIN_EXE_bookinfo-load");
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || std::process::Command::new(exe).args(args).output())
        .await
        .unwrap()
        .unwrap()
}

async fn stack() -> (Stack, String) {
    let env: Arc<Vec<(String, String)>> = Arc::new(Vec::new());
    let stack = Stack::start(StackOptions::ephemeral(ReviewsChoice::All), env)
        .await
        .unwrap();
    let url = format!("http://{}", stack.productpage);
    (stack, url)
}

fn summary(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// 60 anonymous page views through the round-robin over three reviews versions: each version
/// serves exactly a third of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_views_see_every_reviews_version_in_turn() {
    let (stack, url) = stack().await;
    let out = load(&[
        &url,
        "--requests",
        "60",
        "--concurrency",
        "3",
        "--mix",
        "anonymous=1",
        "--json",
    ])
    .await;
    let s = summary(&out);
    assert_eq!(s["requests"], 60);
    assert_eq!(s["errors"], 0);
    assert_eq!(s["by_status"], json!({"200": 60}));
    assert_eq!(s["by_route"], json!({"GET /productpage": 60}));
    assert_eq!(s["reviews_versions"], json!({"v1": 20, "v2": 20, "v3": 20}));
    assert_eq!(
        s["reviews_versions_by_user"],
        json!({"anonymous": {"v1": 20, "v2": 20, "v3": 20}})
    );
    let l = &s["latency_ms"];
    for p in ["p50", "p90", "p99", "max"] {
        assert!(l[p].as_f64().unwrap() > 0.0, "{p}: {l}");
    }
    assert!(l["p50"].as_f64() <= l["p99"].as_f64() && l["p99"].as_f64() <= l["max"].as_f64());
    assert!(
        out.stderr.is_empty(),
        "no progress line when stderr is not a terminal"
    );
    stack.stop().await.unwrap();
}

/// One user signs in once (POST /login answers 302 with the session cookie), then every view
/// is counted as theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_user_logs_in_once_then_views_as_themselves() {
    let (stack, url) = stack().await;
    let out = load(&[
        &url,
        "-n",
        "12",
        "-c",
        "1",
        "--mix",
        "signed-in=1",
        "--users",
        "jason",
        "--json",
    ])
    .await;
    let s = summary(&out);
    assert_eq!(s["requests"], 12);
    assert_eq!(s["by_status"], json!({"200": 11, "302": 1}));
    assert_eq!(
        s["by_route"],
        json!({"POST /login": 1, "GET /productpage (signed in)": 11})
    );
    let jason = s["reviews_versions_by_user"]["jason"].as_object().unwrap();
    assert_eq!(jason.values().map(|v| v.as_u64().unwrap()).sum::<u64>(), 11);
    assert!(s["reviews_versions_by_user"].get("anonymous").is_none());
    stack.stop().await.unwrap();
}

/// The default mix, in text: anonymous and signed-in views and API calls, all counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_mix_adds_up() {
    let (stack, url) = stack().await;
    let out = load(&[&url, "--requests", "100", "--json"]).await;
    let s = summary(&out);
    assert_eq!(s["requests"], 100);
    let total = |key: &str| -> u64 {
        s[key]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum()
    };
    assert_eq!(total("by_status"), 100);
    assert_eq!(total("by_route"), 100);
    // 5:3:2 of 100: 50 anonymous views, 30 signed-in requests (a login per user, three users
    // over four workers; two workers sharing a user may both sign in before either has the
    // cookie), 20 API calls, five to each route.
    let r = &s["by_route"];
    assert_eq!(r["GET /productpage"], 50);
    let logins = r["POST /login"].as_u64().unwrap();
    assert!((1..=4).contains(&logins), "{r}");
    assert_eq!(
        r["GET /productpage (signed in)"].as_u64().unwrap() + logins,
        30
    );
    for route in [
        "/api/v1/products",
        "/api/v1/products/0",
        "/api/v1/products/0/reviews",
        "/api/v1/products/0/ratings",
    ] {
        assert_eq!(r[format!("GET {route}")], 5, "{r}");
    }
    assert_eq!(
        total("reviews_versions"),
        100 - logins - 20,
        "every page view classified"
    );
    assert_eq!(s["reviews_versions"].get("unknown"), None);

    let text = load(&[&url, "--requests", "10"]).await;
    assert!(text.status.success());
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.starts_with(&format!("10 requests to {url} in ")),
        "{text}"
    );
    assert!(text.contains("\n  latency   p50 "), "{text}");
    assert!(text.contains("\n  routes         "), "{text}");
    stack.stop().await.unwrap();
}

/// Nothing listening: every request is an error, and the exit status says so.
#[tokio::test]
async fn failures_are_counted_and_fail_the_run() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let out = load(&[&url, "--requests", "5", "--json"]).await;
    assert_eq!(out.status.code(), Some(1));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["requests"], 5);
    assert_eq!(s["errors"], 5);
    assert_eq!(s["by_status"], json!({"error": 5}));
    assert!(
        s["first_errors"][0]
            .as_str()
            .unwrap()
            .starts_with("could not connect: "),
        "{s}"
    );
}

#[tokio::test]
async fn bad_arguments_get_a_clear_message() {
    for (args, says) in [
        (vec!["--concurrency", "0"], "--concurrency"),
        (vec!["--mix", "browse=1"], "unknown kind \"browse\""),
        (vec!["--rate", "fast"], "is not a rate"),
        (vec!["--duration", "soon"], "is not a duration"),
        (vec!["localhost:9080"], "not an http:// or https:// address"),
    ] {
        let out = load(&args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
}
