//! Refreshing the page changes the reviews version where balancing is decided per connection:
//! a Kubernetes Service without a mesh (kube-proxy), Istio ambient without a waypoint
//! (ztunnel), docker compose (the name's addresses in turn). Here a small TCP balancer that
//! never reads HTTP stands in front of the three real reviews versions, and of three ratings.
//!
//! The random balancer's generator is seeded, so a failure can be replayed. The tests check two
//! things: every page view opened exactly one new connection, so the versions seen are the
//! balancer's choices, in order (what upstream's connection per call gives, and the opposite of
//! a pooled client, which would see one version throughout); and, as the demo promises, each
//! version serves at least 5 of 30 views. The latter holds for these seeds' choices; with a
//! fresh connection per view it fails for about 4 % of seeds, which is the balancer's luck and
//! not the client's.

#![allow(clippy::unwrap_used)] // Test helpers: a failed unwrap is a failed test.

use std::sync::Arc;

use bookinfo_launcher::{ReviewsChoice, Service, Stack, StackOptions};
use bookinfo_testing::balancer::{Balancer, Choice};
use bookinfo_testing::{FakeServer, Reply};

const VIEWS: usize = 30;
const VERSIONS: [&str; 3] = ["v1", "v2", "v3"];

fn no_env() -> Arc<Vec<(String, String)>> {
    Arc::new(Vec::new())
}

/// `VIEWS` page views one after another; the reviews version each one showed.
async fn versions_seen(stack: &Stack) -> Vec<&'static str> {
    let client = reqwest::Client::new();
    let mut seen = Vec::new();
    for _ in 0..VIEWS {
        let html = client
            .get(format!("http://{}/productpage", stack.productpage))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let version = VERSIONS
            .into_iter()
            .find(|v| html.contains(&format!("reviews-{v}-local")))
            .expect("a reviews pod name on the page");
        seen.push(version);
    }
    seen
}

/// The stack with productpage calling reviews v1, v2 and v3 through `balancer`.
async fn behind(balancer: &Balancer) -> Stack {
    let stack = Stack::start(
        StackOptions::ephemeral(ReviewsChoice::All).with_env(
            Service::Productpage,
            "REVIEWS_SERVICE_PORT",
            &balancer.port(),
        ),
        no_env(),
    )
    .await
    .unwrap();
    let versions: Vec<_> = stack.reviews_versions.iter().map(|(_, a)| *a).collect();
    assert_eq!(
        stack
            .reviews_versions
            .iter()
            .map(|(v, _)| *v)
            .collect::<Vec<_>>(),
        VERSIONS
    );
    balancer.set_backends(versions);
    stack
}

fn count(seen: &[&str], version: &str) -> usize {
    seen.iter().filter(|v| **v == version).count()
}

#[tokio::test]
async fn refreshes_spread_over_every_version_behind_a_random_per_connection_balancer() {
    let balancer = Balancer::start(Choice::Random { seed: 1 }).await.unwrap();
    let stack = behind(&balancer).await;
    let seen = versions_seen(&stack).await;
    let chosen = balancer.chosen();
    assert_eq!(chosen.len(), VIEWS, "one new connection per page view");
    let expected: Vec<&str> = chosen.iter().map(|i| VERSIONS[*i]).collect();
    assert_eq!(
        seen, expected,
        "each view went where its connection was placed"
    );
    for v in VERSIONS {
        assert!(count(&seen, v) >= 5, "{v}: {seen:?}");
    }
    stack.stop().await.unwrap();
}

#[tokio::test]
async fn refreshes_rotate_behind_a_round_robin_per_connection_balancer() {
    // IPVS's default scheduler, or a DNS answer taken in turn as docker compose's is.
    let balancer = Balancer::start(Choice::RoundRobin).await.unwrap();
    let stack = behind(&balancer).await;
    let seen = versions_seen(&stack).await;
    let expected: Vec<&str> = (0..VIEWS).map(|i| VERSIONS[i % 3]).collect();
    assert_eq!(seen, expected);
    stack.stop().await.unwrap();
}

#[tokio::test]
async fn reviews_spreads_its_ratings_calls_too() {
    let ratings: Vec<FakeServer> = {
        let mut all = Vec::new();
        for _ in 0..3 {
            all.push(
                FakeServer::always(Reply::json(
                    r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#,
                ))
                .await,
            );
        }
        all
    };
    let balancer = Balancer::start(Choice::Random { seed: 2 }).await.unwrap();
    balancer.set_backends(ratings.iter().map(|r| r.addr).collect());
    let stack = Stack::start(
        StackOptions::ephemeral(ReviewsChoice::V2).with_env(
            Service::Reviews,
            "RATINGS_SERVICE_PORT",
            &balancer.port(),
        ),
        no_env(),
    )
    .await
    .unwrap();
    let seen = versions_seen(&stack).await;
    assert!(seen.iter().all(|v| *v == "v2"));
    let chosen = balancer.chosen();
    assert_eq!(chosen.len(), VIEWS, "one new connection per ratings call");
    for (i, r) in ratings.iter().enumerate() {
        let placed = chosen.iter().filter(|c| **c == i).count();
        assert_eq!(r.requests().len(), placed, "ratings {i}");
        assert!(placed >= 5, "ratings {i}: {chosen:?}");
    }
    stack.stop().await.unwrap();
}
