//! The `details` binary: `details [port]`, configured from the environment (see `Config`).

use std::process::ExitCode;

fn main() -> ExitCode {
    bookinfo_core::cli::launch(
        "details",
        details::Config::from_env,
        |listener, config, shutdown| {
            details::run(listener, details::AppState::new(config), shutdown)
        },
    )
}
