//! Command-line conventions and the life of a service binary, shared by every service.
//!
//! Upstream's services take their port as the first positional argument (`details.rb 9080`,
//! `ratings.js 9080`); ours do the same and default to 9080 when it is absent.
//!
//! `<service> --health-check [port]` asks a running service instead of starting one: it sends
//! `GET /health` to `127.0.0.1:<port>` and exits 0 on a 2xx answer, 1 on anything else. The
//! container images use it as their `HEALTHCHECK`, so they need no HTTP client of their own.
//! Without a port it checks the port the container's main process was started with (see
//! [`container_main_args`]), so `docker run IMAGE 9090` stays healthy without overriding the
//! healthcheck.
//!
//! Three parts: `args` reads the command line, `health` is the check (one blocking HTTP/1.1
//! request), and `lifecycle` is the life of a serving binary ([`launch`]: configuration, bind,
//! serve, drain).

mod args;
mod health;
mod lifecycle;

pub use args::{
    Command, DEFAULT_PORT, HEALTH_CHECK_FLAG, args_of_program, container_main_args, parse_args,
};
pub use health::{HEALTH_CHECK_TIMEOUT, Unhealthy, check_health, health_check, health_check_port};
pub use lifecycle::{Shutdown, launch, with_runtime};
