//! CLIENT spans for database calls, after OpenTelemetry's database conventions.
//!
//! A call is an ordinary `tracing` span (bridged into the trace by [`super::bridge`]) with the
//! convention's attributes: `db.system.name`, `db.namespace`, `db.collection.name`,
//! `db.operation.name`, `db.query.text` (only text without values), `server.address` and
//! `server.port`, named `{operation} {collection}` (`SELECT ratings`). A failure sets the error
//! status with its description, `error.type` (the database's own error code when it answered
//! with one, also in `db.response.status_code`; otherwise a short name such as `timeout` or
//! `connection_refused`) and an `exception` event. What the service logs during the call
//! (a retry on a dead pooled connection, say) becomes the span's events.
//!
//! The span is only made when it will be recorded ([`super::bridge::traced`]): in pass-through
//! mode a database call costs no span at all, not even one for the log.

use std::future::Future;

use opentelemetry::KeyValue;
use opentelemetry::trace::Status;
use tracing::Level;
use tracing::instrument::{Instrument, Instrumented};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::bridge;

/// Where a service's database calls go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Database {
    /// `db.system.name`: `mysql`, `mongodb`, ...
    pub system: &'static str,
    /// `db.namespace`: the database the calls use.
    pub namespace: String,
    /// `server.address`, when known.
    pub address: Option<String>,
    /// `server.port`, when known.
    pub port: Option<u16>,
}

/// One database call; its span ends when the last future run in it has finished and the call
/// is dropped.
#[derive(Debug)]
pub struct DbCall {
    span: tracing::Span,
}

impl Database {
    /// Open the span of one `operation` (`SELECT`, `find`) on `collection` (a table or a
    /// collection). `query` is the query text, given only when it holds no values.
    pub fn call(
        &self,
        operation: &'static str,
        collection: &'static str,
        query: Option<&'static str>,
    ) -> DbCall {
        if !bridge::traced(Level::INFO) {
            return DbCall {
                span: tracing::Span::none(),
            };
        }
        let name = super::interned(&[operation, " ", collection]);
        let span = tracing::info_span!(
            "database call",
            otel.name = name.as_ref(),
            otel.kind = "client",
            db.system.name = self.system,
            db.namespace = self.namespace.as_str(),
            db.collection.name = collection,
            db.operation.name = operation,
            db.query.text = query,
            server.address = self.address.as_deref(),
            server.port = self.port.map(i64::from),
        );
        DbCall { span }
    }
}

impl DbCall {
    /// `future`, run inside the call's span.
    pub fn run<F: Future>(&self, future: F) -> Instrumented<F> {
        future.instrument(self.span.clone())
    }

    /// Mark the call failed: `error_type` (`timeout`, `connection_refused`, or the database's
    /// error code, then also given as `status_code`), and the exception that says why.
    pub fn failed(
        &self,
        error_type: &str,
        status_code: Option<&str>,
        exception_type: &str,
        message: &str,
    ) {
        if self.span.is_none() {
            return;
        }
        self.span.set_attribute("error.type", error_type.to_owned());
        if let Some(code) = status_code {
            self.span
                .set_attribute("db.response.status_code", code.to_owned());
        }
        self.span.add_event(
            "exception",
            vec![
                KeyValue::new("exception.type", exception_type.to_owned()),
                KeyValue::new("exception.message", message.to_owned()),
            ],
        );
        self.span.set_status(Status::error(message.to_owned()));
    }
}
