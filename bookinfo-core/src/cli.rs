//! Command-line conventions shared by the service binaries.
//!
//! Upstream's services take their port as the first positional argument (`details.rb 9080`,
//! `ratings.js 9080`); ours do the same and default to 9080 when it is absent.

/// The port BookInfo services listen on.
pub const DEFAULT_PORT: u16 = 9080;

/// The listen port from the first positional argument, 9080 when absent.
pub fn port_from_args(args: impl IntoIterator<Item = String>) -> Result<u16, String> {
    match args.into_iter().nth(1) {
        None => Ok(DEFAULT_PORT),
        Some(raw) => raw
            .parse::<u16>()
            .map_err(|_| format!("invalid port {raw:?}: expected a number from 0 to 65535")),
    }
}

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::process::ExitCode;

use tokio::net::TcpListener;

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
pub fn launch<C, Fut>(
    service: &'static str,
    configure: impl FnOnce(&dyn Lookup) -> Result<C, ConfigErrors>,
    run: impl FnOnce(TcpListener, C, Shutdown) -> Fut,
) -> ExitCode
where
    Fut: Future<Output = io::Result<()>>,
{
    let env = ProcessEnv;
    let telemetry_config = TelemetryConfig::from_env(service, &env);
    let config = configure(&env);
    let port = port_from_args(std::env::args());
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
                eprintln!("{service}: {e}\nusage: {service} [port]");
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

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn first_positional_is_the_port() {
        assert_eq!(port_from_args(args(&["details"])), Ok(9080));
        assert_eq!(port_from_args(args(&["details", "9081"])), Ok(9081));
        assert!(port_from_args(args(&["details", "http"])).is_err());
        assert!(port_from_args(args(&["details", "70000"])).is_err());
    }
}
