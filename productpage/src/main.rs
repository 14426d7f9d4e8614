//! The productpage binary: configuration from the environment, listen on the port given as the
//! first argument (9080 by default), serve until SIGINT/SIGTERM.

use std::process::ExitCode;

/// jemalloc rather than the system allocator: fewer instructions per request, and memory freed
/// after a burst goes back to the system (docs/performance.md, "Allocator").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    bookinfo_core::cli::launch(
        "productpage",
        |env| productpage::Config::from_env(env),
        |listener, config, shutdown| async move {
            productpage::run(listener, productpage::AppState::new(config), shutdown).await
        },
    )
}
