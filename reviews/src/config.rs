//! The reviews service's settings, read once from the environment.
//!
//! Upstream ships one code base as three images and tells them apart only by environment:
//! v1 has `ENABLE_RATINGS=false`, v2 `ENABLE_RATINGS=true`, v3 adds `STAR_COLOR=red`. The star
//! colour also picks the ratings timeout (10 s for `black`, 2.5 s otherwise); istio.io's
//! fault-injection task depends on that difference, since a 7 s ratings delay breaks v2's page
//! (productpage gives up first) but not v3's.

use std::time::Duration;

use bookinfo_core::config::service_base_url;
use bookinfo_core::server::ServerLimits;
use bookinfo_core::trace::TracingConfig;
use bookinfo_core::{ConfigErrors, Connections, EnvReader, Lookup};

/// Ratings timeout when the stars are black (reviews v2).
pub const BLACK_TIMEOUT: Duration = Duration::from_millis(10_000);
/// Ratings timeout for any other star colour (reviews v3).
pub const COLOURED_TIMEOUT: Duration = Duration::from_millis(2_500);

/// Parsed configuration of the reviews service.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Whether reviews carry ratings fetched from the ratings service (v2/v3).
    pub ratings_enabled: bool,
    /// Copied into every `rating.color`.
    pub star_color: String,
    /// `http://<host>[.<domain>]:<port>`; the request path `/ratings/<id>` is appended.
    pub ratings_base: String,
    /// One attempt, no retry, bounded by this.
    pub ratings_timeout: Duration,
    /// How connections to ratings are used (`BACKEND_CONNECTIONS`): by default successive
    /// calls land on whichever ratings instance a per-connection balancer picks afresh.
    pub connections: Connections,
    /// `HOSTNAME` (the pod name), reported as `podname`; `None` prints as the string `null`.
    pub podname: Option<String>,
    /// `CLUSTER_NAME`, reported as `clustername`; `None` prints as the string `null`.
    pub clustername: Option<String>,
    /// Span export (`OTEL_*`); `service.version` is v1, v2 (black) or v3 (any other colour).
    pub tracing: TracingConfig,
    /// Connection limits (`SERVER_*`).
    pub server: ServerLimits,
}

impl Config {
    /// Read the settings, reporting every bad variable at once.
    pub fn from_env(lookup: &dyn Lookup) -> Result<Config, ConfigErrors> {
        let mut env = EnvReader::new(lookup);
        // Java's `Boolean.valueOf`: case-insensitive "true", anything else is false.
        let ratings_enabled = env
            .optional("ENABLE_RATINGS")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let star_color = env.string("STAR_COLOR", "black");
        let host = env.string("RATINGS_HOSTNAME", "ratings");
        let domain = env.optional("SERVICES_DOMAIN").unwrap_or_default();
        let port: u16 = env.parse("RATINGS_SERVICE_PORT", 9080);
        let connections = env.parse("BACKEND_CONNECTIONS", Connections::default());
        let podname = env.optional("HOSTNAME");
        let clustername = env.optional("CLUSTER_NAME");
        let ratings_timeout = timeout_for(&star_color);
        let version = match (ratings_enabled, star_color.as_str()) {
            (false, _) => "v1",
            (true, "black") => "v2",
            (true, _) => "v3",
        };
        let tracing = TracingConfig::read(&mut env, "reviews", version);
        let server = ServerLimits::read(&mut env);
        env.finish(Config {
            ratings_enabled,
            ratings_base: service_base_url(&host, &domain, &port.to_string()),
            ratings_timeout,
            connections,
            star_color,
            podname,
            clustername,
            tracing,
            server,
        })
    }
}

/// Exactly `black` waits 10 s for ratings; every other colour 2.5 s.
pub fn timeout_for(star_color: &str) -> Duration {
    if star_color == "black" {
        BLACK_TIMEOUT
    } else {
        COLOURED_TIMEOUT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(env: &[(&str, &str)]) -> Config {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_env(&env).unwrap()
    }

    #[test]
    fn defaults_are_v1_with_black_stars() {
        let c = config(&[]);
        assert!(!c.ratings_enabled);
        assert_eq!(c.star_color, "black");
        assert_eq!(c.ratings_base, "http://ratings:9080");
        assert_eq!(c.ratings_timeout, Duration::from_secs(10));
        assert_eq!((c.podname, c.clustername), (None, None));
    }

    #[test]
    fn enable_ratings_is_java_boolean_value_of() {
        for (value, expected) in [
            ("true", true),
            ("TRUE", true),
            ("True", true),
            ("1", false),
            ("yes", false),
            ("", false),
        ] {
            assert_eq!(
                config(&[("ENABLE_RATINGS", value)]).ratings_enabled,
                expected,
                "{value}"
            );
        }
    }

    #[test]
    fn only_black_waits_ten_seconds() {
        assert_eq!(
            config(&[("STAR_COLOR", "black")]).ratings_timeout,
            Duration::from_secs(10)
        );
        for colour in ["red", "blue", "Black"] {
            assert_eq!(
                config(&[("STAR_COLOR", colour)]).ratings_timeout,
                Duration::from_millis(2500),
                "{colour}"
            );
        }
    }

    #[test]
    fn ratings_url_from_host_domain_and_port() {
        let c = config(&[
            ("RATINGS_HOSTNAME", "r"),
            ("RATINGS_SERVICE_PORT", "1234"),
            ("SERVICES_DOMAIN", "ns.svc"),
        ]);
        assert_eq!(c.ratings_base, "http://r.ns.svc:1234");
    }

    #[test]
    fn backend_connections() {
        assert_eq!(config(&[]).connections, Connections::Spread);
        assert_eq!(
            config(&[("BACKEND_CONNECTIONS", "per-call")]).connections,
            Connections::PerCall
        );
        let env = [("BACKEND_CONNECTIONS", "sometimes")];
        assert!(
            Config::from_env(&env)
                .unwrap_err()
                .mentions("BACKEND_CONNECTIONS")
        );
    }

    #[test]
    fn a_bad_port_is_reported_by_name() {
        let env = [("RATINGS_SERVICE_PORT", "http")];
        assert!(
            Config::from_env(&env)
                .unwrap_err()
                .mentions("RATINGS_SERVICE_PORT")
        );
    }
}
