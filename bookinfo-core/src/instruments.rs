//! What every service carries to be observable: its metrics registry and its span export.
//!
//! Each service's state holds one [`Instruments`]; from it the service builds its HTTP
//! client, wraps its routes ([`Instruments::harden`]) and serves them
//! ([`Instruments::serve`]: drain, then flush spans). Keeping the two together means no service
//! can wire metrics without tracing, or forget to flush on the way out.

use std::future::Future;
use std::io;

use axum::Router;
use axum::response::Response;
use tokio::net::TcpListener;

use crate::client::Client;
use crate::metrics::Metrics;
use crate::spread::Connections;
use tracing::Instrument;

use crate::server::{self, ServerLimits, ServiceId};
use crate::trace::{Tracing, TracingConfig};

/// A service's metrics and tracing; cheap to clone.
#[derive(Clone, Debug)]
pub struct Instruments {
    pub metrics: Metrics,
    pub tracing: Tracing,
    /// Named on every log line the service writes.
    pub id: ServiceId,
    /// Connection limits [`Instruments::serve`] applies.
    pub limits: ServerLimits,
}

impl Instruments {
    /// A metrics registry labelled `service`, and span export as `tracing` configures it.
    /// Call it inside the Tokio runtime (span export may start background work).
    pub fn start(service: &str, tracing: &TracingConfig) -> Self {
        Self {
            metrics: Metrics::new(service),
            tracing: Tracing::start(tracing),
            id: ServiceId::new(service, &tracing.service_version),
            limits: ServerLimits::default(),
        }
    }

    /// The same, serving with `limits` (a service's `SERVER_*` settings).
    pub fn with_limits(mut self, limits: ServerLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The service's HTTP client, recording into these metrics and using connections as
    /// `connections` says.
    pub fn client(&self, user_agent: &str, connections: Connections) -> Client {
        Client::new(self.metrics.clone(), user_agent, connections)
    }

    /// `routes` with the shared middleware (see [`server::harden`]).
    pub fn harden(&self, routes: Router) -> Router {
        server::harden(
            routes,
            self.metrics.clone(),
            self.tracing.clone(),
            self.id.clone(),
        )
    }

    /// The `/metrics` response.
    pub fn metrics_response(&self) -> Response {
        self.metrics.response()
    }

    /// Serve `router` until `shutdown` completes with these instruments' connection limits,
    /// drain for at most their grace period (15 s by default), then flush buffered spans.
    pub async fn serve<F>(
        self,
        listener: TcpListener,
        router: Router,
        shutdown: F,
    ) -> io::Result<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let span = self.id.span();
        async move {
            let result = server::serve_with(listener, router, shutdown, self.limits).await;
            self.tracing.shutdown().await;
            result
        }
        .instrument(span)
        .await
    }
}
