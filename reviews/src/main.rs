//! The `reviews` binary: `reviews [port]`, configured from the environment (see `Config`).

use std::process::ExitCode;

/// jemalloc rather than the system allocator: fewer instructions per request, and memory freed
/// after a burst goes back to the system (docs/performance.md, "Allocator").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    bookinfo_core::cli::launch(
        "reviews",
        reviews::Config::from_env,
        |listener, config, shutdown| {
            reviews::run(listener, reviews::AppState::new(config), shutdown)
        },
    )
}
