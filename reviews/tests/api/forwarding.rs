//! Header pass-through onto the ratings call: exactly the shared list arrives
//! (docs/compatibility.md, item 66).

use bookinfo_testing::{FakeServer, Reply, probe};

use crate::helpers::{RATINGS_OK, client, fetch, spawn_with_ratings};

#[tokio::test]
async fn exactly_the_listed_headers_reach_ratings() {
    let ratings = FakeServer::always(Reply::json(RATINGS_OK)).await;
    let app = spawn_with_ratings(&ratings, &[]).await;
    let mut req = client().get(app.url("/reviews/0"));
    for (name, value) in probe::sent() {
        req = req.header(name, value);
    }
    let (status, _, _) = fetch(req).await;
    assert_eq!(status, 200);

    let seen = &ratings.requests()[0];
    // The list, plus `host`, the `accept: application/json` upstream sends, and the client's
    // own `connection: close`: at this pace each call retires its connection, so that the next
    // is placed afresh by a per-connection balancer (BACKEND_CONNECTIONS=spread).
    probe::assert_forwarded_exactly(seen, &["host", "accept", "connection"]);
    assert_eq!(seen.header("accept"), Some("application/json"));
    assert_eq!(seen.header("connection"), Some("close"));
}

#[tokio::test]
async fn end_user_alone_is_forwarded() {
    // 66: what lets Istio route jason's reviews→ratings hop.
    let ratings = FakeServer::always(Reply::json(RATINGS_OK)).await;
    let app = spawn_with_ratings(&ratings, &[]).await;
    fetch(
        client()
            .get(app.url("/reviews/0"))
            .header("end-user", "jason"),
    )
    .await;
    fetch(client().get(app.url("/reviews/0"))).await;
    let seen = ratings.requests();
    assert_eq!(seen[0].header("end-user"), Some("jason"));
    assert_eq!(seen[1].header("end-user"), None);
}
