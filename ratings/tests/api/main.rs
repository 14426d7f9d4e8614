//! API tests for the ratings service: the real `run` on a loopback port, plain HTTP requests.
//!
//! Expected bodies and statuses are the ones in the behaviour contract (spec section 1.4 and
//! acceptance behaviours 73–89); the behaviour number is named next to each test.

// Test code may panic on anything unexpected: that is how a test fails.
#![allow(clippy::unwrap_used)]

mod database;
mod faults;
mod health_check;
mod helpers;
mod mysql;
mod shutdown;
mod v1;
