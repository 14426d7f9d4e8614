//! The `ratings` binary: `ratings [port]`, configured from the environment (see the crate docs).

use std::process::ExitCode;

/// jemalloc rather than the system allocator: fewer instructions per request, and memory freed
/// after a burst goes back to the system (docs/performance.md, "Allocator").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    bookinfo_core::cli::launch(
        "ratings",
        ratings::Config::from_env,
        |listener, config, shutdown| async move {
            ratings::run(listener, ratings::AppState::new(config), shutdown).await
        },
    )
}
