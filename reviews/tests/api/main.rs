//! API tests of the reviews service: the real server on a loopback port, a fake ratings
//! service. Expected values are taken from the behaviour specification (acceptance behaviours
//! 60–72).

mod forwarding;
mod helpers;
mod operability;
mod ratings;
mod routes;
