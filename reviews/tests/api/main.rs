//! API tests of the reviews service: the real server on a loopback port, a fake ratings
//! service. Expected values are those of docs/compatibility.md, items 60–72; the number next to
//! each test names its item.

mod forwarding;
mod helpers;
mod operability;
mod ratings;
mod routes;
