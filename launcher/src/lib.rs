//! All four BookInfo services in one process, for running locally and for cross-service tests.
//!
//! [`Stack::start`] binds every listener first (so port 0 works and every address is known),
//! configures each service through the same `Config::from_env` it uses in a container — with
//! the launcher's wiring (backend hosts and ports, pod names) layered over the caller's
//! environment — and then runs them until [`Stack::stop`].
//!
//! With [`ReviewsChoice::All`], reviews v1, v2 and v3 all run, behind a small per-connection
//! round-robin TCP balancer that productpage calls as "reviews", as a Kubernetes Service without
//! a mesh would be: each page refresh lands on the next version, because productpage opens a
//! fresh connection per page view at that pace (`BACKEND_CONNECTIONS`).

pub mod rotate;

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use bookinfo_core::config::{ConfigErrors, Lookup};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Which reviews version(s) productpage talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewsChoice {
    V1,
    V2,
    V3,
    /// All three, behind a per-connection round-robin balancer.
    All,
}

impl FromStr for ReviewsChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "v1" => Ok(Self::V1),
            "v2" => Ok(Self::V2),
            "v3" => Ok(Self::V3),
            "all" => Ok(Self::All),
            other => Err(format!(
                "unknown reviews version {other:?}: use v1, v2, v3 or all"
            )),
        }
    }
}

impl ReviewsChoice {
    fn versions(self) -> &'static [&'static str] {
        match self {
            Self::V1 => &["v1"],
            Self::V2 => &["v2"],
            Self::V3 => &["v3"],
            Self::All => &["v1", "v2", "v3"],
        }
    }
}

/// A BookInfo service, for per-service environment overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Productpage,
    Details,
    Reviews,
    Ratings,
}

impl Service {
    pub const ALL: [Self; 4] = [
        Self::Productpage,
        Self::Details,
        Self::Reviews,
        Self::Ratings,
    ];
}

/// How to run the stack.
#[derive(Debug, Clone)]
pub struct StackOptions {
    pub reviews: ReviewsChoice,
    /// Where productpage listens.
    pub productpage_addr: SocketAddr,
    /// First port for the backends (details, ratings, reviews v1..v3, the reviews rotation, in
    /// that order); 0 gives every backend an ephemeral port.
    pub backend_port_base: u16,
    /// Variables set for one service, applied over everything else (tests use this to point
    /// productpage at a dead port or to switch ratings into a fault mode).
    pub overrides: Vec<(Service, String, String)>,
}

impl StackOptions {
    /// Everything on ephemeral loopback ports, as the tests want it.
    pub fn ephemeral(reviews: ReviewsChoice) -> Self {
        Self {
            reviews,
            productpage_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            backend_port_base: 0,
            overrides: Vec::new(),
        }
    }

    /// Set `key=value` for `service` only.
    pub fn with_env(mut self, service: Service, key: &str, value: &str) -> Self {
        self.overrides
            .push((service, key.to_owned(), value.to_owned()));
        self
    }
}

/// Why the stack could not start.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("cannot listen for {what} on {addr}: {source}")]
    Bind {
        what: String,
        addr: SocketAddr,
        source: io::Error,
    },
    #[error("{service}: {errors}")]
    Config {
        service: &'static str,
        errors: ConfigErrors,
    },
}

/// Variables for one service: the launcher's wiring over the caller's environment.
struct Layered {
    over: HashMap<String, String>,
    base: Arc<dyn Lookup>,
}

impl Lookup for Layered {
    fn get(&self, key: &str) -> Option<String> {
        self.over.get(key).cloned().or_else(|| self.base.get(key))
    }
}

/// The running services.
#[derive(Debug)]
pub struct Stack {
    pub productpage: SocketAddr,
    pub details: SocketAddr,
    pub ratings: SocketAddr,
    /// The address productpage calls for reviews (the rotation balancer with `All`).
    pub reviews: SocketAddr,
    /// Each running reviews version and its address.
    pub reviews_versions: Vec<(&'static str, SocketAddr)>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<io::Result<()>>,
}

async fn listen(what: &str, addr: SocketAddr) -> Result<TcpListener, StackError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StackError::Bind {
            what: what.to_owned(),
            addr,
            source,
        })
}

fn local(l: &TcpListener) -> SocketAddr {
    l.local_addr()
        .unwrap_or_else(|_| SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
}

impl Stack {
    /// Bind, configure and start every service. `base` is the environment the services see
    /// under the launcher's wiring (the process environment, or a test map).
    pub async fn start(options: StackOptions, base: Arc<dyn Lookup>) -> Result<Self, StackError> {
        let host = Ipv4Addr::LOCALHOST;
        let port = |offset: u16| {
            if options.backend_port_base == 0 {
                0
            } else {
                options.backend_port_base.saturating_add(offset)
            }
        };
        let details_l = listen("details", SocketAddr::from((host, port(0)))).await?;
        let ratings_l = listen("ratings", SocketAddr::from((host, port(1)))).await?;
        let mut reviews_ls = Vec::new();
        for (i, version) in options.reviews.versions().iter().enumerate() {
            let offset = 2 + u16::try_from(i).unwrap_or(0);
            let l = listen(
                &format!("reviews {version}"),
                SocketAddr::from((host, port(offset))),
            )
            .await?;
            reviews_ls.push((*version, l));
        }
        let rotation_l = if reviews_ls.len() > 1 {
            Some(listen("reviews rotation", SocketAddr::from((host, port(5)))).await?)
        } else {
            None
        };
        let productpage_l = listen("productpage", options.productpage_addr).await?;

        let details = local(&details_l);
        let ratings = local(&ratings_l);
        let reviews_versions: Vec<_> = reviews_ls.iter().map(|(v, l)| (*v, local(l))).collect();
        let reviews = rotation_l
            .as_ref()
            .map_or_else(|| reviews_versions[0].1, local);
        let productpage = local(&productpage_l);

        let env = |service: Service, wiring: Vec<(&str, String)>| -> Layered {
            let mut over: HashMap<String, String> =
                wiring.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            for (s, k, v) in &options.overrides {
                if *s == service {
                    over.insert(k.clone(), v.clone());
                }
            }
            Layered {
                over,
                base: base.clone(),
            }
        };
        let loopback = host.to_string();

        let (stop, stop_rx) = watch::channel(false);
        let shutdown = move || {
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        let mut tasks = JoinSet::new();

        // details
        let config =
            details::Config::from_env(&env(Service::Details, vec![])).map_err(|errors| {
                StackError::Config {
                    service: "details",
                    errors,
                }
            })?;
        tasks.spawn(details::run(
            details_l,
            details::AppState::new(config),
            shutdown(),
        ));

        // ratings
        let config =
            ratings::Config::from_env(&env(Service::Ratings, vec![])).map_err(|errors| {
                StackError::Config {
                    service: "ratings",
                    errors,
                }
            })?;
        tasks.spawn(ratings::run(
            ratings_l,
            ratings::AppState::new(config),
            shutdown(),
        ));

        // reviews, one per version
        for (version, listener) in reviews_ls {
            let (enable_ratings, color) = match version {
                "v1" => ("false", "black"),
                "v2" => ("true", "black"),
                _ => ("true", "red"),
            };
            let wiring = vec![
                ("ENABLE_RATINGS", enable_ratings.to_owned()),
                ("STAR_COLOR", color.to_owned()),
                ("HOSTNAME", format!("reviews-{version}-local")),
                ("RATINGS_HOSTNAME", loopback.clone()),
                ("RATINGS_SERVICE_PORT", ratings.port().to_string()),
                ("SERVICES_DOMAIN", String::new()),
            ];
            let config =
                reviews::Config::from_env(&env(Service::Reviews, wiring)).map_err(|errors| {
                    StackError::Config {
                        service: "reviews",
                        errors,
                    }
                })?;
            tasks.spawn(reviews::run(
                listener,
                reviews::AppState::new(config),
                shutdown(),
            ));
        }
        if let Some(listener) = rotation_l {
            let targets = reviews_versions.iter().map(|(_, a)| *a).collect();
            tasks.spawn(rotate::run(listener, targets, shutdown()));
        }

        // productpage
        let wiring = vec![
            ("SERVICES_DOMAIN", String::new()),
            ("DETAILS_HOSTNAME", loopback.clone()),
            ("DETAILS_SERVICE_PORT", details.port().to_string()),
            ("REVIEWS_HOSTNAME", loopback.clone()),
            ("REVIEWS_SERVICE_PORT", reviews.port().to_string()),
            ("RATINGS_HOSTNAME", loopback.clone()),
            ("RATINGS_SERVICE_PORT", ratings.port().to_string()),
        ];
        let config = productpage::Config::from_env(&env(Service::Productpage, wiring)).map_err(
            |errors| StackError::Config {
                service: "productpage",
                errors,
            },
        )?;
        tasks.spawn(productpage::run(
            productpage_l,
            productpage::AppState::new(config),
            shutdown(),
        ));

        Ok(Self {
            productpage,
            details,
            ratings,
            reviews,
            reviews_versions,
            stop,
            tasks,
        })
    }

    /// Signal every service to stop, and wait until each has drained.
    pub async fn stop(mut self) -> io::Result<()> {
        let _ = self.stop.send(true);
        let mut result = Ok(());
        while let Some(joined) = self.tasks.join_next().await {
            match joined {
                Ok(Ok(())) => {}
                Ok(Err(e)) => result = Err(e),
                Err(e) => result = Err(io::Error::other(e)),
            }
        }
        result
    }

    /// Wait until any service stops by itself (which only happens on an I/O error).
    pub async fn wait_any(&mut self) -> Option<io::Result<()>> {
        self.tasks
            .join_next()
            .await
            .map(|r| r.unwrap_or_else(|e| Err(io::Error::other(e))))
    }
}
