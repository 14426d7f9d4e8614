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
//! ```

use std::process::ExitCode;
use std::sync::Arc;

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
    /// Port for the query API (`GET /traces`, `DELETE /traces`, `GET /healthz`).
    #[arg(long, default_value_t = 16686)]
    query_port: u16,
    /// Accept spans and throw them away unread: a sink for load tests, so that what is
    /// measured is the services' cost of exporting, not the backend's cost of storing.
    #[arg(long)]
    discard: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let (receivers, queries) = match (bind(args.port), bind(args.query_port)) {
        (Ok(r), Ok(q)) => (r, q),
        (r, q) => {
            for (port, err) in [(args.port, r.err()), (args.query_port, q.err())] {
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
        args.port, args.query_port
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
