//! The `ratings` binary: `ratings [port]`, configured from the environment (see the crate docs).

use std::process::ExitCode;

fn main() -> ExitCode {
    bookinfo_core::cli::launch(
        "ratings",
        ratings::Config::from_env,
        |listener, config, shutdown| async move {
            ratings::run(listener, ratings::AppState::new(config), shutdown).await
        },
    )
}
