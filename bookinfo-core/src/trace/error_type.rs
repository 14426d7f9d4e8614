//! Short names for why a call got no answer, for the `error.type` attribute of CLIENT spans.
//!
//! The conventions ask for a low-cardinality identifier: a span search for
//! `error.type=connection_refused` should find every refused connection, whatever the message
//! said. The names are the snake-case I/O error kinds a network call fails with.

use std::error::Error;
use std::io::{self, ErrorKind};

/// The name of an I/O error kind that explains a failed call, if it is one of those.
pub fn of_io(kind: ErrorKind) -> Option<&'static str> {
    Some(match kind {
        ErrorKind::ConnectionRefused => "connection_refused",
        ErrorKind::ConnectionReset => "connection_reset",
        ErrorKind::ConnectionAborted => "connection_aborted",
        ErrorKind::NotConnected => "not_connected",
        ErrorKind::BrokenPipe | ErrorKind::UnexpectedEof => "connection_closed",
        ErrorKind::TimedOut => "timeout",
        ErrorKind::AddrNotAvailable => "address_not_available",
        ErrorKind::HostUnreachable => "host_unreachable",
        ErrorKind::NetworkUnreachable => "network_unreachable",
        ErrorKind::PermissionDenied => "permission_denied",
        _ => return None,
    })
}

/// The name ([`of_io`]) of the first I/O error in `err`'s chain of causes that has one.
pub fn in_chain(err: &(dyn Error + 'static)) -> Option<&'static str> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(name) = e
            .downcast_ref::<io::Error>()
            .and_then(|io| of_io(io.kind()))
        {
            return Some(name);
        }
        cur = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("connect failed")]
    struct Wrapper(#[source] io::Error);

    #[test]
    fn the_io_cause_names_the_failure() {
        let refused = Wrapper(io::Error::from(ErrorKind::ConnectionRefused));
        assert_eq!(in_chain(&refused), Some("connection_refused"));
        let timed_out = io::Error::from(ErrorKind::TimedOut);
        assert_eq!(in_chain(&timed_out), Some("timeout"));
        let other = Wrapper(io::Error::other("resolver said no"));
        assert_eq!(in_chain(&other), None);
    }
}
