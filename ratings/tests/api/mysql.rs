//! v2 with `DB_TYPE=mysql` against a real MariaDB (docs/compatibility.md, item 87, and item
//! 85's recovery).
//!
//! The database comes from `BOOKINFO_TEST_MYSQL=host:port:user:password`, as printed by
//! `ratings/scripts/mariadb-test-server.sh`, which also loads `ratings/sql/mysqldb-init.sql`.
//! Without it these tests say loudly that they were skipped. They never stop that database:
//! outages are simulated with a TCP forwarder in front of it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use mysql_async::prelude::Queryable;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::helpers::{closed_port, default_ratings, get, spawn_app};

const CANNOT_CONNECT: &str = r#"{"error":"could not connect to ratings database"}"#;

struct TestDb {
    host: String,
    port: u16,
    user: String,
    password: String,
}

fn test_db() -> Option<TestDb> {
    let Ok(spec) = std::env::var("BOOKINFO_TEST_MYSQL") else {
        eprintln!(
            "\n*** SKIPPED: set BOOKINFO_TEST_MYSQL=host:port:user:password \
             (see ratings/scripts/mariadb-test-server.sh) to run the MySQL tests ***\n"
        );
        return None;
    };
    let mut parts = spec.splitn(4, ':');
    let mut next = || parts.next().unwrap_or_default().to_owned();
    let (host, port, user, password) = (next(), next(), next(), next());
    Some(TestDb {
        host,
        port: port.parse().expect("BOOKINFO_TEST_MYSQL port"),
        user,
        password,
    })
}

fn env_for<'a>(db: &'a TestDb, host: &'a str, port: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("SERVICE_VERSION", "v2"),
        ("DB_TYPE", "mysql"),
        ("MYSQL_DB_HOST", host),
        ("MYSQL_DB_PORT", port),
        ("MYSQL_DB_USER", &db.user),
        ("MYSQL_DB_PASSWORD", &db.password),
        ("RATINGS_DB_TIMEOUT_SECONDS", "1"),
    ]
}

#[tokio::test]
async fn shipped_table_rates_five_and_four_for_any_product() {
    // 87
    let Some(db) = test_db() else { return };
    let port = db.port.to_string();
    let app = spawn_app(&env_for(&db, &db.host, &port)).await;
    for id in [0, 7, -1] {
        get(&app, &format!("/ratings/{id}"))
            .await
            .assert_json(200, &default_ratings(id));
    }
}

#[tokio::test]
async fn failing_select_is_a_500() {
    // docs/compatibility.md, item 87: a user that may connect to `test` but not read `Rating`
    // makes the query fail.
    let Some(db) = test_db() else { return };
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(db.host.clone())
        .tcp_port(db.port)
        .user(Some(db.user.clone()))
        .pass(Some(db.password.clone()))
        .prefer_socket(false);
    let mut admin = mysql_async::Conn::new(opts).await.unwrap();
    admin
        .query_drop(
            "CREATE USER IF NOT EXISTS 'ratings_noselect'@'%' IDENTIFIED BY 'noselect';
             GRANT SELECT (ReviewID) ON test.ratings TO 'ratings_noselect'@'%';",
        )
        .await
        .unwrap();
    admin.disconnect().await.unwrap();

    let port = db.port.to_string();
    let mut env = env_for(&db, &db.host, &port);
    env.retain(|(k, _)| !k.starts_with("MYSQL_DB_USER") && !k.starts_with("MYSQL_DB_PASSWORD"));
    env.extend([
        ("MYSQL_DB_USER", "ratings_noselect"),
        ("MYSQL_DB_PASSWORD", "noselect"),
    ]);
    let app = spawn_app(&env).await;
    get(&app, "/ratings/0")
        .await
        .assert_json(500, r#"{"error":"could not perform select"}"#);
}

/// A TCP forwarder standing in for the database's address, so tests can take it away.
struct Forwarder {
    accept: JoinHandle<()>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Forwarder {
    async fn start(port: u16, target: SocketAddr) -> Forwarder {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let connections = Arc::new(Mutex::new(Vec::new()));
        let accept = {
            let connections = connections.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((mut inbound, _)) = listener.accept().await else {
                        return;
                    };
                    let pipe = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    connections.lock().unwrap().push(pipe);
                }
            })
        };
        Forwarder {
            accept,
            connections,
        }
    }

    /// Close the port and cut every forwarded connection: the database is "down".
    async fn stop(self) {
        self.accept.abort();
        let _ = self.accept.await;
        for pipe in self.connections.lock().unwrap().drain(..) {
            pipe.abort();
        }
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn recovers_when_the_database_comes_back() {
    // 85's recovery: down at start-up, up, down again (pooled connections cut), up again,
    // all without restarting the service.
    let Some(db) = test_db() else { return };
    let target = tokio::net::lookup_host((db.host.as_str(), db.port))
        .await
        .unwrap()
        .next()
        .unwrap();
    let port = closed_port();
    let port_text = port.to_string();
    let app = spawn_app(&env_for(&db, "127.0.0.1", &port_text)).await;

    get(&app, "/ratings/0")
        .await
        .assert_json(500, CANNOT_CONNECT);

    let forwarder = Forwarder::start(port, target).await;
    get(&app, "/ratings/0")
        .await
        .assert_json(200, &default_ratings(0));
    get(&app, "/ratings/1")
        .await
        .assert_json(200, &default_ratings(1));

    forwarder.stop().await;
    get(&app, "/ratings/0")
        .await
        .assert_json(500, CANNOT_CONNECT);

    let forwarder = Forwarder::start(port, target).await;
    get(&app, "/ratings/2")
        .await
        .assert_json(200, &default_ratings(2));
    forwarder.stop().await;
}
