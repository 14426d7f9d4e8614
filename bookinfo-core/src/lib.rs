//! Shared plumbing for the four BookInfo services.
//!
//! Everything that must behave identically in `productpage`, `details`, `reviews` and `ratings`
//! lives here, so that no service re-implements it by hand:
//!
//! * [`config`]: typed configuration read once from the environment (or a test map), reporting
//!   every bad variable by name.
//! * [`headers`]: the single list of request headers a service forwards to its downstreams, and
//!   [`Forwarded`](headers::Forwarded), what a handler takes from the request it serves and
//!   hands to every call it makes (the forwarded headers and the request's trace). Trace
//!   propagation stands or falls with this list, which is why there is exactly one.
//! * [`client`]: the HTTP [`Client`](client::Client), built once per service, that sends the
//!   forwarded headers, records outbound metrics and opens a CLIENT span per attempt.
//! * [`spread`]: how that client uses connections, so that calls spread over every version
//!   behind a balancer that decides per connection (`BACKEND_CONNECTIONS`).
//! * [`server`]: binding (dual-stack, port 0 friendly), graceful shutdown with a bounded drain,
//!   the per-request observation middleware and the JSON fallbacks for unknown routes/methods.
//! * [`metrics`]: a per-service Prometheus registry and the `/metrics` handler.
//! * [`instruments`]: a service's metrics and span export together, which build its client,
//!   wrap its routes and serve them.
//! * [`trace`]: participating mode — span export configured from `OTEL_*`, one SERVER span per
//!   request, one CLIENT span per outbound attempt; pass-through mode when nothing is exported.
//! * [`telemetry`]: logging set-up (text or JSON lines); [`logs`]: throttled warnings and
//!   truncated values, so hostile input cannot flood the logs.
//! * [`connections`]: the per-connection limits [`server::serve`] applies (timeouts, a cap,
//!   the drain on shutdown).
//!
//! Reading and writing trace context in every header format is the separate, pure
//! `bookinfo-propagation` crate (no I/O, no OpenTelemetry); test support (port-0 spawning, fake
//! downstreams, the request relay) is `bookinfo-testing`.

pub mod cli;
pub mod client;
pub mod config;
pub mod connections;
pub mod headers;
pub mod instruments;
pub mod logs;
pub mod metrics;
pub mod server;
pub mod spread;
pub mod telemetry;
pub mod tls;
pub mod trace;

pub use config::{ConfigErrors, EnvReader, Lookup};
pub use instruments::Instruments;
pub use metrics::Metrics;
pub use spread::Connections;
