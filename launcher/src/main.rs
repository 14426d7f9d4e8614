//! `bookinfo`: the whole BookInfo on this machine, no Docker and no database.
//!
//! ```text
//! cargo run --release --bin bookinfo                  # reviews v1, v2, v3 in rotation
//! cargo run --release --bin bookinfo -- --reviews v3  # red stars only
//! cargo run --release --bin bookinfo -- --traces      # and show each page view's trace
//! ```
//!
//! With `--traces` the built-in collector runs in the same process, every service participates
//! (makes and exports its own spans), and each trace is printed as a tree with its verdict once
//! it is complete; http://localhost:16686/traces shows the same in a browser, and each product
//! page links to its own trace there (`http://localhost:16686/traces/{trace_id}`).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bookinfo_core::cli::with_runtime;
use bookinfo_core::config::{Lookup, ProcessEnv};
use bookinfo_core::server::shutdown_signal;
use bookinfo_core::telemetry::TelemetryConfig;
use bookinfo_launcher::{ReviewsChoice, Service, Stack, StackOptions};
use bookinfo_tracecheck::watch::Watcher;
use bookinfo_tracecheck::{Collector, query};
use clap::Parser;
use tokio::net::TcpListener;

/// jemalloc rather than the system allocator: fewer instructions per request, and memory freed
/// after a burst goes back to the system (docs/performance.md, "Allocator").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Run productpage, details, reviews and ratings in one process.
#[derive(Debug, Parser)]
#[command(name = "bookinfo", version)]
struct Args {
    /// Reviews version productpage talks to: v1 (no stars), v2 (black), v3 (red), or all three in rotation.
    #[arg(long, default_value = "all")]
    reviews: ReviewsChoice,
    /// Port for productpage (all interfaces).
    #[arg(long, default_value_t = 9080)]
    port: u16,
    /// First of six consecutive loopback ports for the backends (details, ratings, reviews v1-v3, rotation); 0 picks free ports.
    #[arg(long, default_value_t = 9081)]
    backend_port_base: u16,
    /// Show every page view's trace: run the built-in collector, make the services export their
    /// spans to it, print each trace as a tree with its verdict, and serve them on --traces-port.
    #[arg(long)]
    traces: bool,
    /// Port (on localhost) of the trace view with --traces: http://localhost:PORT/traces.
    #[arg(long, default_value_t = 16686)]
    traces_port: u16,
}

/// How long a trace must go without a new span before it is printed. Spans are exported every
/// 100 ms (see [`trace_env`]), so a second leaves room for the slowest page (reviews' retry).
const QUIET: Duration = Duration::from_secs(1);

/// What every service is told under `--traces`: export OTLP/HTTP to the built-in collector,
/// often, so a trace shows up right after its page.
fn trace_env(collector: &Collector) -> Vec<(&'static str, String)> {
    vec![
        ("OTEL_TRACES_EXPORTER", "otlp".to_owned()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.otlp_endpoint()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
    ]
}

/// The collector, its browser view on `port`, and the task printing each finished trace.
async fn start_traces(port: u16) -> Result<(Arc<Collector>, SocketAddr), String> {
    let receivers = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(|e| format!("cannot start the trace collector: {e}"))?;
    let collector = Collector::start_on(receivers)
        .map(Arc::new)
        .map_err(|e| format!("cannot start the trace collector: {e}"))?;
    let view = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .map_err(|e| format!("cannot listen for the trace view on localhost:{port}: {e} (pick another with --traces-port)"))?;
    let view_addr = view.local_addr().map_err(|e| format!("trace view: {e}"))?;
    let router = query::router(collector.clone());
    tokio::spawn(async move {
        let _ = axum::serve(view, router).await;
    });
    let mut watcher = Watcher::new(collector.clone(), QUIET);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tick.tick().await;
            for trace in watcher.poll() {
                println!("{trace}");
            }
        }
    });
    Ok((collector, view_addr))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let env = Arc::new(ProcessEnv);
    let mut telemetry_config = match TelemetryConfig::from_env("bookinfo", env.as_ref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bookinfo: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.traces && env.get("RUST_LOG").is_none() {
        // The trees are the point: keep the access log out of their way.
        "warn".clone_into(&mut telemetry_config.filter);
    }
    with_runtime("bookinfo", &telemetry_config, async move {
        let mut options = StackOptions {
            reviews: args.reviews,
            productpage_addr: SocketAddr::from((Ipv6Addr::UNSPECIFIED, args.port)),
            backend_port_base: args.backend_port_base,
            overrides: Vec::new(),
        };
        let traces = if args.traces {
            match start_traces(args.traces_port).await {
                Ok((collector, view)) => {
                    for service in Service::ALL {
                        for (key, value) in trace_env(&collector) {
                            options = options.with_env(service, key, &value);
                        }
                    }
                    // Each product page links to its trace in the view (unless set otherwise).
                    if env.get("TRACE_UI_URL").is_none() {
                        let link = format!("http://localhost:{}/traces/{{trace_id}}", view.port());
                        options = options.with_env(Service::Productpage, "TRACE_UI_URL", &link);
                    }
                    Some((collector, view))
                }
                Err(e) => {
                    eprintln!("bookinfo: {e}");
                    return ExitCode::FAILURE;
                }
            }
        } else {
            None
        };
        let mut stack = match Stack::start(options, env).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("bookinfo: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!(
            "BookInfo is running. Open http://localhost:{}/productpage",
            stack.productpage.port()
        );
        println!("  details     http://{}/details/0", stack.details);
        for (version, addr) in &stack.reviews_versions {
            println!("  reviews {version}  http://{addr}/reviews/0");
        }
        println!("  ratings     http://{}/ratings/0", stack.ratings);
        if let Some((_, view)) = &traces {
            println!(
                "Traces: every page view's trace is printed below as a tree, with its verdict,"
            );
            println!(
                "  and shown at http://localhost:{}/traces (JSON: curl localhost:{}/traces)",
                view.port(),
                view.port()
            );
        }
        println!("Press Ctrl-C to stop.");
        let failed = tokio::select! {
            () = shutdown_signal() => None,
            r = stack.wait_any() => Some(r),
        };
        if let Some(r) = failed {
            eprintln!("bookinfo: a service stopped unexpectedly: {r:?}");
            let _ = stack.stop().await;
            return ExitCode::FAILURE;
        }
        match stack.stop().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("bookinfo: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
