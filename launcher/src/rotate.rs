//! What a Kubernetes Service without a mesh does for the reviews versions: a balancer in front
//! of them that places each new TCP connection on the next version in turn and never reads
//! HTTP. Refreshing the page shows v1, v2 and v3 in rotation because productpage places each
//! page view's reviews call on a fresh connection (`BACKEND_CONNECTIONS`, see
//! `bookinfo_core::spread`), as it has to behind kube-proxy or ztunnel.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use bookinfo_testing::balancer::{Balancer, Choice};
use tokio::net::TcpListener;

/// Serve the rotation on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    targets: Vec<SocketAddr>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let balancer = Balancer::on(listener, Choice::RoundRobin)?;
    balancer.set_backends(targets);
    shutdown.await;
    drop(balancer);
    Ok(())
}
