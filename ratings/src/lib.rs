//! BookInfo's ratings service: star ratings for a product, from memory or from a database.
//!
//! `SERVICE_VERSION` picks the behaviour, exactly as upstream's image variants do:
//!
//! * unset / `v1` / anything unlisted: ratings held in process memory, writable with `POST`
//!   ([`store`]).
//! * `v-faulty`, `v-delayed`, `v-unavailable`, `v-unhealthy`: the in-memory service with a fault
//!   injected by the service itself ([`faults`]).
//! * `v2`: ratings read from MySQL/MariaDB (`DB_TYPE=mysql`) or MongoDB ([`db`]).
//!
//! The routes and their quirks (product id taken from the last segment of the raw URL, bodies
//! and error texts) live in [`routes`] and [`product_id`]; every error the service can answer
//! with is a [`RatingsError`].
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `SERVICE_VERSION` | (v1) | `v-faulty`, `v-delayed`, `v-unavailable`, `v-unhealthy`, `v2`; anything else is v1 |
//! | `DB_TYPE` | (MongoDB) | `mysql` selects MySQL/MariaDB in `v2` |
//! | `MYSQL_DB_HOST` / `MYSQL_DB_PORT` | `localhost` / `3306` | MySQL address (`v2`, `DB_TYPE=mysql`) |
//! | `MYSQL_DB_USER` / `MYSQL_DB_PASSWORD` | (none) | MySQL credentials |
//! | `MONGO_DB_URL` | (none) | MongoDB connection string (`v2`); unset answers the connect error |
//! | `RATINGS_FAULT_PROBABILITY` | `0.5` | share of GETs failed (`v-faulty`) or delayed (`v-delayed`) |
//! | `RATINGS_DELAY_SECONDS` | `7` | delay of `v-delayed` |
//! | `RATINGS_FAULT_PERIOD_SECONDS` | `60` (`v-unavailable`), `900` (`v-unhealthy`) | toggle period |
//! | `RATINGS_DB_TIMEOUT_SECONDS` | `2` | bound on each database connect / query attempt |

pub mod config;
pub mod db;
pub mod error;
pub mod faults;
pub mod product_id;
pub mod routes;
pub mod store;

use std::future::Future;
use std::sync::Arc;

use bookinfo_core::{Instruments, Metrics};
use tokio::net::TcpListener;

pub use config::{Config, DatabaseConfig, Version};
pub use error::RatingsError;

use db::Database;
use faults::Faults;
use store::RatingsStore;

/// Everything a request handler needs; cheap to clone (one `Arc`).
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    version: Version,
    faults: Faults,
    store: RatingsStore,
    /// Present only in `v2`; built once so requests share its connection pool.
    database: Option<Database>,
    instruments: Instruments,
}

impl AppState {
    /// Build the state. Database connections are opened lazily, so the service starts (and
    /// answers with JSON errors) even while its database is down. Call it inside the Tokio
    /// runtime (span export may start background work).
    pub fn new(config: Config) -> AppState {
        let database = match (&config.version, &config.database) {
            (Version::Database, Some(db)) => Some(Database::new(db, config.db_timeout)),
            _ => None,
        };
        AppState {
            inner: Arc::new(Inner {
                faults: Faults::new(&config.version, &config.faults),
                version: config.version,
                store: RatingsStore::default(),
                database,
                instruments: Instruments::start("ratings", &config.tracing)
                    .with_limits(config.server),
            }),
        }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.instruments.metrics
    }
}

/// The service's routes wrapped with the shared middleware.
pub fn app(state: AppState) -> axum::Router {
    let instruments = state.inner.instruments.clone();
    instruments.harden(routes::router(state))
}

/// Serve until `shutdown` completes, then drain in-flight requests.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let instruments = state.inner.instruments.clone();
    instruments.serve(listener, app(state), shutdown).await
}
