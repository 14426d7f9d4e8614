//! Starting the details service on a loopback port with a given environment, and a client.

pub use bookinfo_testing::fetch;
use bookinfo_testing::{Spawned, env, spawn};
use details::{AppState, Config};

/// The details service, configured from `vars` (not the process environment), on port 0.
pub async fn spawn_app(vars: &[(&str, &str)]) -> Spawned {
    let config = Config::from_env(&env(vars)).expect("valid test configuration");
    spawn(|listener, shutdown| details::run(listener, AppState::new(config), shutdown)).await
}

/// A client that sends exactly the headers a test gives it (no default user agent).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().build().expect("a test client")
}

/// The built-in book with the given id, as docs/compatibility.md, item 51, writes it.
pub fn builtin_book(id: &str) -> String {
    format!(
        r#"{{"id":{id},"author":"William Shakespeare","year":1595,"type":"paperback","pages":200,"publisher":"PublisherA","language":"English","ISBN-10":"1234567890","ISBN-13":"123-1234567890"}}"#
    )
}

pub const JSON: &str = "application/json";
