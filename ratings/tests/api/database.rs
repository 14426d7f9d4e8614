//! v2 without a live database: POST, and prompt JSON errors when the database is unreachable
//! (docs/compatibility.md, items 78, 84, 85). MongoDB has no server in CI; MySQL with a server
//! is in `mysql`.

use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

use crate::helpers::{closed_port, get, post, spawn_app};

const CANNOT_CONNECT: &str = r#"{"error":"could not connect to ratings database"}"#;

#[tokio::test]
async fn post_is_not_implemented_in_v2() {
    // 78, for both backends; the id is still checked first.
    for db_type in ["mongodb", "mysql"] {
        let app = spawn_app(&[("SERVICE_VERSION", "v2"), ("DB_TYPE", db_type)]).await;
        post(&app, "/ratings/0", r#"{"Reviewer1":1}"#)
            .await
            .assert_json(
                501,
                r#"{"error":"Post not implemented for database backed ratings"}"#,
            );
        post(&app, "/ratings/abc", r#"{"Reviewer1":1}"#)
            .await
            .assert_json(400, r#"{"error":"please provide numeric product ID"}"#);
        get(&app, "/ratings/abc")
            .await
            .assert_json(400, r#"{"error":"please provide numeric product ID"}"#);
    }
}

#[tokio::test]
async fn mongo_unreachable_is_a_prompt_500() {
    // 84
    let url = format!("mongodb://127.0.0.1:{}/test", closed_port());
    let app = spawn_app(&[
        ("SERVICE_VERSION", "v2"),
        ("MONGO_DB_URL", &url),
        ("RATINGS_DB_TIMEOUT_SECONDS", "0.5"),
    ])
    .await;
    for _ in 0..2 {
        let started = Instant::now();
        get(&app, "/ratings/0")
            .await
            .assert_json(500, CANNOT_CONNECT);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
    // The database does not decide the service's health (as upstream).
    get(&app, "/health")
        .await
        .assert_json(200, r#"{"status":"Ratings is healthy"}"#);
}

#[tokio::test]
async fn mongo_without_url_cannot_connect() {
    let app = spawn_app(&[("SERVICE_VERSION", "v2")]).await;
    get(&app, "/ratings/0")
        .await
        .assert_json(500, CANNOT_CONNECT);
}

#[tokio::test]
async fn mysql_refusing_connections_is_a_prompt_500() {
    // 85, deliberately different: upstream answers 200 without a content type.
    let port = closed_port().to_string();
    let app = spawn_app(&[
        ("SERVICE_VERSION", "v2"),
        ("DB_TYPE", "mysql"),
        ("MYSQL_DB_HOST", "127.0.0.1"),
        ("MYSQL_DB_PORT", &port),
        ("MYSQL_DB_USER", "root"),
        ("MYSQL_DB_PASSWORD", "password"),
    ])
    .await;
    for _ in 0..2 {
        let started = Instant::now();
        get(&app, "/ratings/0")
            .await
            .assert_json(500, CANNOT_CONNECT);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn mysql_that_never_answers_times_out_promptly() {
    // A server that accepts connections but never sends its greeting (a hung database, a
    // black-holing network path): the connect timeout, not the client, ends the wait.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            held.push(tokio::spawn(async move {
                let mut sink = [0u8; 64];
                while socket.read(&mut sink).await.is_ok_and(|n| n > 0) {}
            }));
        }
    });
    let app = spawn_app(&[
        ("SERVICE_VERSION", "v2"),
        ("DB_TYPE", "mysql"),
        ("MYSQL_DB_HOST", "127.0.0.1"),
        ("MYSQL_DB_PORT", &port),
        ("RATINGS_DB_TIMEOUT_SECONDS", "0.5"),
    ])
    .await;
    let started = Instant::now();
    get(&app, "/ratings/0")
        .await
        .assert_json(500, CANNOT_CONNECT);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(3),
        "{took:?}"
    );
    silent.abort();
}
