//! Spawning the service and talking to it.

use std::time::Duration;

use bookinfo_testing::{Spawned, spawn};
use reqwest::{Method, StatusCode};

/// Start ratings with exactly these environment variables.
pub async fn spawn_app(env: &[(&str, &str)]) -> Spawned {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let config = ratings::Config::from_env(&env).expect("valid test configuration");
    let state = ratings::AppState::new(config);
    spawn(|listener, shutdown| ratings::run(listener, state, shutdown)).await
}

/// One answer, reduced to what the tests compare.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub allow: Option<String>,
    pub body: String,
}

impl Answer {
    /// Assert a JSON answer with exactly this status and (compact) body.
    #[track_caller]
    pub fn assert_json(&self, status: u16, body: &str) {
        assert_eq!(self.status.as_u16(), status, "{self:?}");
        assert_eq!(
            self.content_type.as_deref(),
            Some("application/json"),
            "{self:?}"
        );
        assert_eq!(self.body, body, "{self:?}");
    }
}

/// A client with a generous timeout; share one per test where many requests are made.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

pub async fn send(app: &Spawned, method: Method, path: &str, body: &str) -> Answer {
    send_via(&client(), app, method, path, body).await
}

pub async fn send_via(
    client: &reqwest::Client,
    app: &Spawned,
    method: Method,
    path: &str,
    body: &str,
) -> Answer {
    let resp = client
        .request(method, app.url(path))
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    Answer {
        status: resp.status(),
        content_type: header("content-type"),
        allow: header("allow"),
        body: resp.text().await.unwrap(),
    }
}

pub async fn get(app: &Spawned, path: &str) -> Answer {
    send(app, Method::GET, path, "").await
}

pub async fn post(app: &Spawned, path: &str, body: &str) -> Answer {
    send(app, Method::POST, path, body).await
}

/// The default answer for product `id` (docs/compatibility.md, item 73).
pub fn default_ratings(id: i64) -> String {
    format!(r#"{{"id":{id},"ratings":{{"Reviewer1":5,"Reviewer2":4}}}}"#)
}

/// A loopback port with nothing listening on it (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
