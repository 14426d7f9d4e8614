//! `bookinfo-tracecheck`: a stand-alone trace backend for BookInfo containers, and a checker of
//! the traces a real tracing backend holds.
//!
//! Without a subcommand it receives spans like Jaeger or an OpenTelemetry collector would
//! (OTLP/HTTP `POST /v1/traces` and Zipkin v2 `POST /api/v2/spans`, both on `--port`) and
//! answers, on `--query-port`, which traces arrived and whether each one is a complete tree (see
//! `bookinfo_tracecheck::query`). The compose CI test runs it in place of Jaeger.
//!
//! `check` reads the recent traces of BookInfo's services from Jaeger, Zipkin or Tempo and
//! judges each one (see `bookinfo_tracecheck::diagnose`); it exits non-zero when any is broken.
//!
//! ```text
//! bookinfo-tracecheck --port 4318 --query-port 16686
//! curl -s localhost:16686/traces
//! bookinfo-tracecheck --health-check       # exit 0 when GET :16686/healthz answers 2xx
//! bookinfo-tracecheck check --jaeger http://localhost:16686 --since 15m
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bookinfo_core::cli;
use bookinfo_core::server::{bind, shutdown_signal};
use bookinfo_tracecheck::backends::{self, Backend, Window};
use bookinfo_tracecheck::{Collector, query};
use clap::{ArgGroup, Args as ClapArgs, Parser, Subcommand};

/// Collect spans and serve them, checked, as JSON; or (`check`) judge the traces a tracing
/// backend holds.
#[derive(Debug, Parser)]
#[command(
    name = "bookinfo-tracecheck",
    version,
    args_conflicts_with_subcommands = true
)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: Serve,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read recent traces from Jaeger, Zipkin or Tempo and say which are complete trees of the
    /// expected BookInfo shape, and why the others are not. Exit status: 0 all complete,
    /// 1 some broken, 2 nothing to judge (backend unreachable, or no traces in the window).
    Check(Check),
}

#[derive(Debug, ClapArgs)]
struct Serve {
    /// Port for the receivers (OTLP/HTTP and Zipkin v2), on all interfaces.
    #[arg(long, default_value_t = 4318)]
    port: u16,
    /// Port for the query API (`GET /traces`, `DELETE /traces`, `GET /healthz`) [default: 16686].
    #[arg(long)]
    query_port: Option<u16>,
    /// Accept spans and throw them away unread: a sink for load tests, so that what is
    /// measured is the services' cost of exporting, not the backend's cost of storing.
    #[arg(long)]
    discard: bool,
    /// Check a running collector instead of starting one: exit 0 when `GET /healthz` on the
    /// query port answers 2xx, 1 otherwise. Without `--query-port`, the query port of the
    /// container's main process when that is this program (the image's healthcheck).
    #[arg(long)]
    health_check: bool,
}

const PROGRAM: &str = "bookinfo-tracecheck";
const DEFAULT_QUERY_PORT: u16 = 16686;

/// The query port `--health-check` asks: the one given, else the container's main process's.
fn health_check_port(args: &Serve) -> u16 {
    args.query_port
        .or_else(|| {
            let main_args = cli::container_main_args(PROGRAM)?;
            Args::try_parse_from(main_args).ok()?.serve.query_port
        })
        .unwrap_or(DEFAULT_QUERY_PORT)
}

#[derive(Debug, ClapArgs)]
#[command(group(ArgGroup::new("backend").required(true).args(["jaeger", "zipkin", "tempo"])))]
struct Check {
    /// Jaeger's query address (v1 or v2), e.g. http://localhost:16686.
    #[arg(long, value_name = "URL")]
    jaeger: Option<String>,
    /// Zipkin's address, e.g. http://localhost:9411.
    #[arg(long, value_name = "URL")]
    zipkin: Option<String>,
    /// Tempo's HTTP API address, e.g. http://localhost:3200.
    #[arg(long, value_name = "URL")]
    tempo: Option<String>,
    /// Service whose traces are read; repeat for several. All four by default, so that a
    /// request split into several traces is seen whole. Behind Istio, use the names the
    /// sidecars report (e.g. productpage.default).
    #[arg(long = "service", value_name = "NAME", default_values_t = ["productpage".to_owned(), "details".to_owned(), "reviews".to_owned(), "ratings".to_owned()])]
    services: Vec<String>,
    /// How far back to look: a number with s, m, h or d (e.g. 90s, 15m, 2h).
    #[arg(long, default_value = "15m", value_parser = parse_span_of_time)]
    since: Duration,
    /// Most traces read per service.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..))]
    limit: u16,
    /// Print one JSON document (summary and every trace with its problems) instead of text.
    #[arg(long)]
    json: bool,
    /// Draw complete traces too, not only the broken ones.
    #[arg(long)]
    show_complete: bool,
    /// Give up on the backend after this long (same units as --since).
    #[arg(long, default_value = "30s", value_parser = parse_span_of_time)]
    timeout: Duration,
}

/// `90s`, `15m`, `2h`, `1d` (a bare number is seconds).
fn parse_span_of_time(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 90s, 15m, 2h or 1d"))?;
    let seconds = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {text:?}: use s, m, h or d"
            ));
        }
    };
    if n == 0 {
        return Err("must be more than zero".to_owned());
    }
    Ok(Duration::from_secs(n.saturating_mul(seconds)))
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.command.is_none() && args.serve.health_check {
        let port = health_check_port(&args.serve);
        return cli::health_check(PROGRAM, port, "/healthz", cli::HEALTH_CHECK_TIMEOUT);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("{PROGRAM}: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        match args.command {
            Some(Command::Check(check)) => run_check(check).await,
            None => serve(args.serve).await,
        }
    })
}

async fn run_check(check: Check) -> ExitCode {
    let backend = match (check.jaeger, check.zipkin, check.tempo) {
        (Some(u), _, _) => Backend::Jaeger(u),
        (_, Some(u), _) => Backend::Zipkin(u),
        (_, _, Some(u)) => Backend::Tempo(u),
        // clap requires one of the three.
        _ => return ExitCode::from(2),
    };
    let client = match reqwest::Client::builder().timeout(check.timeout).build() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bookinfo-tracecheck: {e}");
            return ExitCode::from(2);
        }
    };
    let window = Window::last(check.since, usize::from(check.limit));
    let checked = match backends::check(&client, &backend, &check.services, &window).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bookinfo-tracecheck: {e}");
            return ExitCode::from(2);
        }
    };
    let last = format!("last {}", humane(check.since));
    if check.json {
        match serde_json::to_string_pretty(&checked) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("bookinfo-tracecheck: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        print!("{}", checked.text(check.show_complete, &last));
    }
    if checked.traces == 0 {
        eprintln!(
            "bookinfo-tracecheck: no traces of {} in the {last} at {backend}: are the services exporting there, and sampled?",
            check.services.join(", "),
        );
        return ExitCode::from(2);
    }
    if checked.broken > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `15m`, `2h`, `90s`: the way --since is written.
fn humane(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        _ if s.is_multiple_of(86_400) => format!("{}d", s / 86_400),
        _ if s.is_multiple_of(3600) => format!("{}h", s / 3600),
        _ if s.is_multiple_of(60) => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

async fn serve(args: Serve) -> ExitCode {
    let query_port = args.query_port.unwrap_or(DEFAULT_QUERY_PORT);
    let (receivers, queries) = match (bind(args.port), bind(query_port)) {
        (Ok(r), Ok(q)) => (r, q),
        (r, q) => {
            for (port, err) in [(args.port, r.err()), (query_port, q.err())] {
                if let Some(err) = err {
                    eprintln!("bookinfo-tracecheck: cannot listen on port {port}: {err}");
                }
            }
            return ExitCode::FAILURE;
        }
    };
    if args.discard {
        return discard(receivers, queries).await;
    }
    let collector = match Collector::start_on(receivers) {
        Ok(c) => Arc::new(c),
        Err(err) => {
            eprintln!("bookinfo-tracecheck: cannot start the collector: {err}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "bookinfo-tracecheck: receiving spans on port {} (/v1/traces, /api/v2/spans), queries on port {}",
        args.port, query_port
    );
    let served = axum::serve(queries, query::router(collector))
        .with_graceful_shutdown(shutdown_signal())
        .await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bookinfo-tracecheck: query server failed: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Serve `200` to every span upload, reading and dropping the body (as a collector would, so
/// the exporters keep their connections), and `/healthz` on the query port.
async fn drain(body: axum::body::Body) {
    let _ = axum::body::to_bytes(body, usize::MAX).await;
}

async fn discard(receivers: tokio::net::TcpListener, queries: tokio::net::TcpListener) -> ExitCode {
    use axum::Router;
    use axum::routing::{get, post};
    let sink = Router::new()
        .route(
            "/v1/traces",
            post(|body: axum::body::Body| async {
                drain(body).await;
                axum::http::StatusCode::OK
            }),
        )
        .route(
            "/api/v2/spans",
            post(|body: axum::body::Body| async {
                drain(body).await;
                axum::http::StatusCode::ACCEPTED
            }),
        );
    let health = Router::new().route("/healthz", get(|| async { "ok" }));
    let served = tokio::try_join!(
        axum::serve(receivers, sink).with_graceful_shutdown(shutdown_signal()),
        axum::serve(queries, health).with_graceful_shutdown(shutdown_signal()),
    );
    match served {
        Ok(_) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bookinfo-tracecheck: {err}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_of_time() {
        assert_eq!(parse_span_of_time("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_span_of_time("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_span_of_time("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_span_of_time("0s").is_err());
        assert!(parse_span_of_time("5 weeks").is_err());
        assert!(parse_span_of_time("m").is_err());
        assert_eq!(humane(Duration::from_secs(900)), "15m");
        assert_eq!(humane(Duration::from_secs(90)), "90s");
    }

    #[test]
    fn the_collector_invocation_still_parses() {
        let a = Args::try_parse_from([
            "bookinfo-tracecheck",
            "--port",
            "4318",
            "--query-port",
            "16686",
        ])
        .unwrap();
        assert!(a.command.is_none());
        assert_eq!((a.serve.port, a.serve.query_port), (4318, Some(16686)));
        let c = Args::try_parse_from([
            "bookinfo-tracecheck",
            "check",
            "--zipkin",
            "http://z:9411",
            "--service",
            "reviews",
        ])
        .unwrap();
        let Some(Command::Check(c)) = c.command else {
            panic!("check")
        };
        assert_eq!(c.services, ["reviews"]);
        assert!(
            Args::try_parse_from(["bookinfo-tracecheck", "check"]).is_err(),
            "a backend is required"
        );
        assert!(
            Args::try_parse_from([
                "bookinfo-tracecheck",
                "check",
                "--jaeger",
                "a",
                "--tempo",
                "b"
            ])
            .is_err()
        );
    }
}
