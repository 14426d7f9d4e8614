//! TLS for the services' outbound `https` calls: rustls with aws-lc-rs, and the system's
//! certificate roots read when the first `https` server is checked, not when a client is built.
//!
//! Most calls never use TLS: in a cluster the services talk plain HTTP (a mesh adds mTLS
//! outside the process), and `https` only comes up for details' optional Google Books call or
//! a collector configured with an `https` endpoint. Reading the roots costs every client about
//! 18 million instructions and keeps about 450 KB of parsed certificates for the life of the
//! process (measured with the services' release builds: idle RSS with and without the system's
//! roots, 292 certificates; docs/performance.md, "Memory"), so it is done once, on first use.

use std::fmt;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// Builds the verifier that holds the roots; runs at most once per [`LazyRoots`].
pub type LoadRoots = Box<
    dyn Fn(Arc<CryptoProvider>) -> Result<Arc<dyn ServerCertVerifier>, rustls::Error> + Send + Sync,
>;

/// The client TLS settings every outbound client uses: aws-lc-rs (named, as a binary may link
/// more than one provider), the default protocol versions, and the system's roots, read on
/// first use (see the module docs).
pub fn client_config() -> rustls::ClientConfig {
    client_config_with(Box::new(|provider| {
        rustls_platform_verifier::Verifier::new(provider)
            .map(|v| Arc::new(v) as Arc<dyn ServerCertVerifier>)
    }))
}

/// [`client_config`] with the roots built by `load` instead of read from the system.
pub fn client_config_with(load: LoadRoots) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs offers the default TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(LazyRoots::new(provider, load)))
        .with_no_client_auth()
}

/// A server certificate verifier whose roots are loaded the first time a certificate is checked.
///
/// Signatures are checked with the provider's algorithms, which need no roots, so that only
/// [`ServerCertVerifier::verify_server_cert`] waits for them. Roots that cannot be read make
/// every `https` call fail its certificate check with the reason (and one warning in the log),
/// instead of the service failing to start.
pub struct LazyRoots {
    provider: Arc<CryptoProvider>,
    load: LoadRoots,
    verifier: OnceLock<Result<Arc<dyn ServerCertVerifier>, rustls::Error>>,
}

impl LazyRoots {
    /// Roots from `load`, not called yet.
    pub fn new(provider: Arc<CryptoProvider>, load: LoadRoots) -> Self {
        Self {
            provider,
            load,
            verifier: OnceLock::new(),
        }
    }

    fn algorithms(&self) -> &WebPkiSupportedAlgorithms {
        &self.provider.signature_verification_algorithms
    }

    fn verifier(&self) -> Result<&Arc<dyn ServerCertVerifier>, rustls::Error> {
        self.verifier
            .get_or_init(|| {
                let loaded = (self.load)(self.provider.clone());
                if let Err(e) = &loaded {
                    tracing::warn!(cause = %e, "no certificate roots for https calls");
                }
                loaded
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl fmt::Debug for LazyRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyRoots")
            .field("loaded", &self.verifier.get().map(Result::is_ok))
            .finish_non_exhaustive()
    }
}

impl ServerCertVerifier for LazyRoots {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.verifier()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, self.algorithms())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, self.algorithms())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms().supported_schemes()
    }
}
