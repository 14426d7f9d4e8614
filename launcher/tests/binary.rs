//! The `bookinfo` binary as a user runs it: it prints where to point a browser, serves the
//! page, and exits 0 on SIGTERM (and Ctrl-C, the same path) after draining.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test]
async fn prints_the_url_serves_the_page_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bookinfo"))
        .args(["--port", "0", "--backend-port-base", "0", "--reviews", "v3"])
        .env("RUST_LOG", "warn")
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
    let banner = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://localhost:"))
        .unwrap_or_else(|| panic!("no URL in {banner:?}"))
        .to_owned();
    assert!(url.ends_with("/productpage"), "{url}");

    let html = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(html.contains("<title>Simple Bookstore App</title>"));
    assert!(html.contains("text-red-500"), "reviews v3 was selected");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "{exit:?}");
}
