//! The details service's settings, read once from the environment.
//!
//! Upstream reads `ENABLE_EXTERNAL_BOOK_SERVICE` and `DO_NOT_ENCRYPT` and compares both with the
//! literal string `true`, so `TRUE` or `1` leave the feature off; we keep that. `GOOGLE_BOOKS_URL`
//! is our addition: it points the external mode at another server (a local fake in tests, a
//! mirror or an egress proxy in a cluster).

use std::time::Duration;

use bookinfo_core::server::ServerLimits;
use bookinfo_core::trace::TracingConfig;
use bookinfo_core::{ConfigErrors, EnvReader, Lookup};
use reqwest::Url;

/// How long the Google Books call may take, as upstream's 5 s read timeout.
pub const GOOGLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where book data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The hard-coded book every id maps to (details v1, and v2 unless enabled).
    Builtin,
    /// Google Books' volume API.
    Google(GoogleBooks),
}

/// Where the Google Books API is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleBooks {
    /// Scheme, host and port, without a trailing slash, e.g. `https://www.googleapis.com:443`.
    pub base: String,
    /// `host:port`, as named in connection error messages (upstream's wording includes it).
    pub authority: String,
}

/// Parsed configuration of the details service.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub source: Source,
    /// Timeout of the Google Books call.
    pub google_timeout: Duration,
    /// Span export (`OTEL_*`); `service.version` is v2 in external mode, else v1.
    pub tracing: TracingConfig,
    /// Connection limits (`SERVER_*`).
    pub server: ServerLimits,
}

impl Config {
    /// Read the settings, reporting every bad variable at once.
    pub fn from_env(lookup: &dyn Lookup) -> Result<Config, ConfigErrors> {
        let mut env = EnvReader::new(lookup);
        let external = env.exactly_true("ENABLE_EXTERNAL_BOOK_SERVICE");
        let plain_http = env.exactly_true("DO_NOT_ENCRYPT");
        let override_url = env.optional("GOOGLE_BOOKS_URL").filter(|v| !v.is_empty());
        let google = match google_books(plain_http, override_url.as_deref()) {
            Ok(google) => google,
            Err(message) => {
                env.error("GOOGLE_BOOKS_URL", message);
                default_google(plain_http)
            }
        };
        let source = if external {
            Source::Google(google)
        } else {
            Source::Builtin
        };
        let version = if external { "v2" } else { "v1" };
        let tracing = TracingConfig::read(&mut env, "details", version);
        let server = ServerLimits::read(&mut env);
        env.finish(Config {
            source,
            google_timeout: GOOGLE_TIMEOUT,
            tracing,
            server,
        })
    }
}

/// `https://www.googleapis.com:443`, or `http://www.googleapis.com:80` when the sidecar or an
/// egress gateway is expected to originate TLS (`DO_NOT_ENCRYPT=true`).
fn default_google(plain_http: bool) -> GoogleBooks {
    let (scheme, port) = if plain_http {
        ("http", 80)
    } else {
        ("https", 443)
    };
    GoogleBooks {
        base: format!("{scheme}://www.googleapis.com:{port}"),
        authority: format!("www.googleapis.com:{port}"),
    }
}

/// The Google Books endpoint: the override when given (an `http`/`https` URL with a host and
/// nothing after the authority), otherwise upstream's choice of port 443 or 80.
pub fn google_books(plain_http: bool, override_url: Option<&str>) -> Result<GoogleBooks, String> {
    let Some(raw) = override_url else {
        return Ok(default_google(plain_http));
    };
    let url = Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return Err(format!("{raw:?} must name a host"));
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{raw:?} must be an http:// or https:// URL"));
    }
    if url.path() != "/" || url.query().is_some() {
        return Err(format!(
            "{raw:?} must name only scheme, host and port (the API path is added)"
        ));
    }
    Ok(GoogleBooks {
        base: raw.trim_end_matches('/').to_owned(),
        authority: format!("{host}:{port}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn google(env: &[(&str, &str)]) -> Source {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_env(&env).unwrap().source
    }

    #[test]
    fn external_mode_only_for_the_exact_string_true() {
        for value in ["TRUE", "1", "yes", ""] {
            assert_eq!(
                google(&[("ENABLE_EXTERNAL_BOOK_SERVICE", value)]),
                Source::Builtin,
                "{value}"
            );
        }
        assert!(matches!(
            google(&[("ENABLE_EXTERNAL_BOOK_SERVICE", "true")]),
            Source::Google { .. }
        ));
    }

    #[test]
    fn tls_on_443_by_default_plain_on_80_with_do_not_encrypt() {
        let tls = GoogleBooks {
            base: "https://www.googleapis.com:443".into(),
            authority: "www.googleapis.com:443".into(),
        };
        let plain = GoogleBooks {
            base: "http://www.googleapis.com:80".into(),
            authority: "www.googleapis.com:80".into(),
        };
        let on = ("ENABLE_EXTERNAL_BOOK_SERVICE", "true");
        assert_eq!(google(&[on]), Source::Google(tls.clone()));
        assert_eq!(
            google(&[on, ("DO_NOT_ENCRYPT", "true")]),
            Source::Google(plain)
        );
        // Only the exact string counts here too.
        assert_eq!(
            google(&[on, ("DO_NOT_ENCRYPT", "True")]),
            Source::Google(tls)
        );
    }

    #[test]
    fn override_replaces_scheme_host_and_port() {
        let g = google_books(true, Some("http://127.0.0.1:18080/")).unwrap();
        assert_eq!(g.base, "http://127.0.0.1:18080");
        assert_eq!(g.authority, "127.0.0.1:18080");
        let g = google_books(false, Some("https://books.example")).unwrap();
        assert_eq!(g.authority, "books.example:443");
        for bad in ["ftp://x:1", "127.0.0.1:80", "http://h:1/books", "not a url"] {
            assert!(google_books(false, Some(bad)).is_err(), "{bad}");
        }
        let env = [
            ("ENABLE_EXTERNAL_BOOK_SERVICE", "true"),
            ("GOOGLE_BOOKS_URL", "ftp://nope"),
        ];
        assert!(
            Config::from_env(&env)
                .unwrap_err()
                .mentions("GOOGLE_BOOKS_URL")
        );
    }
}
