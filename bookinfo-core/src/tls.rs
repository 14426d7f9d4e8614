//! TLS for the services' outbound `https` calls: rustls with aws-lc-rs, and the system's
//! certificate roots read once per process, when they are first needed rather than whenever a
//! client is built.
//!
//! Most calls never use TLS: in a cluster the services talk plain HTTP (a mesh adds mTLS
//! outside the process), and `https` only comes up for details' optional Google Books call or
//! a collector configured with an `https` endpoint. Reading the roots costs about 18 million
//! instructions and keeps about 450 KB of parsed certificates for the life of the process, and
//! every client used to do it at start-up: idle RSS of the four services went from 39.9 to
//! 38.0 MiB without it (docs/performance.md, "Memory"). A service that knows it will call an
//! `https` server asks for the roots at start-up on a thread of their own ([`Roots::preload`]),
//! so that its first call does not read files on a request's thread.

use std::fmt;
use std::sync::{Arc, LazyLock, OnceLock};
use std::thread::JoinHandle;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// Builds the verifier that holds the roots.
pub type LoadRoots = Box<
    dyn Fn(Arc<CryptoProvider>) -> Result<Arc<dyn ServerCertVerifier>, rustls::Error> + Send + Sync,
>;

/// Certificate roots, loaded at most once and shared by every client configuration made from
/// them. Roots that cannot be read make every `https` call fail its certificate check with the
/// reason (and one warning in the log), instead of the service failing to start.
pub struct Roots {
    provider: Arc<CryptoProvider>,
    load: LoadRoots,
    verifier: OnceLock<Result<Arc<dyn ServerCertVerifier>, rustls::Error>>,
}

/// The system's roots, one set per process.
static SYSTEM: LazyLock<Arc<Roots>> = LazyLock::new(|| {
    Roots::new(Box::new(|provider| {
        rustls_platform_verifier::Verifier::new(provider)
            .map(|v| Arc::new(v) as Arc<dyn ServerCertVerifier>)
    }))
});

impl Roots {
    /// Roots built by `load` when first needed.
    pub fn new(load: LoadRoots) -> Arc<Self> {
        Arc::new(Self {
            provider: Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
            load,
            verifier: OnceLock::new(),
        })
    }

    /// The system's certificate roots (the platform verifier's), shared within the process.
    pub fn system() -> Arc<Self> {
        SYSTEM.clone()
    }

    /// Loads the roots now, on a thread of their own, for a service that will make `https`
    /// calls. `None` if the thread could not be started: the first call loads them then.
    pub fn preload(self: &Arc<Self>) -> Option<JoinHandle<()>> {
        let roots = self.clone();
        std::thread::Builder::new()
            .name("tls-roots".to_owned())
            .spawn(move || {
                let _ = roots.verifier();
            })
            .ok()
    }

    /// The client TLS settings over these roots: aws-lc-rs (named, as a binary may link more
    /// than one provider) and the default protocol versions.
    pub fn client_config(self: &Arc<Self>) -> rustls::ClientConfig {
        rustls::ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .expect("aws-lc-rs offers the default TLS versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(LazyRoots(self.clone())))
            .with_no_client_auth()
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

impl fmt::Debug for Roots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Roots")
            .field("loaded", &self.verifier.get().map(Result::is_ok))
            .finish_non_exhaustive()
    }
}

/// Whether `url` is an `https` URL (schemes are case-insensitive).
fn is_https(url: &str) -> bool {
    url.get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
}

/// Preloads the system's roots ([`Roots::preload`]) when `url` is `https`: for a service whose
/// configuration names a server it will call over TLS, so that the first call does not read them.
pub fn preload_for(url: &str) {
    if is_https(url) {
        let _ = Roots::system().preload();
    }
}

/// The TLS settings every outbound client uses: [`Roots::client_config`] over the system's
/// roots.
pub fn client_config() -> rustls::ClientConfig {
    Roots::system().client_config()
}

/// Verifies server certificates against [`Roots`], which it loads on the first check.
///
/// Signatures are checked with the provider's algorithms, which need no roots, so only
/// [`ServerCertVerifier::verify_server_cert`] waits for them.
#[derive(Debug)]
struct LazyRoots(Arc<Roots>);

impl LazyRoots {
    fn algorithms(&self) -> &WebPkiSupportedAlgorithms {
        &self.0.provider.signature_verification_algorithms
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
        self.0.verifier()?.verify_server_cert(
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

#[cfg(test)]
mod tests {
    use super::is_https;

    #[test]
    fn https_urls_whatever_the_case_of_their_scheme() {
        for url in [
            "https://www.googleapis.com:443",
            "HTTPS://collector:4318",
            "Https://x",
        ] {
            assert!(is_https(url), "{url}");
        }
        for url in ["http://collector:4318", "https:", "httpsx://", "", "h"] {
            assert!(!is_https(url), "{url}");
        }
    }
}
