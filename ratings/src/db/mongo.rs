//! MongoDB ratings (the `v2` default): the first two documents of collection `ratings` in
//! database `test` (whatever database the URL names, as upstream), each's `rating` field.
//!
//! The client is created on first use (parsing the options is asynchronous) and then shared; it
//! keeps its own connection pool and monitors the server, so it recovers by itself. Server
//! selection and connecting are bounded by `RATINGS_DB_TIMEOUT_SECONDS`, which turns an
//! unreachable server into a prompt error instead of the driver's 30 s default.

use std::borrow::Cow;
use std::time::Duration;

use bookinfo_core::trace::{Database, error_type};
use mongodb::Client;
use mongodb::bson::{Bson, Document, doc};
use mongodb::error::{Error, ErrorKind};
use mongodb::options::{ClientOptions, ConnectionString, HostInfo, ServerAddress};
use serde_json::Value;
use tokio::sync::OnceCell;

use super::{Failure, load_failed, traced, unreachable};
use crate::error::RatingsError;
use crate::product_id::js_number;

/// The database and collection read, whatever the URL names (as upstream).
const DATABASE: &str = "test";
const COLLECTION: &str = "ratings";

/// A lazily created, shared MongoDB client.
#[derive(Debug)]
pub struct MongoRatings {
    url: Option<ConnectionString>,
    timeout: Duration,
    client: OnceCell<Client>,
    /// What each read's span says about where it went (the first host of the URL).
    database: Database,
}

impl MongoRatings {
    pub fn new(url: Option<ConnectionString>, timeout: Duration) -> MongoRatings {
        let (address, port) = url.as_ref().map(first_host).unwrap_or_default();
        MongoRatings {
            database: Database {
                system: "mongodb",
                namespace: DATABASE.to_owned(),
                address,
                port,
            },
            url,
            timeout,
            client: OnceCell::new(),
        }
    }

    async fn client(&self) -> Result<&Client, Failure> {
        let Some(url) = &self.url else {
            return Err(Failure::new(
                unreachable,
                Cow::Borrowed("configuration"),
                None,
                "MONGO_DB_URL",
                "MONGO_DB_URL is not set".to_owned(),
            ));
        };
        self.client
            .get_or_try_init(|| async {
                let mut options = ClientOptions::parse(url.clone()).await?;
                options.connect_timeout = Some(self.timeout);
                options.server_selection_timeout = Some(self.timeout);
                Client::with_options(options)
            })
            .await
            .map_err(|e| driver_failure(&e, unreachable))
    }

    /// The `rating` of the first two documents (`None` for a document without one).
    pub async fn first_two(&self) -> Result<Vec<Option<Value>>, RatingsError> {
        let call = self.database.call("find", COLLECTION, None);
        traced(call, self.find()).await
    }

    async fn find(&self) -> Result<Vec<Option<Value>>, Failure> {
        let client = self.client().await?;
        let ratings = client.database(DATABASE).collection::<Document>(COLLECTION);
        let read = async {
            let mut cursor = ratings.find(doc! {}).limit(2).await?;
            let mut docs = Vec::with_capacity(2);
            while docs.len() < 2 && cursor.advance().await? {
                docs.push(cursor.deserialize_current()?);
            }
            Ok::<_, Error>(docs)
        };
        // Server selection is bounded by the driver; this also bounds a server that accepted
        // the connection but never answers.
        match tokio::time::timeout(self.timeout * 2, read).await {
            Ok(Ok(docs)) => Ok(docs.iter().map(rating_of).collect()),
            Ok(Err(e)) if is_connect_error(&e) => Err(driver_failure(&e, unreachable)),
            Ok(Err(e)) => Err(driver_failure(&e, load_failed)),
            Err(_) => Err(Failure::timeout(
                load_failed,
                format!("no answer within {:?}", self.timeout * 2),
            )),
        }
    }
}

/// The first server of a connection string (an SRV name has no port of its own).
fn first_host(url: &ConnectionString) -> (Option<String>, Option<u16>) {
    match &url.host_info {
        HostInfo::HostIdentifiers(hosts) => match hosts.first() {
            Some(ServerAddress::Tcp { host, port }) => {
                (Some(host.clone()), Some(port.unwrap_or(DEFAULT_PORT)))
            }
            _ => (None, None),
        },
        HostInfo::DnsRecord(name) => (Some(name.clone()), None),
        _ => (None, None),
    }
}

/// MongoDB's port when a URL names none.
const DEFAULT_PORT: u16 = 27017;

/// A driver error, answered as `answer`: `error.type` is the server's error code when it sent
/// one, else the I/O reason or the kind of failure.
fn driver_failure(e: &Error, answer: fn(String) -> RatingsError) -> Failure {
    let (error_type, status_code) = match &*e.kind {
        ErrorKind::Command(command) => {
            let code = command.code.to_string();
            (Cow::Owned(code.clone()), Some(code))
        }
        kind => {
            let name = error_type::in_chain(e).unwrap_or(match kind {
                ErrorKind::ServerSelection { .. } => "server_selection",
                ErrorKind::Authentication { .. } => "authentication",
                ErrorKind::DnsResolve { .. } => "name_resolution",
                ErrorKind::InvalidArgument { .. } => "invalid_argument",
                _ => "other",
            });
            (Cow::Borrowed(name), None)
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

/// Failures that upstream's separate `connect` step would have reported.
fn is_connect_error(e: &Error) -> bool {
    matches!(
        *e.kind,
        ErrorKind::ServerSelection { .. }
            | ErrorKind::Authentication { .. }
            | ErrorKind::DnsResolve { .. }
    )
}

/// A document's `rating` as the JSON upstream's `JSON.stringify` would print it.
pub fn rating_of(document: &Document) -> Option<Value> {
    document.get("rating").map(|rating| match rating {
        Bson::Int32(n) => Value::from(*n),
        Bson::Int64(n) => Value::from(*n),
        // Node prints 5.0 as 5; keep that, and fractional ratings as they are.
        Bson::Double(x) => Value::Number(js_number(*x)),
        other => other.clone().into_relaxed_extjson(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::reviewers;

    fn map(docs: &[Document]) -> String {
        let rows: Vec<_> = docs.iter().map(rating_of).collect();
        reviewers(&rows).to_string()
    }

    #[test]
    fn shipped_data_maps_to_five_and_four() {
        // ratings/mongodb/ratings_data.json, as mongoimport stores it (32-bit integers).
        let docs = [doc! { "rating": 5 }, doc! { "rating": 4 }];
        assert_eq!(map(&docs), r#"{"Reviewer1":5,"Reviewer2":4}"#);
    }

    #[test]
    fn empty_collection_rates_zero() {
        assert_eq!(map(&[]), r#"{"Reviewer1":0,"Reviewer2":0}"#);
        assert_eq!(
            map(&[doc! { "rating": 2 }]),
            r#"{"Reviewer1":2,"Reviewer2":0}"#
        );
    }

    #[test]
    fn numbers_print_like_javascript() {
        let docs = [doc! { "rating": 5.0 }, doc! { "rating": 3.5_f64 }];
        assert_eq!(map(&docs), r#"{"Reviewer1":5,"Reviewer2":3.5}"#);
        let docs = [doc! { "rating": 4_i64 }, doc! { "rating": "five" }];
        assert_eq!(map(&docs), r#"{"Reviewer1":4,"Reviewer2":"five"}"#);
    }

    #[test]
    fn other_fields_are_ignored_and_missing_rating_is_dropped() {
        let docs = [
            doc! { "_id": 1, "product": 9, "rating": 1 },
            doc! { "stars": 4 },
        ];
        assert_eq!(map(&docs), r#"{"Reviewer1":1}"#);
    }
}
