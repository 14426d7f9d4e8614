//! MongoDB ratings (the `v2` default): the first two documents of collection `ratings` in
//! database `test` (whatever database the URL names, as upstream), each's `rating` field.
//!
//! The client is created on first use (parsing the options is asynchronous) and then shared; it
//! keeps its own connection pool and monitors the server, so it recovers by itself. Server
//! selection and connecting are bounded by `RATINGS_DB_TIMEOUT_SECONDS`, which turns an
//! unreachable server into a prompt error instead of the driver's 30 s default.

use std::time::Duration;

use mongodb::Client;
use mongodb::bson::{Bson, Document, doc};
use mongodb::error::{Error, ErrorKind};
use mongodb::options::{ClientOptions, ConnectionString};
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::error::RatingsError;
use crate::product_id::js_number;

/// A lazily created, shared MongoDB client.
#[derive(Debug)]
pub struct MongoRatings {
    url: Option<ConnectionString>,
    timeout: Duration,
    client: OnceCell<Client>,
}

impl MongoRatings {
    pub fn new(url: Option<ConnectionString>, timeout: Duration) -> MongoRatings {
        MongoRatings {
            url,
            timeout,
            client: OnceCell::new(),
        }
    }

    async fn client(&self) -> Result<&Client, RatingsError> {
        let Some(url) = &self.url else {
            return Err(RatingsError::DatabaseUnreachable {
                cause: "MONGO_DB_URL is not set".to_owned(),
            });
        };
        self.client
            .get_or_try_init(|| async {
                let mut options = ClientOptions::parse(url.clone()).await?;
                options.connect_timeout = Some(self.timeout);
                options.server_selection_timeout = Some(self.timeout);
                Client::with_options(options)
            })
            .await
            .map_err(|e| RatingsError::DatabaseUnreachable {
                cause: e.to_string(),
            })
    }

    /// The `rating` of the first two documents (`None` for a document without one).
    pub async fn first_two(&self) -> Result<Vec<Option<Value>>, RatingsError> {
        let client = self.client().await?;
        let ratings = client.database("test").collection::<Document>("ratings");
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
            Ok(Err(e)) if is_connect_error(&e) => Err(RatingsError::DatabaseUnreachable {
                cause: e.to_string(),
            }),
            Ok(Err(e)) => Err(RatingsError::LoadFailed {
                cause: e.to_string(),
            }),
            Err(_) => Err(RatingsError::LoadFailed {
                cause: format!("no answer within {:?}", self.timeout * 2),
            }),
        }
    }
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
