//! productpage's settings, read once at start-up from the environment (or a test map).
//!
//! The backend variables and their defaults are upstream's, so existing manifests keep working;
//! the timeout and the session secret are ours, and documented next to their defaults.

use std::time::Duration;

use bookinfo_core::Connections;
use bookinfo_core::config::{ConfigErrors, EnvReader, Lookup, service_base_url};
use bookinfo_core::server::ServerLimits;
use bookinfo_core::trace::TracingConfig;

/// Upstream's per-call timeout; istio.io's fault-injection task depends on it (3 s × 2 attempts
/// for reviews ≈ 6 s before the error is shown).
pub const DEFAULT_BACKEND_TIMEOUT: Duration = Duration::from_secs(3);

/// The session-signing secret used when `SESSION_SECRET` is unset. It is public on purpose, like
/// upstream's hard-coded Flask key: every replica then accepts every other replica's cookie, and
/// the cookie only names a user for header-based routing demos, it grants nothing. Set
/// `SESSION_SECRET` (at least 32 bytes) in any deployment where that matters.
pub const DEFAULT_SESSION_SECRET: &str =
    "bookinfo-productpage-public-default-session-secret-change-me";

/// Shortest accepted secret: the signing key is derived from it and needs 256 bits of input.
pub const MIN_SECRET_LEN: usize = 32;

/// How long a sign-in lasts unless `SESSION_LIFETIME_SECONDS` says otherwise.
pub const DEFAULT_SESSION_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// Everything productpage reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `http://details[.domain]:9080`, without a trailing slash.
    pub details_url: String,
    /// `http://reviews[.domain]:9080`.
    pub reviews_url: String,
    /// `http://ratings[.domain]:9080` (only the ratings API route calls it).
    pub ratings_url: String,
    /// Per-call timeout applied to every backend attempt.
    pub backend_timeout: Duration,
    /// How backend connections are used (`BACKEND_CONNECTIONS`): by default each page view
    /// lands on whichever version a per-connection balancer picks afresh.
    pub connections: Connections,
    /// Extra reviews calls made per page view, results discarded (load generation).
    pub flood_factor: usize,
    /// Secret the session cookie's signing key is derived from.
    pub session_secret: String,
    /// How long a sign-in lasts (`SESSION_LIFETIME_SECONDS`).
    pub session_lifetime: Duration,
    /// Whether the session cookie is marked `Secure` (`SESSION_COOKIE_SECURE=true`: the site is
    /// served over HTTPS, e.g. behind a TLS-terminating gateway).
    pub session_cookie_secure: bool,
    /// Span export (`OTEL_*`); `service.version` is v1, or v-flooding with `FLOOD_FACTOR`.
    pub tracing: TracingConfig,
    /// Connection limits (`SERVER_*`).
    pub server: ServerLimits,
    /// `TRACE_UI_URL`: where a trace is shown, with `{trace_id}` where its id goes (e.g.
    /// `http://localhost:16686/trace/{trace_id}`); the product page links to its own trace.
    pub trace_ui_url: Option<String>,
}

/// What `TRACE_UI_URL` must contain.
pub const TRACE_ID_PLACEHOLDER: &str = "{trace_id}";

impl Config {
    /// Read and validate every variable, reporting all problems at once.
    pub fn from_env(lookup: &dyn Lookup) -> Result<Config, ConfigErrors> {
        let mut env = EnvReader::new(lookup);
        let domain = env.optional("SERVICES_DOMAIN").unwrap_or_default();
        let mut backend = |host_var, port_var, host: &str| {
            let host = env.string(host_var, host);
            let port = env.string(port_var, "9080");
            service_base_url(&host, &domain, &port)
        };
        let details_url = backend("DETAILS_HOSTNAME", "DETAILS_SERVICE_PORT", "details");
        let reviews_url = backend("REVIEWS_HOSTNAME", "REVIEWS_SERVICE_PORT", "reviews");
        let ratings_url = backend("RATINGS_HOSTNAME", "RATINGS_SERVICE_PORT", "ratings");
        let backend_timeout = env.seconds("BACKEND_TIMEOUT_SECONDS", DEFAULT_BACKEND_TIMEOUT);
        if backend_timeout.is_zero() {
            env.error("BACKEND_TIMEOUT_SECONDS", "must be greater than zero");
        }
        let connections = env.parse("BACKEND_CONNECTIONS", Connections::default());
        let flood_factor = env.parse("FLOOD_FACTOR", 0usize);
        let session_secret = env.string("SESSION_SECRET", DEFAULT_SESSION_SECRET);
        if session_secret.len() < MIN_SECRET_LEN {
            env.error(
                "SESSION_SECRET",
                format!("must be at least {MIN_SECRET_LEN} bytes long"),
            );
        }
        let session_lifetime = env.seconds("SESSION_LIFETIME_SECONDS", DEFAULT_SESSION_LIFETIME);
        if session_lifetime < Duration::from_secs(1) {
            env.error("SESSION_LIFETIME_SECONDS", "must be at least 1");
        }
        let session_cookie_secure = env.exactly_true("SESSION_COOKIE_SECURE");
        let trace_ui_url = env
            .optional("TRACE_UI_URL")
            .filter(|u| !u.trim().is_empty());
        if let Some(url) = &trace_ui_url
            && !url.contains(TRACE_ID_PLACEHOLDER)
        {
            env.error(
                "TRACE_UI_URL",
                format!("must contain {TRACE_ID_PLACEHOLDER}, where the trace id goes"),
            );
        }
        let version = if flood_factor > 0 { "v-flooding" } else { "v1" };
        let tracing = TracingConfig::read(&mut env, "productpage", version);
        let server = ServerLimits::read(&mut env);
        env.finish(Config {
            details_url,
            reviews_url,
            ratings_url,
            backend_timeout,
            connections,
            flood_factor,
            session_secret,
            session_lifetime,
            session_cookie_secure,
            tracing,
            server,
            trace_ui_url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_defaults() {
        let empty: [(&str, &str); 0] = [];
        let c = Config::from_env(&empty).unwrap();
        assert_eq!(c.details_url, "http://details:9080");
        assert_eq!(c.reviews_url, "http://reviews:9080");
        assert_eq!(c.ratings_url, "http://ratings:9080");
        assert_eq!(c.backend_timeout, Duration::from_secs(3));
        assert_eq!(c.flood_factor, 0);
        assert_eq!(c.session_lifetime, Duration::from_secs(86_400));
        assert!(!c.session_cookie_secure);
    }

    #[test]
    fn backend_connections() {
        let empty: [(&str, &str); 0] = [];
        assert_eq!(
            Config::from_env(&empty).unwrap().connections,
            Connections::Spread
        );
        for (value, expected) in [
            ("pooled", Connections::Pooled),
            ("per-call", Connections::PerCall),
            ("spread", Connections::Spread),
        ] {
            let env = [("BACKEND_CONNECTIONS", value)];
            assert_eq!(Config::from_env(&env).unwrap().connections, expected);
        }
        let env = [("BACKEND_CONNECTIONS", "lanes")];
        assert!(
            Config::from_env(&env)
                .unwrap_err()
                .mentions("BACKEND_CONNECTIONS")
        );
    }

    #[test]
    fn hostnames_ports_and_domain() {
        let env = [
            ("SERVICES_DOMAIN", "default.svc.cluster.local"),
            ("DETAILS_HOSTNAME", "127.0.0.1"),
            ("DETAILS_SERVICE_PORT", "19081"),
            ("RATINGS_SERVICE_PORT", "1234"),
        ];
        let c = Config::from_env(&env).unwrap();
        assert_eq!(
            c.details_url,
            "http://127.0.0.1.default.svc.cluster.local:19081"
        );
        assert_eq!(
            c.reviews_url,
            "http://reviews.default.svc.cluster.local:9080"
        );
        assert_eq!(
            c.ratings_url,
            "http://ratings.default.svc.cluster.local:1234"
        );
    }

    #[test]
    fn every_bad_variable_is_reported() {
        let env = [
            ("FLOOD_FACTOR", "many"),
            ("BACKEND_TIMEOUT_SECONDS", "0"),
            ("SESSION_SECRET", "short"),
            ("SESSION_LIFETIME_SECONDS", "0"),
        ];
        let errors = Config::from_env(&env).unwrap_err();
        assert!(errors.mentions("FLOOD_FACTOR"));
        assert!(errors.mentions("BACKEND_TIMEOUT_SECONDS"));
        assert!(errors.mentions("SESSION_SECRET"));
        assert!(errors.mentions("SESSION_LIFETIME_SECONDS"));
    }

    #[test]
    fn the_trace_link_template_needs_its_placeholder() {
        let empty: [(&str, &str); 0] = [];
        assert_eq!(Config::from_env(&empty).unwrap().trace_ui_url, None);
        let set = [("TRACE_UI_URL", "http://localhost:16686/trace/{trace_id}")];
        assert_eq!(
            Config::from_env(&set).unwrap().trace_ui_url.as_deref(),
            Some("http://localhost:16686/trace/{trace_id}")
        );
        let blank = [("TRACE_UI_URL", "")];
        assert_eq!(Config::from_env(&blank).unwrap().trace_ui_url, None);
        let without = [("TRACE_UI_URL", "http://localhost:16686/search")];
        assert!(
            Config::from_env(&without)
                .unwrap_err()
                .mentions("TRACE_UI_URL")
        );
    }
}
