//! `ratings --health-check [port]`, the container image's `HEALTHCHECK`: the real binary,
//! run as its own process, asking the real service on a loopback port-0 socket.

use std::net::{Ipv4Addr, TcpListener};
use std::process::Command;
use std::time::Duration;

use crate::helpers::spawn_app;

/// Run `ratings --health-check <port>` off the test's runtime (which serves the service) and
/// return its exit code and everything it printed.
async fn health_check(port: String) -> (Option<i32>, String) {
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_ratings"))
            .args(["--health-check", &port])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), printed)
}

#[tokio::test]
async fn exits_0_against_a_healthy_service() {
    let app = spawn_app(&[]).await;
    let (code, printed) = health_check(app.port()).await;
    assert_eq!(code, Some(0), "{printed}");
    assert!(printed.contains("healthy (200"), "{printed}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn exits_1_when_nothing_listens() {
    let port = {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        listener.local_addr().unwrap().port()
    };
    let (code, printed) = health_check(port.to_string()).await;
    assert_eq!(code, Some(1), "{printed}");
    assert!(printed.contains("unhealthy"), "{printed}");
}

/// v-unhealthy's `/health` answers 500 in its failing phase: the check fails with it.
#[tokio::test]
async fn exits_1_against_an_unhealthy_service() {
    let app = spawn_app(&[
        ("SERVICE_VERSION", "v-unhealthy"),
        ("RATINGS_FAULT_PERIOD_SECONDS", "1"),
    ])
    .await;
    // Healthy for the first period, failing for the second.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (code, printed) = health_check(app.port()).await;
    assert_eq!(code, Some(1), "{printed}");
    assert!(printed.contains("status 500"), "{printed}");
    app.stop().await.unwrap();
}
