//! The productpage binary: configuration from the environment, listen on the port given as the
//! first argument (9080 by default), serve until SIGINT/SIGTERM.

use std::process::ExitCode;

fn main() -> ExitCode {
    bookinfo_core::cli::launch(
        "productpage",
        |env| productpage::Config::from_env(env),
        |listener, config, shutdown| async move {
            productpage::run(listener, productpage::AppState::new(config), shutdown).await
        },
    )
}
