//! API tests of the details service: the real server on a loopback port, fake downstreams.
//! Expected values are taken from the behaviour specification (acceptance behaviours 51–59).

mod external;
mod forwarding;
mod helpers;
mod operability;
mod routes;
