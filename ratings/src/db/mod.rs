//! Ratings read from a database (`SERVICE_VERSION=v2`).
//!
//! Upstream opens a new connection per request and has no timeouts; here each backend keeps
//! one long-lived client (a connection pool) built at start-up, connects lazily so the service
//! starts while its database is down, bounds every attempt with `RATINGS_DB_TIMEOUT_SECONDS`,
//! and reconnects by itself once the database is back.
//!
//! Both backends ignore the product id, as upstream does: the first row/document rates for
//! Reviewer1, the second for Reviewer2.
//!
//! In a trace each read is one CLIENT span under ratings' SERVER span (`SELECT ratings` for
//! MySQL, `find ratings` for MongoDB), with the database conventions' attributes
//! (`bookinfo_core::trace::db`). A failed read carries its reason in `error.type` (the
//! server's error code when it answered with one, else `timeout`, `connection_refused`, ...)
//! and an `exception` event; what is logged during the read, such as a retry on a dead pooled
//! connection, is an event of that span.

pub mod mongo;
pub mod mysql;

use std::borrow::Cow;
use std::future::Future;
use std::time::Duration;

use bookinfo_core::trace::DbCall;
use serde_json::{Map, Value};

use crate::config::DatabaseConfig;
use crate::error::RatingsError;

/// The configured database.
#[derive(Debug)]
pub enum Database {
    Mysql(mysql::MysqlRatings),
    /// Boxed: the parsed connection options are large and this lives once per process.
    Mongo(Box<mongo::MongoRatings>),
}

impl Database {
    /// The client for `config`; opens no connection yet.
    pub fn new(config: &DatabaseConfig, timeout: Duration) -> Database {
        match config {
            DatabaseConfig::Mysql(c) => Database::Mysql(mysql::MysqlRatings::new(c, timeout)),
            DatabaseConfig::Mongo(url) => Database::Mongo(Box::new(mongo::MongoRatings::new(
                url.as_deref().cloned(),
                timeout,
            ))),
        }
    }

    /// The `ratings` object: `{"Reviewer1": .., "Reviewer2": ..}`.
    pub async fn ratings(&self) -> Result<Value, RatingsError> {
        let rows = match self {
            Database::Mysql(db) => db.first_two().await?,
            Database::Mongo(db) => db.first_two().await?,
        };
        Ok(reviewers(&rows))
    }
}

/// Why a read failed: the answer for the client, and what the read's span records.
#[derive(Debug)]
struct Failure {
    error: RatingsError,
    /// `error.type`: the server's error code, or a short reason.
    error_type: Cow<'static, str>,
    /// The server's error code, when it answered with one (`db.response.status_code`).
    status_code: Option<String>,
    /// The type of the error that says why (`exception.type`).
    exception_type: &'static str,
    message: String,
}

impl Failure {
    /// A failure whose message is also the cause in the answer `error`.
    fn new(
        error: fn(String) -> RatingsError,
        error_type: Cow<'static, str>,
        status_code: Option<String>,
        exception_type: &'static str,
        message: String,
    ) -> Self {
        Self {
            error: error(message.clone()),
            error_type,
            status_code,
            exception_type,
            message,
        }
    }

    /// No answer within the time limit.
    fn timeout(error: fn(String) -> RatingsError, message: String) -> Self {
        Self::new(
            error,
            Cow::Borrowed("timeout"),
            None,
            std::any::type_name::<tokio::time::error::Elapsed>(),
            message,
        )
    }
}

fn unreachable(cause: String) -> RatingsError {
    RatingsError::DatabaseUnreachable { cause }
}

fn select_failed(cause: String) -> RatingsError {
    RatingsError::SelectFailed { cause }
}

fn load_failed(cause: String) -> RatingsError {
    RatingsError::LoadFailed { cause }
}

/// `read` inside `call`'s span; a failure is recorded on the span before it is answered.
async fn traced<T>(
    call: DbCall,
    read: impl Future<Output = Result<T, Failure>>,
) -> Result<T, RatingsError> {
    call.run(read).await.map_err(|failure| {
        call.failed(
            &failure.error_type,
            failure.status_code.as_deref(),
            failure.exception_type,
            &failure.message,
        );
        failure.error
    })
}

/// Map the first two rows to the two reviewers. A missing row rates 0; a row without a rating
/// value (`None`) leaves its reviewer out, as `JSON.stringify` drops `undefined` upstream.
pub fn reviewers(rows: &[Option<Value>]) -> Value {
    let mut out = Map::new();
    for (i, name) in ["Reviewer1", "Reviewer2"].into_iter().enumerate() {
        match rows.get(i) {
            None => {
                out.insert(name.to_owned(), Value::from(0));
            }
            Some(Some(rating)) => {
                out.insert(name.to_owned(), rating.clone());
            }
            Some(None) => {}
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn two_rows_rate_both_reviewers() {
        let rows = [Some(json!(5)), Some(json!(4))];
        assert_eq!(
            reviewers(&rows).to_string(),
            r#"{"Reviewer1":5,"Reviewer2":4}"#
        );
    }

    #[test]
    fn missing_rows_rate_zero() {
        assert_eq!(
            reviewers(&[]).to_string(),
            r#"{"Reviewer1":0,"Reviewer2":0}"#
        );
        assert_eq!(
            reviewers(&[Some(json!(3))]).to_string(),
            r#"{"Reviewer1":3,"Reviewer2":0}"#
        );
    }

    #[test]
    fn rows_without_a_rating_are_left_out() {
        assert_eq!(
            reviewers(&[None, Some(Value::Null)]).to_string(),
            r#"{"Reviewer2":null}"#
        );
    }
}
