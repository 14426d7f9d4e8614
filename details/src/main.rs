//! The `details` binary: `details [port]`, configured from the environment (see `Config`).

use std::process::ExitCode;

/// jemalloc rather than the system allocator: fewer instructions per request, and memory freed
/// after a burst goes back to the system (docs/performance.md, "Allocator").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    bookinfo_core::cli::launch(
        "details",
        details::Config::from_env,
        |listener, config, shutdown| {
            details::run(listener, details::AppState::new(config), shutdown)
        },
    )
}
