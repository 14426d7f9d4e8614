//! `bookinfo-tracecheck`: a stand-alone trace backend for BookInfo containers.
//!
//! Receives spans like Jaeger or an OpenTelemetry collector would (OTLP/HTTP `POST /v1/traces`
//! and Zipkin v2 `POST /api/v2/spans`, both on `--port`) and answers, on `--query-port`, which
//! traces arrived and whether each one is a complete tree (see `bookinfo_tracecheck::query`).
//! The compose CI test runs it in place of Jaeger, which cannot be pulled there.
//!
//! ```text
//! bookinfo-tracecheck --port 4318 --query-port 16686
//! curl -s localhost:16686/traces
//! bookinfo-tracecheck --health-check       # exit 0 when GET :16686/healthz answers 2xx
//! ```

use std::process::ExitCode;
use std::sync::Arc;

use bookinfo_core::cli;
use bookinfo_core::server::{bind, shutdown_signal};
use bookinfo_tracecheck::{Collector, query};
use clap::Parser;

/// Collect spans and serve them, checked, as JSON.
#[derive(Debug, Parser)]
#[command(name = "bookinfo-tracecheck", version)]
struct Args {
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
fn health_check_port(args: &Args) -> u16 {
    args.query_port
        .or_else(|| {
            let main_args = cli::container_main_args(PROGRAM)?;
            Args::try_parse_from(main_args).ok()?.query_port
        })
        .unwrap_or(DEFAULT_QUERY_PORT)
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.health_check {
        let port = health_check_port(&args);
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
    runtime.block_on(serve(args))
}

async fn serve(args: Args) -> ExitCode {
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
