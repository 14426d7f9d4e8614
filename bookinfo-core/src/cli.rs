//! Command-line conventions and the life of a service binary, shared by every service.
//!
//! Upstream's services take their port as the first positional argument (`details.rb 9080`,
//! `ratings.js 9080`); ours do the same and default to 9080 when it is absent.
//!
//! `<service> --health-check [port]` asks a running service instead of starting one: it sends
//! `GET /health` to `127.0.0.1:<port>` and exits 0 on a 2xx answer, 1 on anything else. The
//! container images use it as their `HEALTHCHECK`, so they need no HTTP client of their own.
//! Without a port it checks the port the container's main process was started with (see
//! [`container_main_args`]), so `docker run IMAGE 9090` stays healthy without overriding the
//! healthcheck.

use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::pin::Pin;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;

use crate::config::{ConfigErrors, Lookup, ProcessEnv};
use crate::telemetry::{self, TelemetryConfig};

/// The port BookInfo services listen on.
pub const DEFAULT_PORT: u16 = 9080;

/// The flag that turns a service binary into a health check of a running one.
pub const HEALTH_CHECK_FLAG: &str = "--health-check";

/// How long `--health-check` waits in total (connect, send, first line of the answer). Below
/// the images' 3 s `HEALTHCHECK --timeout`, so the check reports its own reason for failing
/// rather than being killed.
pub const HEALTH_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// What a service binary was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `service [port]`: serve on `port`.
    Serve { port: u16 },
    /// `service --health-check [port]`: check a running service; `None` when no port was given.
    HealthCheck { port: Option<u16> },
    /// `service --help` or `-h`.
    Help,
}

/// Parse a service's command line (`args` includes the program name, as `std::env::args`).
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let rest: Vec<String> = args.into_iter().skip(1).collect();
    match rest.as_slice() {
        [] => Ok(Command::Serve { port: DEFAULT_PORT }),
        [flag] if flag == "--help" || flag == "-h" => Ok(Command::Help),
        [flag] if flag == HEALTH_CHECK_FLAG => Ok(Command::HealthCheck { port: None }),
        [flag, port] if flag == HEALTH_CHECK_FLAG => Ok(Command::HealthCheck {
            port: Some(parse_port(port)?),
        }),
        [port] => Ok(Command::Serve {
            port: parse_port(port)?,
        }),
        [_, extra, ..] => Err(format!("unexpected argument {extra:?}")),
    }
}

fn parse_port(raw: &str) -> Result<u16, String> {
    raw.parse::<u16>()
        .map_err(|_| format!("invalid port {raw:?}: expected a number from 0 to 65535"))
}

fn usage(service: &str) -> String {
    format!(
        "usage: {service} [port]                  serve on port (default {DEFAULT_PORT})\n       \
         {service} {HEALTH_CHECK_FLAG} [port]   exit 0 if GET http://127.0.0.1:port/health \
         answers 2xx, else 1"
    )
}

/// The command line of the container's main process (PID 1), when it is `program` itself.
///
/// In a container started from a BookInfo image the service binary is PID 1 (the image's
/// `ENTRYPOINT`), and the `HEALTHCHECK` process runs in the same PID namespace, so the port the
/// service was given can be read from `/proc/1/cmdline`. `None` anywhere else (on a host PID 1
/// is the init system; under `docker run --init` it is the init shim): callers fall back to
/// their default port.
pub fn container_main_args(program: &str) -> Option<Vec<String>> {
    let raw = std::fs::read("/proc/1/cmdline").ok()?;
    args_of_program(&raw, program)
}

/// The arguments in a NUL-separated command line (the `/proc/<pid>/cmdline` format) when the
/// program file's name is `program`.
pub fn args_of_program(cmdline: &[u8], program: &str) -> Option<Vec<String>> {
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect::<Vec<_>>();
    // A trailing NUL ends the last argument; it does not start an empty one.
    let args = match args.split_last() {
        Some((last, init)) if last.is_empty() => init.to_vec(),
        _ => args,
    };
    let name = Path::new(args.first()?).file_name()?;
    (name == program).then_some(args)
}

/// Why a health check failed.
#[derive(Debug)]
pub enum Unhealthy {
    /// Nothing answered: refused, unreachable or timed out before a status line.
    Unreachable(io::Error),
    /// Something answered that is not HTTP.
    NotHttp(String),
    /// The service answered with a status outside 2xx.
    Status(u16),
}

impl std::fmt::Display for Unhealthy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unhealthy::Unreachable(e) => write!(f, "no answer: {e}"),
            Unhealthy::NotHttp(line) => write!(f, "not an HTTP answer: {line:?}"),
            Unhealthy::Status(code) => write!(f, "status {code}"),
        }
    }
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

/// The shutdown future handed to a service's `run`.
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Start the Tokio runtime and logging, then run `main` to completion: the shared beginning of
/// every binary (`name` prefixes the one error that can come before logging exists).
pub fn with_runtime(
    name: &str,
    telemetry_config: &TelemetryConfig,
    main: impl Future<Output = ExitCode>,
) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{name}: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        telemetry::init(telemetry_config);
        main.await
    })
}

/// The whole life of a service binary: telemetry, configuration (every error reported before
/// binding), bind on the port from the command line, serve until SIGINT/SIGTERM, drain, exit.
/// With `--health-check [port]` it checks a running service instead (see the module docs).
pub fn launch<C, Fut>(
    service: &'static str,
    configure: impl FnOnce(&dyn Lookup) -> Result<C, ConfigErrors>,
    run: impl FnOnce(TcpListener, C, Shutdown) -> Fut,
) -> ExitCode
where
    Fut: Future<Output = io::Result<()>>,
{
    let port = match parse_args(std::env::args()) {
        Ok(Command::Serve { port }) => Ok(port),
        // A health check needs neither the configuration nor telemetry: a service that is
        // misconfigured is not running, and the check says so by finding nothing to ask.
        Ok(Command::HealthCheck { port }) => {
            let port = port.unwrap_or_else(|| health_check_port(service));
            return health_check(service, port, "/health", HEALTH_CHECK_TIMEOUT);
        }
        Ok(Command::Help) => {
            println!("{}", usage(service));
            return ExitCode::SUCCESS;
        }
        Err(e) => Err(e),
    };
    let env = ProcessEnv;
    let telemetry_config = TelemetryConfig::from_env(service, &env);
    let config = configure(&env);
    let (telemetry_config, config, port) = match (telemetry_config, config, port) {
        (Ok(t), Ok(c), Ok(p)) => (t, c, p),
        (t, c, p) => {
            if let Err(e) = t {
                eprintln!("{service}: {e}");
            }
            if let Err(e) = c {
                eprintln!("{service}: {e}");
            }
            if let Err(e) = p {
                eprintln!("{service}: {e}\n{}", usage(service));
            }
            return ExitCode::FAILURE;
        }
    };
    with_runtime(service, &telemetry_config, async move {
        let listener = match crate::server::bind(port) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(port, cause = %e, "cannot listen");
                return ExitCode::FAILURE;
            }
        };
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(service, %addr, "listening");
        }
        match run(listener, config, Box::pin(crate::server::shutdown_signal())).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(cause = %e, "server failed");
                ExitCode::FAILURE
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener as StdListener;
    use std::thread::{self, JoinHandle};

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn first_positional_is_the_port() {
        assert_eq!(
            parse_args(args(&["details"])),
            Ok(Command::Serve { port: 9080 })
        );
        assert_eq!(
            parse_args(args(&["details", "9081"])),
            Ok(Command::Serve { port: 9081 })
        );
        assert!(parse_args(args(&["details", "http"])).is_err());
        assert!(parse_args(args(&["details", "70000"])).is_err());
        assert!(parse_args(args(&["details", "9080", "9081"])).is_err());
    }

    #[test]
    fn health_check_flag_takes_an_optional_port() {
        assert_eq!(
            parse_args(args(&["ratings", "--health-check"])),
            Ok(Command::HealthCheck { port: None })
        );
        assert_eq!(
            parse_args(args(&["ratings", "--health-check", "9090"])),
            Ok(Command::HealthCheck { port: Some(9090) })
        );
        assert!(parse_args(args(&["ratings", "--health-check", "x"])).is_err());
        assert!(parse_args(args(&["ratings", "--health-check", "1", "2"])).is_err());
        // The flag is only recognised first, where a port would be.
        assert!(parse_args(args(&["ratings", "9080", "--health-check"])).is_err());
        assert_eq!(parse_args(args(&["ratings", "--help"])), Ok(Command::Help));
    }

    #[test]
    fn main_process_arguments_are_read_only_for_the_same_program() {
        let cmdline = b"/usr/local/bin/details\x009090\x00";
        assert_eq!(
            args_of_program(cmdline, "details"),
            Some(args(&["/usr/local/bin/details", "9090"]))
        );
        assert_eq!(
            args_of_program(b"/usr/local/bin/details\x00", "details"),
            Some(args(&["/usr/local/bin/details"]))
        );
        // `docker run --init`: PID 1 is the init shim, whose arguments mean something else.
        assert_eq!(
            args_of_program(
                b"/sbin/docker-init\x00--\x00/usr/local/bin/details\x00",
                "details"
            ),
            None
        );
        assert_eq!(args_of_program(b"/sbin/init\x00", "details"), None);
        assert_eq!(args_of_program(b"", "details"), None);
        // A name that merely contains the program's name is another program.
        assert_eq!(args_of_program(b"/bin/details-v2\x00", "details"), None);
    }

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
