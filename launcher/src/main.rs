//! `bookinfo`: the whole BookInfo on this machine, no Docker and no database.
//!
//! ```text
//! cargo run --release --bin bookinfo                  # reviews v1, v2, v3 in rotation
//! cargo run --release --bin bookinfo -- --reviews v3  # red stars only
//! ```

use std::net::{Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

use bookinfo_core::cli::with_runtime;
use bookinfo_core::config::ProcessEnv;
use bookinfo_core::server::shutdown_signal;
use bookinfo_core::telemetry::TelemetryConfig;
use bookinfo_launcher::{ReviewsChoice, Stack, StackOptions};
use clap::Parser;

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
}

fn main() -> ExitCode {
    let args = Args::parse();
    let env = Arc::new(ProcessEnv);
    let telemetry_config = match TelemetryConfig::from_env("bookinfo", env.as_ref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bookinfo: {e}");
            return ExitCode::FAILURE;
        }
    };
    with_runtime("bookinfo", &telemetry_config, async move {
        let options = StackOptions {
            reviews: args.reviews,
            productpage_addr: SocketAddr::from((Ipv6Addr::UNSPECIFIED, args.port)),
            backend_port_base: args.backend_port_base,
            overrides: Vec::new(),
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
