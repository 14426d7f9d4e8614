//! The `bookinfo` binary as a user runs it: it prints where to point a browser, serves the
//! page, and exits 0 on SIGTERM (and Ctrl-C, the same path) after draining.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

#[tokio::test]
async fn prints_the_url_serves_the_page_and_stops_on_sigterm() {
    let (child, rx) = start(&["--reviews", "v3"], &[("RUST_LOG", "warn")]);
    let (banner, before) = line_with(&rx, "http://localhost:");
    assert!(before.is_empty(), "the URL comes first: {before:#?}");
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://localhost:"))
        .unwrap_or_else(|| panic!("no URL in {banner:?}"))
        .to_owned();
    assert!(url.ends_with("/productpage"), "{url}");

    let html = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(html.contains("<title>Simple Bookstore App</title>"));
    assert!(html.contains("text-red-500"), "reviews v3 was selected");

    let exit = stop(child);
    assert!(exit.success(), "{exit:?}");
}

/// Start `bookinfo` with `args` on free ports; its stdout lines arrive on the channel.
fn start(args: &[&str], env: &[(&str, &str)]) -> (Child, Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bookinfo"))
        .args(["--port", "0", "--backend-port-base", "0"])
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// The next line containing `needle` (within 30 s), and the lines skipped on the way.
fn line_with(rx: &Receiver<String>, needle: &str) -> (String, Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut before = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return (line, before),
            Ok(line) => before.push(line),
            Err(e) => panic!("no line with {needle:?} ({e}); got {before:#?}"),
        }
    }
}

fn port_after(line: &str, prefix: &str) -> u16 {
    let rest = &line[line.find(prefix).unwrap() + prefix.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Send SIGTERM and wait (at most 20 s) for the exit.
fn stop(mut child: Child) -> ExitStatus {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = Instant::now();
    loop {
        if let Some(exit) = child.try_wait().unwrap() {
            return exit;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `--traces`: each page view's trace is printed as a complete tree with its verdict, and the
/// same traces are served as JSON on the trace view's port; health probes make no trace.
#[tokio::test]
async fn traces_flag_prints_each_page_views_tree() {
    let (child, rx) = start(&["--reviews", "v2", "--traces", "--traces-port", "0"], &[]);
    let (banner, _) = line_with(&rx, "/productpage");
    let page_port = port_after(&banner, "http://localhost:");
    let (view_line, _) = line_with(&rx, "/traces");
    let view_port = port_after(&view_line, "http://localhost:");

    let c = reqwest::Client::new();
    let health = c
        .get(format!("http://localhost:{page_port}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let page = c
        .get(format!("http://localhost:{page_port}/productpage"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let body = page.text().await.unwrap();

    let (header, _) = line_with(&rx, "trace ");
    assert!(header.ends_with("7 spans  complete"), "{header}");
    let tree: Vec<String> = (0..7)
        .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap())
        .collect();
    let expected = [
        "  productpage SERVER GET /productpage",
        "    productpage CLIENT GET details",
        "      details SERVER GET /details/{*rest}",
        "    productpage CLIENT GET reviews",
        "      reviews SERVER GET /reviews/{product_id}",
        "        reviews CLIENT GET ratings",
        "          ratings SERVER GET /ratings/{*rest}",
    ];
    assert_eq!(tree, expected);

    let report: serde_json::Value = c
        .get(format!("http://localhost:{view_port}/traces"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let traces = report["traces"].as_array().unwrap();
    assert_eq!(traces.len(), 1, "the health probe made no trace: {report}");
    assert_eq!(traces[0]["violations"], serde_json::json!([]));
    let trace_id = traces[0]["trace_id"].as_str().unwrap();
    assert!(header.contains(trace_id));

    // The page links to its trace in the view, and that link shows it judged complete.
    let link = format!("http://localhost:{view_port}/traces/{trace_id}");
    assert!(body.contains(&format!("href=\"{link}\"")), "{body}");
    let one: serde_json::Value = c.get(&link).send().await.unwrap().json().await.unwrap();
    assert_eq!(one["trace_id"], trace_id);
    assert_eq!(one["complete"], true, "{one}");
    assert_eq!(one["spans"], 7);
    stop(child);
}

/// In the one process, every access line names the service (and version) that wrote it, and
/// so do the drain and exit lines.
#[tokio::test]
async fn every_log_line_names_its_service() {
    let (child, rx) = start(
        &["--reviews", "all"],
        &[("RUST_LOG", "info"), ("LOG_FORMAT", "json")],
    );
    let (banner, _) = line_with(&rx, "Open http://localhost:");
    let page_port = port_after(&banner, "http://localhost:");
    for _ in 0..3 {
        let page = reqwest::get(format!("http://localhost:{page_port}/productpage"))
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
    }
    stop(child);
    let lines: Vec<serde_json::Value> = rx
        .iter()
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect();
    let named = |v: &serde_json::Value| {
        let span = &v["span"];
        format!(
            "{}-{}",
            span["service"].as_str().unwrap_or("?"),
            span["version"].as_str().unwrap_or("?")
        )
    };
    let mut access: Vec<String> = lines
        .iter()
        .filter(|v| v["target"] == "access")
        .map(named)
        .collect();
    access.sort();
    access.dedup();
    assert_eq!(
        access,
        [
            "details-v1",
            "productpage-v1",
            "ratings-v1",
            "reviews-v1",
            "reviews-v2",
            "reviews-v3"
        ]
    );
    let drained: Vec<String> = lines
        .iter()
        .filter(|v| v["message"] == "drained; exiting")
        .map(named)
        .collect();
    assert_eq!(drained.len(), 6, "{drained:?}");
    assert!(!drained.iter().any(|n| n.contains('?')), "{drained:?}");
}
