//! API tests of the details service: the real server on a loopback port, fake downstreams.
//! Expected values are those of docs/compatibility.md, items 51–59; the number next to each
//! test names its item.

mod external;
mod forwarding;
mod helpers;
mod operability;
mod routes;
