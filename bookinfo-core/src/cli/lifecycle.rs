//! The life of a service binary: runtime and logging, configuration, bind, serve, drain, exit.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::process::ExitCode;

use tokio::net::TcpListener;

use super::args::{Command, parse_args, usage};
use super::health::{HEALTH_CHECK_TIMEOUT, health_check, health_check_port};
use crate::config::{ConfigErrors, Lookup, ProcessEnv};
use crate::telemetry::{self, TelemetryConfig};

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
        // Log lines gathered by a worker are written when it runs out of work (`telemetry`).
        .on_thread_park(telemetry::flush_thread)
        .on_thread_stop(telemetry::finish_thread)
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
