//! Starting the details service on a loopback port with a given environment, and a client.

use bookinfo_core::testing::{Spawned, spawn};
use details::{AppState, Config};

/// The details service, configured from `env` (not the process environment), on port 0.
pub async fn spawn_app(env: &[(&str, &str)]) -> Spawned {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let config = Config::from_env(&env).expect("valid test configuration");
    spawn(|listener, shutdown| details::run(listener, AppState::new(config), shutdown)).await
}

/// A client that sends exactly the headers a test gives it (no default user agent).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().build().expect("a test client")
}

/// The answer's status, content type and body.
/// The content type is `""` when the answer has none.
pub async fn fetch(req: reqwest::RequestBuilder) -> (u16, String, String) {
    let resp = req.send().await.expect("the service answers");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map_or_else(String::new, |v| {
            v.to_str().expect("a text content type").to_owned()
        });
    (
        status,
        content_type,
        resp.text().await.expect("a text body"),
    )
}

/// The built-in book with the given id, as the spec writes it.
pub fn builtin_book(id: &str) -> String {
    format!(
        r#"{{"id":{id},"author":"William Shakespeare","year":1595,"type":"paperback","pages":200,"publisher":"PublisherA","language":"English","ISBN-10":"1234567890","ISBN-13":"123-1234567890"}}"#
    )
}

pub const JSON: &str = "application/json";
