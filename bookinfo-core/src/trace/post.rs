//! The HTTP side the span exporters share: one collector URL, its headers, and a blocking client.
//!
//! Exports run on a span processor's own thread (the SDK's batch processor, or
//! [`super::batch::EncodingProcessor`]), outside any Tokio runtime, so a blocking client is the
//! right tool; it is created there, on first use (building it inside the runtime would start a
//! second runtime from within the first).

use std::sync::OnceLock;
use std::time::Duration;

use http::HeaderMap;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};

#[derive(Debug)]
pub(crate) struct CollectorPost {
    /// For messages: "OTLP", "Zipkin".
    what: &'static str,
    endpoint: String,
    timeout: Duration,
    headers: HeaderMap,
    client: OnceLock<reqwest::blocking::Client>,
}

impl CollectorPost {
    pub(crate) fn new(
        what: &'static str,
        endpoint: &str,
        timeout: Duration,
        headers: HeaderMap,
    ) -> Self {
        // Every export to an `https` collector needs the certificate roots: read them now, not in
        // the first export.
        crate::tls::preload_for(endpoint);
        Self {
            what,
            endpoint: endpoint.to_owned(),
            timeout,
            headers,
            client: OnceLock::new(),
        }
    }

    /// The timeout of one POST.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// POST `body`; any 2xx is success, anything else an error naming the collector.
    pub(crate) fn send(&self, body: Vec<u8>) -> OTelSdkResult {
        let client = self.client.get_or_init(|| {
            reqwest::blocking::Client::builder()
                .timeout(self.timeout)
                .tls_backend_preconfigured(crate::tls::client_config())
                .build()
                .unwrap_or_default()
        });
        let sent = client
            .post(&self.endpoint)
            .headers(self.headers.clone())
            .body(body)
            .send();
        match sent {
            Ok(resp) if resp.status().is_success() => Ok(()),
            Ok(resp) => Err(OTelSdkError::InternalFailure(format!(
                "{} collector at {} answered {}",
                self.what,
                self.endpoint,
                resp.status()
            ))),
            Err(e) => Err(OTelSdkError::InternalFailure(format!(
                "cannot reach the {} collector at {}: {e}",
                self.what, self.endpoint
            ))),
        }
    }
}
