//! The outbound client against small real servers that misbehave on the wire: the call's
//! timeout covers the answer's head and its body, a bad URL is an error and not a panic, and
//! what goes out carries the headers HTTP clients add.

use std::net::SocketAddr;
use std::time::Duration;

use bookinfo_core::client::{BodyError, CallError, Client, MAX_RESPONSE_BODY, Response, read_body};
use bookinfo_core::headers::Forwarded;
use bookinfo_core::{Connections, Metrics};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const TIMEOUT: Duration = Duration::from_millis(300);

fn client() -> Client {
    Client::new(Metrics::new("client"), "bookinfo-test", Connections::Pooled)
}

/// `GET url` with nothing forwarded, given up by the test after 20 s so that a client that
/// never gives up by itself fails the test instead of hanging the run.
async fn get(url: &str) -> Result<Response, CallError> {
    let (client, forwarded) = (client(), Forwarded::default());
    let call = client.call("backend", url, &forwarded, TIMEOUT, 0);
    tokio::time::timeout(Duration::from_secs(20), call)
        .await
        .expect("the call gives up by itself")
}

/// A server that reads each request's head, hands it to the test, writes `answer` and then
/// keeps the connection open without writing more.
async fn answering(answer: &'static [u8]) -> (SocketAddr, tokio::sync::mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (heads, rx) = tokio::sync::mpsc::channel(8);
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let heads = heads.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = heads
                    .send(String::from_utf8_lossy(&head).to_ascii_lowercase())
                    .await;
                let _ = conn.write_all(answer).await;
                // Hold the connection open until the client gives up.
                let _ = conn.read(&mut buf).await;
            });
        }
    });
    (addr, rx)
}

#[tokio::test]
async fn a_head_that_never_comes_is_a_timeout() {
    let (addr, _heads) = answering(b"").await;
    match get(&format!("http://{addr}/x")).await {
        Err(CallError::Timeout { after, .. }) => assert_eq!(after, TIMEOUT),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[tokio::test]
async fn a_body_that_stops_halfway_is_a_timeout_of_the_same_call() {
    let (addr, _heads) = answering(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{\"a\"").await;
    let response = get(&format!("http://{addr}/x"))
        .await
        .expect("the head arrives");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok()),
        Some("10")
    );
    // The outer limit only keeps a broken client from hanging the test run.
    let read = tokio::time::timeout(
        Duration::from_secs(20),
        read_body(response, MAX_RESPONSE_BODY),
    )
    .await
    .expect("the read gives up by itself");
    match read {
        Err(BodyError::Timeout { after }) => assert_eq!(after, TIMEOUT),
        other => panic!("expected the body to time out, got {other:?}"),
    }
}

#[tokio::test]
async fn a_whole_answer_is_read_and_the_request_carries_the_usual_headers() {
    let (addr, mut heads) =
        answering(b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n{\"a\":1}").await;
    let response = get(&format!("http://{addr}/x?y=1"))
        .await
        .expect("an answer");
    let body = read_body(response, MAX_RESPONSE_BODY)
        .await
        .expect("a body");
    assert_eq!(&body[..], b"{\"a\":1}");
    let head = heads.recv().await.expect("the request's head");
    assert!(head.starts_with("get /x?y=1 http/1.1\r\n"), "{head}");
    assert!(head.contains(&format!("\r\nhost: {addr}\r\n")), "{head}");
    assert!(head.contains("\r\nuser-agent: bookinfo-test\r\n"), "{head}");
    assert!(head.contains("\r\naccept: */*\r\n"), "{head}");
}

#[tokio::test]
async fn urls_that_are_not_absolute_http_are_errors() {
    for url in [
        "",
        "not a url",
        "/details/0",
        "ftp://details:9080/x",
        "http://[::1/",
    ] {
        let result = get(url).await;
        assert!(
            matches!(result, Err(CallError::BadUrl { .. })),
            "{url:?}: {result:?}"
        );
    }
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error_that_names_the_cause() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    match get(&format!("http://{addr}/x")).await {
        Err(err @ CallError::Transport { .. }) => {
            let text = err.to_string();
            assert!(text.contains("refused"), "{text}");
        }
        other => panic!("expected a refused connection, got {other:?}"),
    }
}
