//! Spawning productpage on a loopback port against recording fake backends.

use std::time::Duration;

use bookinfo_testing::{FakeServer, Recorded, Reply, Spawned, spawn};
use productpage::{AppState, Config};

/// details v1's answer for product 0, byte for byte (docs/compatibility.md, item 51).
pub const DETAILS_0: &str = r#"{"id":0,"author":"William Shakespeare","year":1595,"type":"paperback","pages":200,"publisher":"PublisherA","language":"English","ISBN-10":"1234567890","ISBN-13":"123-1234567890"}"#;

/// reviews v1's answer (docs/compatibility.md, item 60), with pod name `reviews-v1-abc`.
pub const REVIEWS_V1: &str = r#"{"id": "0","podname": "reviews-v1-abc","clustername": "null","reviews": [{  "reviewer": "Reviewer1",  "text": "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!"},{  "reviewer": "Reviewer2",  "text": "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare."}]}"#;

/// reviews v2/v3's answer with star colour `color` (docs/compatibility.md, items 61, 62).
pub fn reviews_rated(color: &str) -> String {
    format!(
        r#"{{"id": "0","podname": "reviews-v2-abc","clustername": "null","reviews": [{{  "reviewer": "Reviewer1",  "text": "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!", "rating": {{"stars": 5, "color": "{color}"}}}},{{  "reviewer": "Reviewer2",  "text": "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.", "rating": {{"stars": 4, "color": "{color}"}}}}]}}"#
    )
}

/// ratings v1's answer for product 0 (docs/compatibility.md, item 73).
pub const RATINGS_0: &str = r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#;

/// Short enough to keep timeout tests fast, long enough for a loopback answer on a busy machine.
pub const SHORT_TIMEOUT: &str = "0.4";

/// The three fake backends.
pub struct Backends {
    pub details: FakeServer,
    pub reviews: FakeServer,
    pub ratings: FakeServer,
}

impl Backends {
    /// details v1, reviews v2 (black stars) and ratings v1.
    pub async fn healthy() -> Self {
        Self::with(
            FakeServer::always(Reply::json(DETAILS_0)).await,
            FakeServer::always(Reply::json(reviews_rated("black"))).await,
        )
        .await
    }

    pub async fn with(details: FakeServer, reviews: FakeServer) -> Self {
        let ratings = FakeServer::always(Reply::json(RATINGS_0)).await;
        Self {
            details,
            reviews,
            ratings,
        }
    }

    /// Environment pointing productpage at these fakes.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = Vec::new();
        for (name, server) in [
            ("DETAILS", &self.details),
            ("REVIEWS", &self.reviews),
            ("RATINGS", &self.ratings),
        ] {
            env.push((format!("{name}_HOSTNAME"), "127.0.0.1".to_owned()));
            env.push((format!("{name}_SERVICE_PORT"), server.port()));
        }
        env
    }

    /// Every request any fake received, as `(backend, path)` in per-backend arrival order.
    pub fn all(&self) -> Vec<(&'static str, Recorded)> {
        let mut all = Vec::new();
        for (name, server) in [
            ("details", &self.details),
            ("reviews", &self.reviews),
            ("ratings", &self.ratings),
        ] {
            all.extend(server.requests().into_iter().map(|r| (name, r)));
        }
        all
    }
}

pub struct TestApp {
    pub server: Spawned,
    /// Follows no redirects and keeps no cookies, so tests see exactly what was answered.
    pub client: reqwest::Client,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn page(&self, path: &str) -> String {
        let resp = self.get(path).await;
        assert_eq!(resp.status(), 200, "GET {path}");
        resp.text().await.unwrap()
    }

    /// The `session=...` pair productpage sets when `user` signs in.
    pub async fn login(&self, user: &str) -> String {
        let resp = self
            .client
            .post(self.url("/login"))
            .form(&[("username", user), ("passwd", "password")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 302);
        let set_cookie = resp.headers()["set-cookie"].to_str().unwrap();
        set_cookie.split(';').next().unwrap().to_owned()
    }
}

/// productpage with `env` (plus nothing else) on a loopback port.
pub async fn spawn_app(env: Vec<(String, String)>) -> TestApp {
    let config = Config::from_env(&env).expect("valid test configuration");
    let state = AppState::new(config);
    let server = spawn(|listener, shutdown| productpage::run(listener, state, shutdown)).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    TestApp { server, client }
}

/// productpage against `backends`, with extra variables.
pub async fn spawn_with(backends: &Backends, extra: &[(&str, &str)]) -> TestApp {
    let mut env = backends.env();
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    spawn_app(env).await
}

/// A port with nothing listening: connections are refused at once.
pub fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port().to_string()
}

pub fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}
