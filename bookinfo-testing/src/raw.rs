//! Raw HTTP/1.1 over a TCP socket, for tests that must send what an HTTP client library would
//! not: no `Host`, two of them, a head that never ends, a body that trickles, an odd method.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A connection to `addr`.
pub async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.expect("connect")
}

/// Write `bytes`; `false` when the server has closed the connection.
pub async fn send(stream: &mut TcpStream, bytes: &[u8]) -> bool {
    stream.write_all(bytes).await.is_ok() && stream.flush().await.is_ok()
}

/// One answer as read off the wire.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    /// The head, lower-cased, for `contains` checks.
    pub head: String,
    pub body: String,
}

impl RawResponse {
    /// Whether the server announced it closes the connection.
    pub fn closes(&self) -> bool {
        self.head.contains("\r\nconnection: close")
    }
}

/// Read one response (head and a `Content-Length` body) within `within`; `None` when the
/// connection closed or nothing complete arrived in time.
pub async fn read_response(stream: &mut TcpStream, within: Duration) -> Option<RawResponse> {
    tokio::time::timeout(within, read_one(stream))
        .await
        .ok()
        .flatten()
}

async fn read_one(stream: &mut TcpStream) -> Option<RawResponse> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status = head.get(9..12)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(RawResponse {
        status,
        head,
        body: String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned(),
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Whether the server closes the connection (end of stream or reset) within `within`,
/// discarding anything it sends first.
pub async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let drain = async {
        let mut chunk = [0u8; 8192];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, drain).await.is_ok()
}

/// `GET {path}` with a `Host` header, keeping the connection open.
pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").into_bytes()
}

/// Environment setting every `SERVER_*` timeout to one second, for tests of slow clients.
pub const SHORT_LIMITS: &[(&str, &str)] = &[
    ("SERVER_HEADER_TIMEOUT_SECONDS", "1"),
    ("SERVER_IDLE_TIMEOUT_SECONDS", "1"),
    ("SERVER_BODY_TIMEOUT_SECONDS", "1"),
];

/// Check that a service started with [`SHORT_LIMITS`] applies them: a connection that sends
/// nothing, one that never finishes its head, and an idle keep-alive one after a request to
/// `path` are all closed within ten seconds.
pub async fn assert_slow_clients_are_cut_off(addr: SocketAddr, path: &str) {
    const GENEROUS: Duration = Duration::from_secs(10);
    let mut silent = connect(addr).await;
    let mut partial = connect(addr).await;
    send(&mut partial, b"GET / HTTP/1.1\r\nHost: test\r\n").await;
    let mut idle = connect(addr).await;
    send(&mut idle, &get(path)).await;
    let answered = read_response(&mut idle, GENEROUS).await;
    assert!(answered.is_some(), "no answer to GET {path}");
    assert!(
        closed_within(&mut silent, GENEROUS).await,
        "silent client kept"
    );
    assert!(
        closed_within(&mut partial, GENEROUS).await,
        "partial head kept"
    );
    assert!(
        closed_within(&mut idle, GENEROUS).await,
        "idle keep-alive kept"
    );
}
