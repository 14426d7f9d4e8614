//! Configuration from environment variables, parsed once into types.
//!
//! Services never call `std::env::var` themselves: they describe what they read through an
//! [`EnvReader`], which collects *every* problem instead of stopping at the first, so an operator
//! fixing a manifest sees all bad variables in one start-up attempt. Tests hand in a map through
//! [`Lookup`] instead of mutating the process environment.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// Where configuration values come from.
pub trait Lookup: Send + Sync {
    /// The raw value of `key`, if set.
    fn get(&self, key: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Lookup for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
}

impl Lookup for HashMap<String, String> {
    fn get(&self, key: &str) -> Option<String> {
        HashMap::get(self, key).cloned()
    }
}

impl Lookup for HashMap<&str, &str> {
    fn get(&self, key: &str) -> Option<String> {
        HashMap::get(self, key).map(|v| (*v).to_owned())
    }
}

impl<const N: usize> Lookup for [(&str, &str); N] {
    fn get(&self, key: &str) -> Option<String> {
        self.iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| (*v).to_owned())
    }
}

impl Lookup for Vec<(String, String)> {
    fn get(&self, key: &str) -> Option<String> {
        self.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }
}

/// One configuration problem, tied to the variable that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: String,
    pub message: String,
}

/// Every configuration problem found while reading a service's settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, thiserror::Error)]
#[error("invalid configuration:{}", Listed(.0))]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// Whether any error mentions `variable`.
    pub fn mentions(&self, variable: &str) -> bool {
        self.0.iter().any(|e| e.variable == variable)
    }
}

/// Each error on a line of its own, indented under the heading.
struct Listed<'a>(&'a [ConfigError]);

impl fmt::Display for Listed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in self.0 {
            write!(f, "\n  {}: {}", e.variable, e.message)?;
        }
        Ok(())
    }
}

/// Reads variables from a [`Lookup`], remembering what was read and what was wrong.
pub struct EnvReader<'a> {
    lookup: &'a dyn Lookup,
    errors: Vec<ConfigError>,
    read: Vec<&'static str>,
}

impl fmt::Debug for EnvReader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvReader")
            .field("errors", &self.errors)
            .field("read", &self.read)
            .finish()
    }
}

impl<'a> EnvReader<'a> {
    pub fn new(lookup: &'a dyn Lookup) -> Self {
        Self {
            lookup,
            errors: Vec::new(),
            read: Vec::new(),
        }
    }

    /// The raw value, `None` when unset. Empty strings are returned as they are.
    pub fn optional(&mut self, key: &'static str) -> Option<String> {
        self.read.push(key);
        self.lookup.get(key)
    }

    /// The value, or `default` when unset or empty.
    pub fn string(&mut self, key: &'static str, default: &str) -> String {
        match self.optional(key) {
            Some(v) if !v.is_empty() => v,
            _ => default.to_owned(),
        }
    }

    /// True only when the variable is exactly `true` (the upstream services compare literally).
    pub fn exactly_true(&mut self, key: &'static str) -> bool {
        self.optional(key).as_deref() == Some("true")
    }

    /// Parsed value, or `default` when unset or empty; a bad value is recorded as an error.
    pub fn parse<T>(&mut self, key: &'static str, default: T) -> T
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.optional(key) {
            Some(raw) if !raw.trim().is_empty() => match raw.trim().parse::<T>() {
                Ok(v) => v,
                Err(e) => {
                    self.error(key, format!("cannot parse {raw:?}: {e}"));
                    default
                }
            },
            _ => default,
        }
    }

    /// A duration in (possibly fractional) seconds, e.g. `2.5`.
    pub fn seconds(
        &mut self,
        key: &'static str,
        default: std::time::Duration,
    ) -> std::time::Duration {
        let secs: f64 = self.parse(key, default.as_secs_f64());
        match std::time::Duration::try_from_secs_f64(secs) {
            Ok(d) => d,
            Err(_) => {
                self.error(key, format!("{secs} is not a valid number of seconds"));
                default
            }
        }
    }

    /// Record a problem with `key` found by the caller's own validation.
    pub fn error(&mut self, key: &str, message: impl Into<String>) {
        self.errors.push(ConfigError {
            variable: key.to_owned(),
            message: message.into(),
        });
    }

    /// Names of every variable read so far (documentation and manifest checks use this).
    pub fn variables_read(&self) -> &[&'static str] {
        &self.read
    }

    /// The configuration, or every error found while reading it.
    pub fn finish<T>(self, value: T) -> Result<T, ConfigErrors> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(ConfigErrors(self.errors))
        }
    }
}

/// `http://{host}{.domain}:{port}`, the way every upstream service builds backend URLs.
pub fn service_base_url(host: &str, domain: &str, port: &str) -> String {
    if domain.is_empty() {
        format!("http://{host}:{port}")
    } else {
        format!("http://{host}.{domain}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn collects_every_error_by_name() {
        let env = [("A", "x"), ("B", "1"), ("C", "nope")];
        let mut r = EnvReader::new(&env);
        let a: u32 = r.parse("A", 0);
        let b: u32 = r.parse("B", 0);
        let c = r.seconds("C", Duration::from_secs(1));
        assert_eq!((a, b, c), (0, 1, Duration::from_secs(1)));
        let errs = r.finish(()).unwrap_err();
        assert!(errs.mentions("A") && errs.mentions("C") && !errs.mentions("B"));
        let text = errs.to_string();
        assert!(text.contains("A:") && text.contains("C:"), "{text}");
    }

    #[test]
    fn exactly_true_is_literal() {
        for (value, expected) in [("true", true), ("TRUE", false), ("1", false), ("", false)] {
            let env = [("X", value)];
            assert_eq!(EnvReader::new(&env).exactly_true("X"), expected, "{value}");
        }
        let empty: [(&str, &str); 0] = [];
        assert!(!EnvReader::new(&empty).exactly_true("X"));
    }

    #[test]
    fn string_defaults_when_unset_or_empty() {
        let env = [("H", ""), ("P", "1234")];
        let mut r = EnvReader::new(&env);
        assert_eq!(r.string("H", "ratings"), "ratings");
        assert_eq!(r.string("P", "9080"), "1234");
        assert_eq!(r.string("Q", "d"), "d");
        assert_eq!(r.variables_read(), ["H", "P", "Q"]);
    }

    #[test]
    fn negative_or_huge_seconds_are_errors() {
        let env = [("T", "-1")];
        let mut r = EnvReader::new(&env);
        r.seconds("T", Duration::from_secs(3));
        assert!(r.finish(()).unwrap_err().mentions("T"));
    }

    #[test]
    fn base_url_appends_domain() {
        assert_eq!(service_base_url("r", "", "9080"), "http://r:9080");
        assert_eq!(
            service_base_url("r", "ns.svc", "1234"),
            "http://r.ns.svc:1234"
        );
    }
}
