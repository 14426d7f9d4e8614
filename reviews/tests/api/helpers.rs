//! Starting the reviews service on a loopback port with a given environment, and a client.

pub use bookinfo_testing::fetch;
use bookinfo_testing::{FakeServer, Spawned, env, spawn};
use reviews::{AppState, Config};

/// The reviews service, configured from `vars` (not the process environment), on port 0.
pub async fn spawn_app(vars: &[(&str, &str)]) -> Spawned {
    let config = Config::from_env(&env(vars)).expect("valid test configuration");
    spawn(|listener, shutdown| reviews::run(listener, AppState::new(config), shutdown)).await
}

/// reviews with ratings enabled, pointed at `ratings`, plus `extra` settings.
pub async fn spawn_with_ratings(ratings: &FakeServer, extra: &[(&str, &str)]) -> Spawned {
    let port = ratings.port();
    let mut env = vec![
        ("ENABLE_RATINGS", "true"),
        ("RATINGS_HOSTNAME", "127.0.0.1"),
        ("RATINGS_SERVICE_PORT", port.as_str()),
        ("HOSTNAME", "reviews-test-pod"),
    ];
    env.extend_from_slice(extra);
    spawn_app(&env).await
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().build().expect("a test client")
}

pub const JSON: &str = "application/json";

/// The ratings answer of a healthy ratings v1.
pub const RATINGS_OK: &str = r#"{"id":0,"ratings":{"Reviewer1":5,"Reviewer2":4}}"#;

pub const TEXT1: &str =
    "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!";
pub const TEXT2: &str = "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.";

/// The body layout of docs/compatibility.md, items 60–62, with the given id, pod, cluster and
/// per-review `rating` suffixes
/// (`""` for v1, e.g. `, "rating": {"stars": 5, "color": "red"}` otherwise).
pub fn body(id: &str, pod: &str, cluster: &str, rating1: &str, rating2: &str) -> String {
    format!(
        r#"{{"id": "{id}","podname": "{pod}","clustername": "{cluster}","reviews": [{{  "reviewer": "Reviewer1",  "text": "{TEXT1}"{rating1}}},{{  "reviewer": "Reviewer2",  "text": "{TEXT2}"{rating2}}}]}}"#
    )
}

pub fn stars(n: u8, color: &str) -> String {
    format!(r#", "rating": {{"stars": {n}, "color": "{color}"}}"#)
}

pub const UNAVAILABLE: &str =
    r#", "rating": {"error": "Ratings service is currently unavailable"}"#;
