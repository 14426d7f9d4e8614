//! Distributed tracing: the participating mode in which a service creates its own SERVER and
//! CLIENT spans, exports them, and re-injects the trace context in every format the request used.
//!
//! * [`config`]: the standard `OTEL_*` variables, and the choice between pass-through and
//!   participating mode.

pub mod config;
