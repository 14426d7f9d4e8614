//! MySQL/MariaDB ratings (`DB_TYPE=mysql`): `SELECT Rating FROM ratings` in database `test`.
//!
//! The pool starts empty and opens connections on demand, so a database that is down at start-up
//! or later only costs the requests made meanwhile. The driver drops idle connections it finds
//! closed before handing them out; a connection that dies after that check (the database
//! restarted a moment ago) fails its query with an I/O error, and that query is retried once on
//! another connection rather than shown to the user.

use std::borrow::Cow;
use std::time::Duration;

use bookinfo_core::trace::{Database, error_type};
use mysql_async::prelude::Queryable;
use mysql_async::{DriverError, Error, OptsBuilder, Pool, PoolConstraints, PoolOpts, Row};
use serde_json::Value;

use super::{Failure, select_failed, traced, unreachable};
use crate::config::MysqlConfig;
use crate::error::RatingsError;
use crate::product_id::js_number;

/// Most connections kept open to the database. Each request holds one only for one short query.
const POOL_MAX: usize = 16;

/// Attempts per request: the first, plus one retry after a connection turned out to be dead.
const ATTEMPTS: usize = 2;

/// The query upstream runs (no `WHERE`, no `ORDER BY`: the product id is ignored). It holds no
/// values, so a trace may show it whole.
const QUERY: &str = "SELECT Rating FROM ratings";

/// The database and table it reads.
const DATABASE: &str = "test";
const TABLE: &str = "ratings";

/// A pooled MySQL client.
#[derive(Debug)]
pub struct MysqlRatings {
    pool: Pool,
    timeout: Duration,
    /// What each call's span says about where it went.
    database: Database,
}

impl MysqlRatings {
    pub fn new(config: &MysqlConfig, timeout: Duration) -> MysqlRatings {
        let constraints = PoolConstraints::new(0, POOL_MAX).unwrap_or_default();
        let opts = OptsBuilder::default()
            .ip_or_hostname(config.host.clone())
            .tcp_port(config.port)
            .user(config.user.clone())
            .pass(config.password.clone())
            .db_name(Some("test"))
            // Stay on the configured TCP address: the driver would otherwise switch to the
            // server's Unix socket when the host is local, bypassing what the operator chose.
            .prefer_socket(false)
            .pool_opts(PoolOpts::default().with_constraints(constraints));
        MysqlRatings {
            pool: Pool::new(opts),
            timeout,
            database: Database {
                system: "mysql",
                namespace: DATABASE.to_owned(),
                address: Some(config.host.clone()),
                port: Some(config.port),
            },
        }
    }

    /// The `Rating` of the first two rows (never `None`: a row always has the column).
    pub async fn first_two(&self) -> Result<Vec<Option<Value>>, RatingsError> {
        let call = self.database.call("SELECT", TABLE, Some(QUERY));
        traced(call, self.select()).await
    }

    async fn select(&self) -> Result<Vec<Option<Value>>, Failure> {
        for _ in 0..ATTEMPTS {
            let mut conn = match tokio::time::timeout(self.timeout, self.pool.get_conn()).await {
                Ok(Ok(conn)) => conn,
                Ok(Err(e)) => return Err(driver_failure(&e, unreachable)),
                Err(_) => {
                    return Err(Failure::timeout(
                        unreachable,
                        format!("no connection within {:?}", self.timeout),
                    ));
                }
            };
            match tokio::time::timeout(self.timeout, conn.query::<Row, _>(QUERY)).await {
                Ok(Ok(rows)) => {
                    return Ok(rows
                        .into_iter()
                        .take(2)
                        .map(|row| Some(rating_json(row.as_ref(0))))
                        .collect());
                }
                Ok(Err(e)) if is_stale_connection(&e) => {
                    tracing::warn!(cause = %e, "pooled MySQL connection was stale; retrying");
                }
                Ok(Err(e)) => return Err(driver_failure(&e, select_failed)),
                Err(_) => {
                    return Err(Failure::timeout(
                        select_failed,
                        format!("no result within {:?}", self.timeout),
                    ));
                }
            }
        }
        Err(Failure::new(
            unreachable,
            Cow::Borrowed("connection_closed"),
            None,
            std::any::type_name::<Error>(),
            "the connection broke on every attempt".to_owned(),
        ))
    }
}

/// A `Rating` cell as JSON. The text protocol delivers numbers as digits; they become JSON
/// numbers, as upstream's driver makes them JavaScript numbers. Whatever the column type, this
/// never fails: an odd schema should give an odd value, not an error.
fn rating_json(cell: Option<&mysql_async::Value>) -> Value {
    use mysql_async::Value as Sql;
    match cell {
        None | Some(Sql::NULL) => Value::Null,
        Some(Sql::Int(n)) => Value::from(*n),
        Some(Sql::UInt(n)) => Value::from(*n),
        Some(Sql::Float(x)) => Value::Number(js_number(f64::from(*x))),
        Some(Sql::Double(x)) => Value::Number(js_number(*x)),
        Some(Sql::Bytes(bytes)) => {
            let text = String::from_utf8_lossy(bytes);
            match text.parse::<f64>() {
                Ok(x) if x.is_finite() => Value::Number(js_number(x)),
                _ => Value::String(text.into_owned()),
            }
        }
        Some(other) => Value::String(other.as_sql(true)),
    }
}

/// A driver error, answered as `answer`: `error.type` is MySQL's error number when the server
/// sent one, else the I/O reason or the kind of driver failure.
fn driver_failure(e: &Error, answer: fn(String) -> RatingsError) -> Failure {
    let (error_type, status_code) = match e {
        Error::Server(server) => {
            let code = server.code.to_string();
            (Cow::Owned(code.clone()), Some(code))
        }
        other => {
            let kind = error_type::in_chain(other).unwrap_or(match other {
                Error::Driver(DriverError::ConnectionClosed) => "connection_closed",
                Error::Driver(_) => "driver",
                Error::Io(_) => "io",
                Error::Url(_) => "url",
                Error::Other(_) | Error::Server(_) => "other",
            });
            (Cow::Borrowed(kind), None)
        }
    };
    Failure::new(
        answer,
        error_type,
        status_code,
        std::any::type_name::<Error>(),
        e.to_string(),
    )
}

/// Errors that mean the connection died, not that the query is wrong.
fn is_stale_connection(e: &Error) -> bool {
    matches!(
        e,
        Error::Io(_) | Error::Driver(DriverError::ConnectionClosed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_async::Value as Sql;

    #[test]
    fn cells_become_json() {
        let json = |v: Sql| rating_json(Some(&v)).to_string();
        assert_eq!(json(Sql::Bytes(b"5".to_vec())), "5");
        assert_eq!(json(Sql::Bytes(b"4.50".to_vec())), "4.5");
        assert_eq!(json(Sql::Bytes(b"five".to_vec())), r#""five""#);
        assert_eq!(json(Sql::Int(-3)), "-3");
        assert_eq!(json(Sql::Double(4.0)), "4");
        assert_eq!(json(Sql::NULL), "null");
        assert_eq!(rating_json(None), Value::Null);
    }
}
