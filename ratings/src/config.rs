//! Configuration, read once from upstream's environment variables plus a few of our own.
//!
//! Upstream's variables (`SERVICE_VERSION`, `DB_TYPE`, `MYSQL_DB_*`, `MONGO_DB_URL`) keep their
//! meaning. The `RATINGS_*` variables exist so that the fault modes' timing and the database
//! timeouts can be shortened (tests) or tuned (operators); their defaults are upstream's values.

use std::time::Duration;

use bookinfo_core::server::ServerLimits;
use bookinfo_core::trace::TracingConfig;
use bookinfo_core::{ConfigErrors, EnvReader, Lookup};
use mongodb::options::ConnectionString;

/// Upstream's v-faulty / v-delayed coin: `Math.random() <= 0.5`.
pub const DEFAULT_FAULT_PROBABILITY: f64 = 0.5;
/// Upstream's v-delayed delay.
pub const DEFAULT_DELAY: Duration = Duration::from_secs(7);
/// Upstream's v-unavailable toggle period.
pub const DEFAULT_UNAVAILABLE_PERIOD: Duration = Duration::from_secs(60);
/// Upstream's v-unhealthy toggle period (15 minutes).
pub const DEFAULT_UNHEALTHY_PERIOD: Duration = Duration::from_secs(900);
/// How long one database attempt (connect, server selection, query) may take. Short, because
/// reviews gives up on ratings after 2.5 s and a prompt JSON error is worth more than a late one.
pub const DEFAULT_DB_TIMEOUT: Duration = Duration::from_secs(2);

/// Which behaviour `SERVICE_VERSION` selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// In-memory ratings (unset, `v1` or any value not listed below, as upstream).
    Memory,
    /// `v-faulty`: a share of GETs answer 503.
    Faulty,
    /// `v-delayed`: a share of GETs answer late.
    Delayed,
    /// `v-unavailable`: GETs answer 503 every other period.
    Unavailable,
    /// `v-unhealthy`: every other period GETs answer 503 and `/health` 500.
    Unhealthy,
    /// `v2`: ratings come from a database.
    Database,
}

impl Version {
    /// Upstream compares `SERVICE_VERSION` literally; anything else is plain v1.
    pub fn from_service_version(value: Option<&str>) -> Version {
        match value {
            Some("v-faulty") => Version::Faulty,
            Some("v-delayed") => Version::Delayed,
            Some("v-unavailable") => Version::Unavailable,
            Some("v-unhealthy") => Version::Unhealthy,
            Some("v2") => Version::Database,
            _ => Version::Memory,
        }
    }
}

/// Timing of the injected faults.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultSettings {
    /// `RATINGS_FAULT_PROBABILITY`: share of GETs that fail (`v-faulty`) or are delayed
    /// (`v-delayed`), from 0 to 1.
    pub probability: f64,
    /// `RATINGS_DELAY_SECONDS`: how late a delayed answer is (`v-delayed`).
    pub delay: Duration,
    /// `RATINGS_FAULT_PERIOD_SECONDS`: toggle period of `v-unavailable` / `v-unhealthy`
    /// (default 60 s and 900 s respectively).
    pub period: Duration,
}

/// MySQL/MariaDB connection settings (`DB_TYPE=mysql`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MysqlConfig {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
}

/// Which database backs `v2`.
#[derive(Clone, Debug)]
pub enum DatabaseConfig {
    Mysql(MysqlConfig),
    /// `MONGO_DB_URL`, parsed at start-up; `None` when unset (every GET then answers the
    /// connect error, as upstream does).
    Mongo(Option<Box<ConnectionString>>),
}

/// The ratings service's settings.
#[derive(Clone, Debug)]
pub struct Config {
    pub version: Version,
    pub faults: FaultSettings,
    /// Only read when `version` is [`Version::Database`].
    pub database: Option<DatabaseConfig>,
    /// `RATINGS_DB_TIMEOUT_SECONDS`: bound on each database connect / query attempt.
    pub db_timeout: Duration,
    /// Span export (`OTEL_*`); `service.version` is `SERVICE_VERSION` (v1 when unset).
    pub tracing: TracingConfig,
    /// Connection limits (`SERVER_*`).
    pub server: ServerLimits,
}

impl Config {
    /// Read the configuration, reporting every bad variable at once.
    pub fn from_env(lookup: &dyn Lookup) -> Result<Config, ConfigErrors> {
        let mut env = EnvReader::new(lookup);
        let service_version = env.optional("SERVICE_VERSION").filter(|v| !v.is_empty());
        let version = Version::from_service_version(service_version.as_deref());
        let tracing = TracingConfig::read(
            &mut env,
            "ratings",
            service_version.as_deref().unwrap_or("v1"),
        );
        let server = ServerLimits::read(&mut env);

        let probability = env.parse("RATINGS_FAULT_PROBABILITY", DEFAULT_FAULT_PROBABILITY);
        if !(0.0..=1.0).contains(&probability) {
            env.error(
                "RATINGS_FAULT_PROBABILITY",
                format!("{probability} is not between 0 and 1"),
            );
        }
        let delay = env.seconds("RATINGS_DELAY_SECONDS", DEFAULT_DELAY);
        let default_period = match version {
            Version::Unhealthy => DEFAULT_UNHEALTHY_PERIOD,
            _ => DEFAULT_UNAVAILABLE_PERIOD,
        };
        let period = env.seconds("RATINGS_FAULT_PERIOD_SECONDS", default_period);
        if period.is_zero() {
            env.error("RATINGS_FAULT_PERIOD_SECONDS", "must be greater than 0");
        }
        let db_timeout = env.seconds("RATINGS_DB_TIMEOUT_SECONDS", DEFAULT_DB_TIMEOUT);
        if db_timeout.is_zero() {
            env.error("RATINGS_DB_TIMEOUT_SECONDS", "must be greater than 0");
        }

        let database = if version == Version::Database {
            Some(read_database(&mut env))
        } else {
            None
        };

        env.finish(Config {
            version,
            faults: FaultSettings {
                probability,
                delay,
                period,
            },
            database,
            db_timeout,
            tracing,
            server,
        })
    }
}

fn read_database(env: &mut EnvReader<'_>) -> DatabaseConfig {
    if env.optional("DB_TYPE").as_deref() == Some("mysql") {
        // Defaults are those of upstream's driver when a variable is missing.
        DatabaseConfig::Mysql(MysqlConfig {
            host: env.string("MYSQL_DB_HOST", "localhost"),
            port: env.parse("MYSQL_DB_PORT", 3306),
            user: env.optional("MYSQL_DB_USER").filter(|u| !u.is_empty()),
            password: env.optional("MYSQL_DB_PASSWORD").filter(|p| !p.is_empty()),
        })
    } else {
        let url = env.optional("MONGO_DB_URL").filter(|u| !u.is_empty());
        let parsed = url.and_then(|url| match ConnectionString::parse(&url) {
            Ok(cs) => Some(Box::new(cs)),
            Err(e) => {
                env.error(
                    "MONGO_DB_URL",
                    format!("not a MongoDB connection string: {e}"),
                );
                None
            }
        });
        DatabaseConfig::Mongo(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_version_is_compared_literally() {
        for (value, expected) in [
            (None, Version::Memory),
            (Some("v1"), Version::Memory),
            (Some("V2"), Version::Memory),
            (Some("v3"), Version::Memory),
            (Some("v2"), Version::Database),
            (Some("v-faulty"), Version::Faulty),
            (Some("v-delayed"), Version::Delayed),
            (Some("v-unavailable"), Version::Unavailable),
            (Some("v-unhealthy"), Version::Unhealthy),
        ] {
            assert_eq!(Version::from_service_version(value), expected, "{value:?}");
        }
    }

    #[test]
    fn defaults_are_upstreams() {
        let empty: [(&str, &str); 0] = [];
        let c = Config::from_env(&empty).unwrap();
        assert_eq!(c.version, Version::Memory);
        assert_eq!(c.faults.probability, 0.5);
        assert_eq!(c.faults.delay, Duration::from_secs(7));
        assert_eq!(c.faults.period, Duration::from_secs(60));
        assert!(c.database.is_none());

        let c = Config::from_env(&[("SERVICE_VERSION", "v-unhealthy")]).unwrap();
        assert_eq!(c.faults.period, Duration::from_secs(900));
    }

    #[test]
    fn mysql_settings_and_defaults() {
        let c = Config::from_env(&[
            ("SERVICE_VERSION", "v2"),
            ("DB_TYPE", "mysql"),
            ("MYSQL_DB_HOST", "mysqldb"),
            ("MYSQL_DB_USER", "root"),
            ("MYSQL_DB_PASSWORD", "password"),
        ])
        .unwrap();
        let Some(DatabaseConfig::Mysql(m)) = c.database else {
            panic!("expected MySQL");
        };
        assert_eq!(
            m,
            MysqlConfig {
                host: "mysqldb".into(),
                port: 3306,
                user: Some("root".into()),
                password: Some("password".into()),
            }
        );
    }

    #[test]
    fn mongo_is_the_default_backend() {
        let c = Config::from_env(&[("SERVICE_VERSION", "v2"), ("DB_TYPE", "MySQL")]).unwrap();
        assert!(matches!(c.database, Some(DatabaseConfig::Mongo(None))));
        let c = Config::from_env(&[
            ("SERVICE_VERSION", "v2"),
            ("MONGO_DB_URL", "mongodb://mongodb:27017/test"),
        ])
        .unwrap();
        assert!(matches!(c.database, Some(DatabaseConfig::Mongo(Some(_)))));
    }

    #[test]
    fn every_bad_variable_is_reported() {
        let errors = Config::from_env(&[
            ("SERVICE_VERSION", "v2"),
            ("RATINGS_FAULT_PROBABILITY", "1.5"),
            ("RATINGS_DELAY_SECONDS", "soon"),
            ("RATINGS_FAULT_PERIOD_SECONDS", "0"),
            ("RATINGS_DB_TIMEOUT_SECONDS", "-1"),
            ("MONGO_DB_URL", "http://nope"),
        ])
        .unwrap_err();
        for var in [
            "RATINGS_FAULT_PROBABILITY",
            "RATINGS_DELAY_SECONDS",
            "RATINGS_FAULT_PERIOD_SECONDS",
            "RATINGS_DB_TIMEOUT_SECONDS",
            "MONGO_DB_URL",
        ] {
            assert!(errors.mentions(var), "{var} not reported: {errors}");
        }
        let errors = Config::from_env(&[
            ("SERVICE_VERSION", "v2"),
            ("DB_TYPE", "mysql"),
            ("MYSQL_DB_PORT", "x"),
        ])
        .unwrap_err();
        assert!(errors.mentions("MYSQL_DB_PORT"));
    }
}
