//! `--health-check`: one `GET /health` on loopback, answered by the exit code.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use super::args::{Command, DEFAULT_PORT, container_main_args, parse_args};

/// How long `--health-check` waits in total (connect, send, first line of the answer). Below
/// the images' 3 s `HEALTHCHECK --timeout`, so the check reports its own reason for failing
/// rather than being killed.
pub const HEALTH_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a health check failed.
#[derive(Debug, thiserror::Error)]
pub enum Unhealthy {
    /// Nothing answered: refused, unreachable or timed out before a status line.
    #[error("no answer: {0}")]
    Unreachable(io::Error),
    /// Something answered that is not HTTP.
    #[error("not an HTTP answer: {0:?}")]
    NotHttp(String),
    /// The service answered with a status outside 2xx.
    #[error("status {0}")]
    Status(u16),
}

/// `GET <path>` on `127.0.0.1:<port>`, within `timeout` in total: the status code of a 2xx
/// answer, or why there was none.
///
/// Plain HTTP/1.1 on a blocking socket, one request, `Connection: close`: no async runtime, no
/// HTTP client, no logging or telemetry set-up, so a check costs a few milliseconds of CPU.
/// The request carries no trace headers: a check never joins or starts a trace.
pub fn check_health(port: u16, path: &str, timeout: Duration) -> Result<u16, Unhealthy> {
    let deadline = Instant::now() + timeout;
    let remaining = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| Unhealthy::Unreachable(io::ErrorKind::TimedOut.into()))
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream =
        TcpStream::connect_timeout(&addr, remaining()?).map_err(Unhealthy::Unreachable)?;
    stream
        .set_write_timeout(Some(remaining()?))
        .map_err(Unhealthy::Unreachable)?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: bookinfo-health-check\r\n\
         Accept: */*\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .map_err(Unhealthy::Unreachable)?;
    // Read until the status line is complete (or 1 KiB, far more than any status line).
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 256];
    while !head.contains(&b'\n') && head.len() < 1024 {
        stream
            .set_read_timeout(Some(remaining()?))
            .map_err(Unhealthy::Unreachable)?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Unhealthy::Unreachable(e)),
        }
    }
    let line = String::from_utf8_lossy(&head);
    let line = line.lines().next().unwrap_or_default();
    let code = status_code(line).ok_or_else(|| Unhealthy::NotHttp(line.to_owned()))?;
    if (200..300).contains(&code) {
        Ok(code)
    } else {
        Err(Unhealthy::Status(code))
    }
}

/// The status code of an HTTP/1.x status line (`HTTP/1.1 200 OK`).
fn status_code(line: &str) -> Option<u16> {
    let mut parts = line.split(' ');
    let version = parts.next()?;
    let code = parts.next()?;
    if !version.starts_with("HTTP/1.") || code.len() != 3 {
        return None;
    }
    code.parse().ok().filter(|c| (100..600).contains(c))
}

/// Run a health check as a command: one line on stdout when healthy (Docker keeps it in the
/// container's health log), one on stderr otherwise; exit 0 or 1.
pub fn health_check(program: &str, port: u16, path: &str, timeout: Duration) -> ExitCode {
    match check_health(port, path, timeout) {
        Ok(code) => {
            println!("{program}: healthy ({code} from http://127.0.0.1:{port}{path})");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("{program}: unhealthy: http://127.0.0.1:{port}{path}: {why}");
            ExitCode::FAILURE
        }
    }
}

/// The port `--health-check` checks when none is given: the one the container's main process
/// serves on when that process is this service, 9080 otherwise.
pub fn health_check_port(service: &str) -> u16 {
    container_main_args(service)
        .and_then(|args| match parse_args(args) {
            Ok(Command::Serve { port }) => Some(port),
            _ => None,
        })
        .unwrap_or(DEFAULT_PORT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener as StdListener;
    use std::thread::{self, JoinHandle};

    #[test]
    fn status_lines() {
        assert_eq!(status_code("HTTP/1.1 200 OK"), Some(200));
        assert_eq!(status_code("HTTP/1.0 503 Service Unavailable"), Some(503));
        assert_eq!(status_code("HTTP/1.1 204"), Some(204));
        assert_eq!(status_code("SSH-2.0-OpenSSH_9.2"), None);
        assert_eq!(status_code("HTTP/1.1 2000 OK"), None);
        assert_eq!(status_code("HTTP/1.1 abc OK"), None);
        assert_eq!(status_code(""), None);
    }

    /// A one-connection server on a loopback port-0 socket that reads the request head and
    /// answers with `reply` (nothing at all when `reply` is `None`, holding the connection
    /// open until the client gives up). Returns the port and the request it received.
    fn serve_once(reply: Option<&'static str>) -> (u16, JoinHandle<String>) {
        let listener = StdListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind port 0");
        let port = listener.local_addr().expect("local address").port();
        let server = thread::spawn(move || {
            let (mut conn, _) = listener.accept().expect("accept");
            let mut request = Vec::new();
            let mut buf = [0u8; 512];
            while !request.ends_with(b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            match reply {
                Some(reply) => {
                    let _ = conn.write_all(reply.as_bytes());
                }
                None => {
                    // Hold the connection until the client closes it.
                    let _ = conn.read(&mut buf);
                }
            }
            String::from_utf8_lossy(&request).into_owned()
        });
        (port, server)
    }

    /// A loopback port on which nothing listens (bound, then released).
    fn closed_port() -> u16 {
        let listener = StdListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind port 0");
        listener.local_addr().expect("local address").port()
    }

    const OK: &str = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 34\r\n\r\n{\"status\": \"Reviews is healthy\"}\r\n";
    const ERROR: &str = "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n";

    #[test]
    fn healthy_server_exits_0_and_is_asked_for_health() {
        let (port, server) = serve_once(Some(OK));
        let exit = health_check("reviews", port, "/health", Duration::from_secs(2));
        assert_eq!(exit, ExitCode::SUCCESS);
        let request = server.join().expect("server thread");
        assert!(request.starts_with("GET /health HTTP/1.1\r\n"), "{request}");
        assert!(
            request.contains(&format!("Host: 127.0.0.1:{port}\r\n")),
            "{request}"
        );
        assert!(
            !request.to_ascii_lowercase().contains("traceparent"),
            "{request}"
        );
    }

    #[test]
    fn unhealthy_server_exits_1() {
        let (port, server) = serve_once(Some(ERROR));
        assert!(matches!(
            check_health(port, "/health", Duration::from_secs(2)),
            Err(Unhealthy::Status(500))
        ));
        server.join().expect("server thread");
        let (port, server) = serve_once(Some(ERROR));
        assert_eq!(
            health_check("ratings", port, "/health", Duration::from_secs(2)),
            ExitCode::FAILURE
        );
        server.join().expect("server thread");
    }

    #[test]
    fn no_server_exits_1() {
        let port = closed_port();
        assert!(matches!(
            check_health(port, "/health", Duration::from_secs(2)),
            Err(Unhealthy::Unreachable(_))
        ));
        assert_eq!(
            health_check("details", port, "/health", Duration::from_secs(2)),
            ExitCode::FAILURE
        );
    }

    #[test]
    fn silent_server_exits_1_within_the_timeout() {
        let (port, server) = serve_once(None);
        let started = Instant::now();
        let result = check_health(port, "/health", Duration::from_millis(300));
        assert!(
            matches!(result, Err(Unhealthy::Unreachable(_))),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        server.join().expect("server thread");
    }

    #[test]
    fn something_other_than_http_is_unhealthy() {
        let (port, server) = serve_once(Some("SSH-2.0-OpenSSH_9.2\r\n"));
        assert!(matches!(
            check_health(port, "/health", Duration::from_secs(2)),
            Err(Unhealthy::NotHttp(_))
        ));
        server.join().expect("server thread");
        // A connection closed without a word.
        let (port, server) = serve_once(Some(""));
        assert!(matches!(
            check_health(port, "/health", Duration::from_secs(2)),
            Err(Unhealthy::NotHttp(_))
        ));
        server.join().expect("server thread");
    }
}
