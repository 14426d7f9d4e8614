//! The `reviews` binary: `reviews [port]`, configured from the environment (see `Config`).

use std::process::ExitCode;

fn main() -> ExitCode {
    bookinfo_core::cli::launch(
        "reviews",
        reviews::Config::from_env,
        |listener, config, shutdown| {
            reviews::run(listener, reviews::AppState::new(config), shutdown)
        },
    )
}
