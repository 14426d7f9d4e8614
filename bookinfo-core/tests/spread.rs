//! The HTTP client's connection policies against what really balances per connection: a
//! TCP balancer in front of several backends, and a name with several addresses.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bookinfo_core::client::{Client, MAX_RESPONSE_BODY, read_body};
use bookinfo_core::headers::Forwarded;
use bookinfo_core::spread::HostLookup;
use bookinfo_core::{Connections, Metrics};
use bookinfo_testing::balancer::{Balancer, Choice};
use bookinfo_testing::{FakeServer, Reply};

const TIMEOUT: Duration = Duration::from_secs(5);

/// Three backends that answer with their number.
async fn three_backends() -> Vec<FakeServer> {
    let mut all = Vec::new();
    for n in 1..=3 {
        all.push(FakeServer::always(Reply::json(format!("{n}"))).await);
    }
    all
}

/// `n` sequential calls to `url`; the answers in order.
async fn calls(client: &Client, url: &str, n: usize) -> Vec<String> {
    let mut answers = Vec::new();
    for _ in 0..n {
        let resp = client
            .call("backend", url, &Forwarded::default(), TIMEOUT, 0)
            .await
            .expect("the backend answers");
        let body = read_body(resp, MAX_RESPONSE_BODY).await.expect("a body");
        answers.push(String::from_utf8(body.to_vec()).expect("text"));
    }
    answers
}

fn client_with(connections: Connections) -> Client {
    Client::new(Metrics::new("client"), "client", connections)
}

/// Every call of a short sequence gets its own connection, so the balancer places every call.
#[tokio::test]
async fn spread_and_per_call_place_every_call_of_a_sequence_afresh() {
    for connections in [Connections::Spread, Connections::PerCall] {
        let backends = three_backends().await;
        let balancer = Balancer::start(Choice::RoundRobin).await.expect("balancer");
        balancer.set_backends(backends.iter().map(|b| b.addr).collect());
        let url = format!("http://{}/x", balancer.addr);
        let answers = calls(&client_with(connections), &url, 30).await;
        assert_eq!(
            balancer.chosen().len(),
            30,
            "{connections}: one connection per call"
        );
        let expected: Vec<String> = (0..30).map(|i| format!("{}", i % 3 + 1)).collect();
        assert_eq!(answers, expected, "{connections}");
        for b in &backends {
            assert_eq!(b.requests().len(), 10, "{connections}");
        }
    }
}

/// A retired connection is announced to the server, which may close it at once.
#[tokio::test]
async fn a_retiring_call_says_so() {
    let backend = FakeServer::always(Reply::json("{}")).await;
    let url = format!("{}/x", backend.base_url());
    calls(&client_with(Connections::Spread), &url, 1).await;
    calls(&client_with(Connections::Pooled), &url, 1).await;
    let seen = backend.requests();
    assert_eq!(seen[0].header("connection"), Some("close"));
    assert_eq!(seen[1].header("connection"), None);
}

/// A fixed table of names, standing in for a DNS server that answers several addresses (as
/// Docker's does for a name several containers share).
#[derive(Debug)]
struct Table(HashMap<String, Vec<IpAddr>>);

impl HostLookup for Table {
    fn lookup(&self, host: &str) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>> {
        let found = self.0.get(host).cloned();
        Box::pin(async move { found.ok_or_else(|| io::Error::from(io::ErrorKind::NotFound)) })
    }
}

#[tokio::test]
async fn new_connections_take_every_address_of_a_name_in_turn() {
    // The same port on three loopback addresses.
    let first = FakeServer::always(Reply::json("1")).await;
    let port = first.addr.port();
    let mut backends = vec![first];
    for (n, last) in [(2, 2u8), (3, 3u8)] {
        let addr = SocketAddr::from((Ipv4Addr::new(127, 0, 0, last), port));
        backends.push(FakeServer::always_on(addr, Reply::json(format!("{n}"))).await);
    }
    // Answered out of order, as a DNS server may: the client's turn order does not depend on it.
    let ip = |last| IpAddr::V4(Ipv4Addr::new(127, 0, 0, last));
    let table = Table(HashMap::from([(
        "reviews.test".to_owned(),
        vec![ip(3), ip(1), ip(2)],
    )]));
    let client = Client::with_lookup(
        Metrics::new("client"),
        "client",
        Connections::Spread,
        Arc::new(table),
    );
    let answers = calls(&client, &format!("http://reviews.test:{port}/x"), 30).await;
    let expected: Vec<String> = (0..30).map(|i| format!("{}", i % 3 + 1)).collect();
    assert_eq!(answers, expected);
    for b in &backends {
        assert_eq!(b.requests().len(), 10);
    }
}
