//! API tests for the ratings service: the real `run` on a loopback port, plain HTTP requests.
//!
//! Expected bodies and statuses are the ones in docs/compatibility.md (section “ratings”,
//! items 73–89); the item number is named next to each test.

// Test code may panic on anything unexpected: that is how a test fails.
#![allow(clippy::unwrap_used)]

mod database;
mod faults;
mod health_check;
mod helpers;
mod mysql;
mod shutdown;
mod v1;
