//! A per-connection TCP balancer: what kube-proxy does for a Kubernetes Service, ztunnel for an
//! ambient workload without a waypoint, and IPVS or DNS rotation elsewhere.
//!
//! It never reads HTTP. Each accepted connection is joined, for its whole life, to one backend
//! chosen when it is accepted; bytes are copied both ways until either side closes. A client
//! that keeps one connection therefore keeps one backend, which is exactly the behaviour the
//! BookInfo clients must cope with.
//!
//! The random choice uses a small seeded generator, so a test can be rerun with the same
//! choices; which backend a connection gets never depends on what the client sends.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// How the balancer picks a backend for a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Uniformly at random (kube-proxy's iptables mode), from a generator seeded with `seed`.
    Random { seed: u64 },
    /// In turn (IPVS's default scheduler).
    RoundRobin,
}

/// A running balancer on a loopback port.
#[derive(Debug)]
pub struct Balancer {
    pub addr: SocketAddr,
    backends: Arc<RwLock<Vec<SocketAddr>>>,
    chosen: Arc<Mutex<Vec<usize>>>,
    task: JoinHandle<()>,
}

impl Drop for Balancer {
    fn drop(&mut self) {
        // Dropping the accept loop drops its set of connections, which ends them too.
        self.task.abort();
    }
}

impl Balancer {
    /// Start a balancer on `127.0.0.1:0` with no backends yet (see [`Balancer::set_backends`]):
    /// tests usually need its port before the backends exist.
    pub async fn start(choice: Choice) -> io::Result<Self> {
        Self::on(TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?, choice)
    }

    /// A balancer accepting on `listener`, with no backends yet.
    pub fn on(listener: TcpListener, choice: Choice) -> io::Result<Self> {
        let addr = listener.local_addr()?;
        let backends: Arc<RwLock<Vec<SocketAddr>>> = Arc::default();
        let chosen: Arc<Mutex<Vec<usize>>> = Arc::default();
        let task = tokio::spawn(accept(listener, choice, backends.clone(), chosen.clone()));
        Ok(Self {
            addr,
            backends,
            chosen,
            task,
        })
    }

    /// The backends new connections are spread over, in the order [`Balancer::chosen`] counts.
    pub fn set_backends(&self, backends: Vec<SocketAddr>) {
        if let Ok(mut b) = self.backends.write() {
            *b = backends;
        }
    }

    /// For every connection accepted so far, in order, the index of the backend it was given.
    pub fn chosen(&self) -> Vec<usize> {
        self.chosen.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// The port, as a string (for `*_SERVICE_PORT` variables).
    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }
}

async fn accept(
    listener: TcpListener,
    choice: Choice,
    backends: Arc<RwLock<Vec<SocketAddr>>>,
    chosen: Arc<Mutex<Vec<usize>>>,
) {
    let mut rng = XorShift::new(match choice {
        Choice::Random { seed } => seed,
        Choice::RoundRobin => 0,
    });
    let mut turn = 0usize;
    let mut connections = JoinSet::new();
    loop {
        let Ok((inbound, _)) = listener.accept().await else {
            continue;
        };
        while connections.try_join_next().is_some() {}
        let all = backends.read().map(|b| b.clone()).unwrap_or_default();
        if all.is_empty() {
            continue; // dropped: the client sees the connection closed
        }
        let index = match choice {
            Choice::Random { .. } => rng.below(all.len()),
            Choice::RoundRobin => {
                let index = turn % all.len();
                turn = turn.wrapping_add(1);
                index
            }
        };
        if let Ok(mut c) = chosen.lock() {
            c.push(index);
        }
        let backend = all[index];
        connections.spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(backend).await {
                let mut inbound = inbound;
                let _ = inbound.set_nodelay(true);
                let _ = outbound.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

/// xorshift64*: small, fast and good enough to stand in for a balancer's coin.
#[derive(Debug)]
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        // Any non-zero state works; mix the seed so that nearby seeds start far apart.
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0), from the high bits, which are the better ones.
    fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        // Multiply-shift: the bias for tiny `n` is far below anything a test could notice.
        (((self.next() >> 32) * n) >> 32) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_are_reproducible_and_in_range() {
        let draw = |seed| {
            let mut r = XorShift::new(seed);
            (0..300).map(|_| r.below(3)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        let all = draw(7);
        assert!(all.iter().all(|i| *i < 3));
        for v in 0..3 {
            assert!(all.contains(&v), "{v} never chosen");
        }
    }
}
