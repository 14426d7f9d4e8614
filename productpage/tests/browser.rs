//! Drives a real headless Chromium through the sign-in dialog: open /productpage, click
//! "Sign in", type `jason`, submit, see the name and "Sign out", sign out, see "Sign in" again.
//!
//! Chromium is controlled over the DevTools protocol (a WebSocket, JSON commands) with a few
//! lines of client code rather than a browser-automation crate. When no Chromium is installed
//! the test prints a loud SKIPPED line and passes (CI installs the Debian package `chromium`).

#![allow(clippy::unwrap_used)] // Tests fail loudly on anything unexpected.

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use helpers::{Backends, spawn_with};

/// Upper bound for any single wait (browser start, a page load, a click's effect).
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_and_out_in_a_real_browser() {
    let Some(browser) = find_chromium() else {
        eprintln!(
            "\n*** SKIPPED: chromium not found (install the Debian package `chromium`) ***\n"
        );
        return;
    };
    let backends = Backends::healthy().await;
    let app = spawn_with(&backends, &[]).await;
    let url = app.url("/productpage");
    tokio::task::spawn_blocking(move || drive(&browser, &url))
        .await
        .unwrap();
    let last = backends.details.requests().pop().unwrap();
    assert_eq!(last.header("end-user"), None, "signed out at the end");
    let users: Vec<_> = backends
        .details
        .requests()
        .iter()
        .filter_map(|r| r.header("end-user").map(str::to_owned))
        .collect();
    assert_eq!(
        users,
        ["jason"],
        "exactly the signed-in page view carried end-user"
    );
}

/// In participating mode with `TRACE_UI_URL`, the page shows its trace id as a visible link into
/// the tracing UI, whose address carries the same id. With `TRACE_LINK_SCREENSHOT=<file>` the
/// page is saved there as a PNG (productpage/scripts/screenshots.sh writes
/// docs/screenshots/trace-link.png so).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trace_link_in_a_real_browser() {
    let Some(browser) = find_chromium() else {
        eprintln!(
            "\n*** SKIPPED: chromium not found (install the Debian package `chromium`) ***\n"
        );
        return;
    };
    let backends = Backends::healthy().await;
    let sink = bookinfo_testing::FakeServer::always(bookinfo_testing::Reply::status(200)).await;
    let endpoint = sink.base_url();
    let template = "http://localhost:16686/trace/{trace_id}";
    let app = spawn_with(
        &backends,
        &[
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("TRACE_UI_URL", template),
        ],
    )
    .await;
    let url = app.url("/productpage");
    let shot_to = std::env::var_os("TRACE_LINK_SCREENSHOT").map(std::path::PathBuf::from);
    let (id, href) = tokio::task::spawn_blocking(move || {
        let profile =
            std::env::temp_dir().join(format!("productpage-trace-link-{}", std::process::id()));
        let mut chromium = Browser::launch(&browser, &profile, &url);
        let mut page = chromium.page();
        page.wait_for(
            "document.readyState === 'complete' && !!document.getElementById('trace-link')",
        );
        let link = page.eval(
            "(() => { const a = document.getElementById('trace-link');
                     const box = a.getBoundingClientRect();
                     return [a.textContent, a.getAttribute('href'), box.width > 0 && box.height > 0]; })()",
        );
        assert_eq!(link[2], json!(true), "the link is visible");
        if let Some(path) = shot_to {
            page.eval("document.getElementById('trace-link').scrollIntoView({block: 'center'})");
            std::fs::write(&path, page.screenshot()).unwrap();
        }
        drop(page);
        chromium.stop();
        (
            link[0].as_str().unwrap().to_owned(),
            link[1].as_str().unwrap().to_owned(),
        )
    })
    .await
    .unwrap();
    assert_eq!(id.len(), 32, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    assert_eq!(href, format!("http://localhost:16686/trace/{id}"));
    let sent = backends.details.requests().pop().unwrap();
    let traceparent = sent.header("traceparent").unwrap();
    assert_eq!(
        traceparent.split('-').nth(1),
        Some(id.as_str()),
        "the trace the page made"
    );
}

fn drive(browser: &str, url: &str) {
    let profile = std::env::temp_dir().join(format!("productpage-browser-{}", std::process::id()));
    let mut chromium = Browser::launch(browser, &profile, url);
    let mut page = chromium.page();

    page.wait_for(
        "document.readyState === 'complete' && !!document.getElementById('sign-in-button')",
    );
    assert_eq!(page.eval("document.title"), json!("Simple Bookstore App"));
    assert_eq!(
        page.eval("document.getElementById('dialog').open"),
        json!(false)
    );

    page.eval("document.getElementById('sign-in-button').click()");
    page.wait_for("document.getElementById('dialog').open === true");
    page.eval(
        "document.getElementById('username').value = 'jason';
         document.getElementById('password').value = 'secret';
         document.querySelector('#dialog button[type=submit]').click()",
    );
    page.wait_for(
        "document.readyState === 'complete'
         && document.querySelector('.user')?.textContent === 'jason'
         && document.querySelector('a[href=\"logout\"]')?.textContent === 'Sign out'
         && !document.getElementById('sign-in-button')",
    );
    assert_eq!(page.eval("location.pathname"), json!("/productpage"));

    page.eval("document.querySelector('a[href=\"logout\"]').click()");
    page.wait_for(
        "document.readyState === 'complete'
         && document.getElementById('sign-in-button')?.textContent === 'Sign in'
         && !document.querySelector('.user')",
    );
    drop(page);
    chromium.stop();
}

fn find_chromium() -> Option<String> {
    if let Ok(path) = std::env::var("CHROMIUM") {
        return Some(path);
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in [
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate.to_string_lossy().into_owned());
            }
        }
    }
    None
}

/// A headless Chromium process, killed (and its profile removed) when dropped, also when a
/// step panics.
struct Browser {
    child: Child,
    devtools_port: u16,
    profile: std::path::PathBuf,
}

impl Browser {
    fn launch(binary: &str, profile: &std::path::Path, url: &str) -> Browser {
        let mut child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--remote-debugging-port=0",
                "--window-size=1280,900",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        // Chromium announces its DevTools endpoint on stderr.
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("DevTools listening on ws://127.0.0.1:") {
                    let port = rest.split('/').next().unwrap_or_default().parse::<u16>();
                    let _ = tx.send(port);
                }
            }
        });
        let port = match rx.recv_timeout(STEP_TIMEOUT) {
            Ok(Ok(port)) => port,
            other => {
                let _ = child.kill();
                panic!("chromium did not announce its DevTools port: {other:?}");
            }
        };
        Browser {
            child,
            devtools_port: port,
            profile: profile.to_owned(),
        }
    }

    /// A DevTools connection to the (single) page the browser opened.
    fn page(&self) -> Page {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            if let Some(ws_url) = self.page_target() {
                let (socket, _) =
                    tungstenite::connect(ws_url.as_str()).expect("connect to the page");
                if let MaybeTlsStream::Plain(tcp) = socket.get_ref() {
                    tcp.set_read_timeout(Some(STEP_TIMEOUT)).unwrap();
                }
                return Page { socket, next_id: 1 };
            }
            assert!(
                Instant::now() < deadline,
                "no page target appeared on port {}: {:?}",
                self.devtools_port,
                http_get(self.devtools_port, "/json/list")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn page_target(&self) -> Option<String> {
        let list = http_get(self.devtools_port, "/json/list")?;
        let targets: Value = serde_json::from_str(&list).ok()?;
        targets
            .as_array()?
            .iter()
            .find(|t| t["type"] == "page")
            .and_then(|t| t["id"].as_str())
            .map(|id| format!("ws://127.0.0.1:{}/devtools/page/{id}", self.devtools_port))
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A minimal HTTP GET against the DevTools HTTP endpoint, which keeps connections open: the
/// body is read up to its announced length.
fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};

    let mut tcp = TcpStream::connect(("127.0.0.1", port)).ok()?;
    tcp.set_read_timeout(Some(STEP_TIMEOUT)).ok()?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = tcp.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        response.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&response);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head.lines().find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            });
            if length.is_some_and(|len| body.len() >= len) {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&response).into_owned();
    text.split_once("\r\n\r\n").map(|(_, body)| body.to_owned())
}

struct Page {
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl Page {
    /// Evaluate `expression` in the page; `Err` while the page is navigating or on an exception.
    fn try_eval(&mut self, expression: &str) -> Result<Value, String> {
        let params =
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true });
        let result = self.call("Runtime.evaluate", params)?;
        if let Some(exception) = result.get("exceptionDetails") {
            return Err(exception.to_string());
        }
        Ok(result["result"]["value"].clone())
    }

    /// Send one DevTools command and return its result.
    fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        let command = json!({ "id": id, "method": method, "params": params });
        self.socket
            .send(Message::text(command.to_string()))
            .map_err(|e| e.to_string())?;
        loop {
            let message = self.socket.read().map_err(|e| e.to_string())?;
            let Message::Text(text) = message else {
                continue;
            };
            let reply: Value = serde_json::from_str(text.as_str()).map_err(|e| e.to_string())?;
            if reply["id"] != id {
                continue; // an event
            }
            if let Some(error) = reply.get("error") {
                return Err(error.to_string());
            }
            return Ok(reply["result"].clone());
        }
    }

    /// The visible part of the page as PNG bytes.
    fn screenshot(&mut self) -> Vec<u8> {
        use base64::Engine as _;
        let shot = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .unwrap_or_else(|e| panic!("screenshot: {e}"));
        let data = shot["data"].as_str().expect("PNG data");
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("base64 PNG")
    }

    fn eval(&mut self, expression: &str) -> Value {
        self.try_eval(expression)
            .unwrap_or_else(|e| panic!("evaluating {expression}: {e}"))
    }

    /// Poll until `condition` is true in the page (navigations in between are fine).
    fn wait_for(&mut self, condition: &str) {
        let deadline = Instant::now() + STEP_TIMEOUT;
        let mut last = Ok(Value::Null);
        while Instant::now() < deadline {
            last = self.try_eval(condition);
            if last == Ok(Value::Bool(true)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let html = self.try_eval("document.body && document.body.innerText");
        panic!("timed out waiting for {condition}; last result {last:?}; page: {html:?}");
    }
}
