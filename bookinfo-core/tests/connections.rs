//! Connection limits on a real socket: header, idle and body timeouts, the connection cap, the
//! drain on shutdown, the `Host` rule and HTTP/2 with prior knowledge. Timeouts are set small
//! here and the checks are generous ("closed within 10 s" for a 1 s limit), so a busy machine
//! cannot make them fail.

#![allow(clippy::unwrap_used)] // Tests fail loudly on anything unexpected.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{get, post};
use bookinfo_core::Metrics;
use bookinfo_core::server::{ServerLimits, serve_with};
use bookinfo_testing::raw::{self, closed_within, connect, read_response, send};
use bookinfo_testing::{Spawned, hardened, slow_handler, spawn};
use tokio::sync::Notify;

/// Far beyond every limit set here, far below a test's patience.
const GENEROUS: Duration = Duration::from_secs(10);

fn limits() -> ServerLimits {
    ServerLimits {
        header_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        max_connections: 64,
        grace: Duration::from_secs(30),
    }
}

/// `/echo` (reads the body), `/hello`, and `/slow` (answers after `slow`, signalling its start).
fn router(slow: Duration, started: Arc<Notify>) -> Router {
    let routes = Router::new()
        .route("/echo", post(|body: String| async move { body }))
        .route("/hello", get(|| async { "hello" }))
        .route("/slow", slow_handler(slow, started));
    hardened(routes, Metrics::new("t"))
}

async fn start(limits: ServerLimits) -> Spawned {
    let router = router(Duration::from_secs(1), Arc::new(Notify::new()));
    spawn(move |l, s| serve_with(l, router, s, limits)).await
}

#[tokio::test]
async fn a_request_head_that_never_ends_is_cut_off() {
    let server = start(limits()).await;
    let mut slow = connect(server.addr).await;
    send(&mut slow, b"GET /hello HTTP/1.1\r\nHost: test\r\n").await;
    // Keep trickling header lines: each byte is activity, but the head never completes.
    let trickle = async {
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if !send(&mut slow, b"X-Trickle: 1\r\n").await {
                return true;
            }
        }
        false
    };
    assert!(
        tokio::time::timeout(GENEROUS, trickle)
            .await
            .unwrap_or(false),
        "a trickled head was not cut off"
    );
    // A connection that sends nothing at all is closed too.
    let mut silent = connect(server.addr).await;
    assert!(closed_within(&mut silent, GENEROUS).await);
    // Well-behaved clients are served meanwhile.
    let mut ok = connect(server.addr).await;
    send(&mut ok, &raw::get("/hello")).await;
    assert_eq!(
        read_response(&mut ok, GENEROUS).await.unwrap().body,
        "hello"
    );
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let server = start(limits()).await;
    let mut conns = Vec::new();
    for _ in 0..20 {
        let mut c = connect(server.addr).await;
        send(&mut c, &raw::get("/hello")).await;
        let answer = read_response(&mut c, GENEROUS).await.unwrap();
        assert_eq!(answer.status, 200);
        assert!(!answer.closes(), "keep-alive is on: {}", answer.head);
        conns.push(c);
    }
    for c in &mut conns {
        assert!(closed_within(c, GENEROUS).await, "idle connection kept");
    }
}

#[tokio::test]
async fn keep_alive_survives_pauses_shorter_than_the_idle_timeout() {
    let server = start(ServerLimits {
        idle_timeout: Duration::from_secs(30),
        ..limits()
    })
    .await;
    let mut c = connect(server.addr).await;
    for _ in 0..3 {
        send(&mut c, &raw::get("/hello")).await;
        assert_eq!(read_response(&mut c, GENEROUS).await.unwrap().status, 200);
        // Longer than the header timeout: an idle pause is not a slow head.
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
}

#[tokio::test]
async fn a_head_begun_after_a_keep_alive_pause_has_the_header_timeout() {
    let server = start(ServerLimits {
        idle_timeout: Duration::from_secs(60),
        ..limits()
    })
    .await;
    let mut c = connect(server.addr).await;
    send(&mut c, &raw::get("/hello")).await;
    assert_eq!(read_response(&mut c, GENEROUS).await.unwrap().status, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The first bytes after the pause start the (1 s) header timeout in place of the (60 s)
    // idle one, although they are read from inside the connection's own poll.
    send(&mut c, b"GET /hello HTTP/1.1\r\n").await;
    assert!(closed_within(&mut c, GENEROUS).await, "a stalled head kept");
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed() {
    // HTTP/2 responses are sent by tasks of their own, so the end of a request is a change
    // from outside the connection's task.
    let server = start(limits()).await;
    let (resp, conn) = http2_hello(server.addr).await;
    assert_eq!(resp.status(), 200);
    let started = Instant::now();
    assert!(
        tokio::time::timeout(GENEROUS, conn).await.is_ok(),
        "an idle HTTP/2 connection kept"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "closed too soon"
    );
}

#[tokio::test]
async fn a_body_that_trickles_gets_408() {
    let server = start(limits()).await;
    let mut c = connect(server.addr).await;
    send(
        &mut c,
        b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\nonly ten b",
    )
    .await;
    let answer = read_response(&mut c, GENEROUS).await.unwrap();
    assert_eq!(answer.status, 408, "{answer:?}");
    assert!(answer.head.contains("content-type: application/json"));
    assert!(answer.closes());
    assert!(closed_within(&mut c, GENEROUS).await);
}

#[tokio::test]
async fn requests_need_exactly_one_host() {
    let server = start(limits()).await;
    for request in [
        &b"GET /hello HTTP/1.1\r\n\r\n"[..],
        b"GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    ] {
        let mut c = connect(server.addr).await;
        send(&mut c, request).await;
        let answer = read_response(&mut c, GENEROUS).await.unwrap();
        assert_eq!(answer.status, 400, "{answer:?}");
        assert!(answer.body.contains("Host"), "{answer:?}");
    }
    // HTTP/1.0 may leave it out.
    let mut c = connect(server.addr).await;
    send(&mut c, b"GET /hello HTTP/1.0\r\n\r\n").await;
    assert_eq!(read_response(&mut c, GENEROUS).await.unwrap().status, 200);
}

#[tokio::test]
async fn the_connection_cap_holds_and_idle_connections_make_room() {
    let server = start(ServerLimits {
        max_connections: 2,
        header_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(60),
        ..limits()
    })
    .await;
    // Two clients that connect and say nothing take both slots...
    let mut first = connect(server.addr).await;
    let second = connect(server.addr).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = connect(server.addr).await;
    send(&mut third, &raw::get("/hello")).await;
    assert!(
        read_response(&mut third, Duration::from_millis(500))
            .await
            .is_none(),
        "a third connection was served beyond the cap of two"
    );
    // ...until one leaves.
    drop(second);
    let answer = read_response(&mut third, GENEROUS).await.unwrap();
    assert_eq!(answer.body, "hello");
    // Now two connections are open, one of them idle (third). A fourth gets served because the
    // idle one is closed to make room.
    let mut fourth = connect(server.addr).await;
    send(&mut fourth, &raw::get("/hello")).await;
    assert_eq!(
        read_response(&mut fourth, GENEROUS).await.unwrap().body,
        "hello"
    );
    assert!(closed_within(&mut third, GENEROUS).await);
    // The silent first client held its slot throughout (its head timeout is a minute).
    assert!(send(&mut first, b"GET").await);
}

#[tokio::test]
async fn shutdown_closes_idle_and_still_reading_connections_at_once() {
    let started = Arc::new(Notify::new());
    let router = router(Duration::from_secs(2), started.clone());
    // The grace period is long: only a request being served may use it.
    let server = spawn(move |l, s| serve_with(l, router, s, limits_for_drain())).await;
    let addr = server.addr;
    let mut idle = connect(addr).await;
    send(&mut idle, &raw::get("/hello")).await;
    read_response(&mut idle, GENEROUS).await.unwrap();
    let mut head = connect(addr).await;
    send(
        &mut head,
        b"GET /hello HTTP/1.1\r\nHost: test\r\nX-Trickle: 1\r\n",
    )
    .await;
    let mut body = connect(addr).await;
    send(
        &mut body,
        b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\nsome",
    )
    .await;
    let mut busy = connect(addr).await;
    send(&mut busy, &raw::get("/slow")).await;
    started.notified().await;

    let stopping = Instant::now();
    let stopped = tokio::spawn(server.stop());
    let slow_answer = read_response(&mut busy, GENEROUS).await.unwrap();
    assert_eq!(
        slow_answer.body, "done",
        "the request being served finished"
    );
    assert!(closed_within(&mut idle, GENEROUS).await);
    assert!(closed_within(&mut head, GENEROUS).await);
    let cut = read_response(&mut body, GENEROUS).await;
    assert!(
        cut.as_ref().is_none_or(|r| r.status == 503),
        "a body still arriving is not waited for: {cut:?}"
    );
    tokio::time::timeout(GENEROUS, stopped)
        .await
        .expect("serve returned well before the 30 s grace period")
        .unwrap()
        .unwrap();
    assert!(stopping.elapsed() < Duration::from_secs(25));
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

fn limits_for_drain() -> ServerLimits {
    ServerLimits {
        header_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(60),
        body_timeout: Duration::from_secs(60),
        ..limits()
    }
}

#[tokio::test]
async fn http2_with_prior_knowledge_is_served() {
    let server = start(limits()).await;
    let (resp, _conn) = http2_hello(server.addr).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), http::Version::HTTP_2);
    use http_body_util::BodyExt;
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"hello");
}

/// `GET /hello` on a new HTTP/2 connection (prior knowledge): the answer, and the task driving
/// the connection, which ends when the server closes it.
async fn http2_hello(
    addr: std::net::SocketAddr,
) -> (
    http::Response<hyper::body::Incoming>,
    tokio::task::JoinHandle<Result<(), hyper::Error>>,
) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .unwrap();
    // The client closes the connection once no sender is left: the task keeps one.
    let keep = sender.clone();
    let conn = tokio::spawn(async move {
        let _keep = keep;
        conn.await
    });
    let req = http::Request::get(format!("http://{addr}/hello"))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    (sender.send_request(req).await.unwrap(), conn)
}
