//! productpage's API tests: the real server on a loopback port, fake backends that record what
//! they receive. Expected values come from docs/compatibility.md (item numbers in the
//! test names' doc comments).

#![allow(clippy::unwrap_used)] // Tests fail loudly on anything unexpected.

mod environment;
mod failures;
mod forwarding;
mod helpers;
mod metrics;
mod rendering;
mod routes;
mod session;
mod trace_link;
