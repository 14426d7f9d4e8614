//! Span-export settings, from the standard OpenTelemetry environment variables.
//!
//! The one decision that matters most is the *mode*: a service only creates and injects its own
//! span ids when it also exports those spans (participating mode). Without an exporter it
//! forwards trace headers verbatim (pass-through mode), exactly like upstream BookInfo — an
//! un-exported span id would leave a hole in every trace.

use std::time::Duration;

use crate::config::EnvReader;

/// Where spans go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exporter {
    /// OTLP over HTTP/protobuf; `endpoint` is the full traces URL (`.../v1/traces`).
    OtlpHttp { endpoint: String },
    /// OTLP over gRPC; `endpoint` is the collector address (`http://host:4317`).
    OtlpGrpc { endpoint: String },
    /// Zipkin v2 JSON (Istio's default tracing provider).
    Zipkin { endpoint: String },
}

/// How root traces (and B3 "deferred" requests) are sampled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RootSampler {
    AlwaysOn,
    AlwaysOff,
    Ratio(f64),
}

/// Finished spans buffered for export by default: four times the specification's 2048, so that
/// a page view's spans survive a collector that stalls for a moment under full load (about half
/// a second of productpage's spans at 8,000 pages/s); each waiting span costs a few hundred
/// bytes (OTLP/HTTP keeps them encoded).
pub const DEFAULT_QUEUE: usize = 8192;

/// The tracing settings of one service.
#[derive(Debug, Clone, PartialEq)]
pub struct TracingConfig {
    /// `None`: pass-through mode.
    pub exporter: Option<Exporter>,
    pub service_name: String,
    pub service_version: String,
    /// Extra resource attributes (`OTEL_RESOURCE_ATTRIBUTES`, pod name).
    pub resource: Vec<(String, String)>,
    /// Follow the caller's sampling decision (`parentbased_*`, the default) or not.
    pub parent_based: bool,
    pub root_sampler: RootSampler,
    /// `OTEL_PROPAGATORS` as given (validated by the propagation module).
    pub propagators: Option<String>,
    /// Export timeout per batch.
    pub export_timeout: Duration,
    /// Headers sent with every OTLP export (`OTEL_EXPORTER_OTLP_TRACES_HEADERS`, else
    /// `OTEL_EXPORTER_OTLP_HEADERS`), e.g. a backend's API key.
    pub otlp_headers: Vec<(String, String)>,
    /// How long finished spans wait before being exported in a batch (`OTEL_BSP_SCHEDULE_DELAY`).
    pub batch_delay: Duration,
    /// How many finished spans may wait for export before new ones are dropped
    /// (`OTEL_BSP_MAX_QUEUE_SIZE`).
    pub batch_queue: usize,
    /// Request paths served without a span (`TRACE_EXCLUDED_PATHS`): health probes and metric
    /// scrapes by default. They arrive every few seconds from the kubelet, Docker or Prometheus,
    /// and would otherwise outnumber the page views in every trace search; a mesh does not trace
    /// them either (Istio rewrites probes to its agent).
    pub excluded_paths: Vec<String>,
    /// How much of the service's own work its traces show (`TRACE_DETAIL`, `basic` or `full`).
    pub detail: super::Detail,
}

/// The default of `TRACE_EXCLUDED_PATHS`.
pub const DEFAULT_EXCLUDED_PATHS: &str = "/health,/metrics";

impl TracingConfig {
    /// Read the `OTEL_*` variables. `service` and `version` are the defaults for
    /// `service.name` and `service.version`.
    pub fn read(env: &mut EnvReader<'_>, service: &str, version: &str) -> Self {
        let exporter = read_exporter(env);
        let service_name = env.string("OTEL_SERVICE_NAME", service);
        let mut resource = Vec::new();
        if let Some(raw) = env.optional("OTEL_RESOURCE_ATTRIBUTES") {
            match parse_resource_attributes(&raw) {
                Ok(attrs) => resource = attrs,
                Err(e) => env.error("OTEL_RESOURCE_ATTRIBUTES", e),
            }
        }
        if let Some(pod) = env.optional("HOSTNAME").filter(|h| !h.is_empty()) {
            resource.push(("k8s.pod.name".to_owned(), pod.clone()));
            resource.push(("host.name".to_owned(), pod));
        }
        let (parent_based, root_sampler) = read_sampler(env);
        let propagators = env
            .optional("OTEL_PROPAGATORS")
            .filter(|p| !p.trim().is_empty());
        if let Some(Err(e)) = propagators
            .as_deref()
            .map(bookinfo_propagation::Propagation::parse)
        {
            env.error("OTEL_PROPAGATORS", e.to_string());
        }
        for (var, url) in exporter_urls(exporter.as_ref()) {
            let absolute = url
                .parse::<http::Uri>()
                .is_ok_and(|u| u.scheme().is_some() && u.host().is_some());
            if !absolute {
                env.error(var, format!("{url:?} is not an absolute http(s) URL"));
            }
        }
        let export_timeout =
            Duration::from_millis(env.parse("OTEL_EXPORTER_OTLP_TIMEOUT", 10_000u64));
        let otlp_headers = read_otlp_headers(env);
        let batch_delay = Duration::from_millis(env.parse("OTEL_BSP_SCHEDULE_DELAY", 5_000u64));
        let batch_queue = env.parse("OTEL_BSP_MAX_QUEUE_SIZE", DEFAULT_QUEUE);
        if batch_queue == 0 {
            env.error("OTEL_BSP_MAX_QUEUE_SIZE", "must be at least 1".to_owned());
        }
        let excluded_paths = read_excluded_paths(env);
        let detail = read_detail(env);
        Self {
            exporter,
            service_name,
            service_version: version.to_owned(),
            resource,
            parent_based,
            root_sampler,
            propagators,
            export_timeout,
            otlp_headers,
            batch_delay,
            batch_queue,
            excluded_paths,
            detail,
        }
    }

    /// Whether this service creates, injects and exports its own spans.
    pub fn participating(&self) -> bool {
        self.exporter.is_some()
    }
}

/// `TRACE_EXCLUDED_PATHS`: comma-separated absolute paths, matched exactly; unset means
/// [`DEFAULT_EXCLUDED_PATHS`], set and empty means every request is traced.
fn read_excluded_paths(env: &mut EnvReader<'_>) -> Vec<String> {
    let raw = env
        .optional("TRACE_EXCLUDED_PATHS")
        .unwrap_or_else(|| DEFAULT_EXCLUDED_PATHS.to_owned());
    let mut paths = Vec::new();
    for path in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if path.starts_with('/') {
            paths.push(path.to_owned());
        } else {
            env.error(
                "TRACE_EXCLUDED_PATHS",
                format!("{path:?} is not an absolute path (it must start with `/`)"),
            );
        }
    }
    paths
}

/// `TRACE_DETAIL`: `basic` (the default) or `full`.
fn read_detail(env: &mut EnvReader<'_>) -> super::Detail {
    let Some(raw) = env
        .optional("TRACE_DETAIL")
        .filter(|v| !v.trim().is_empty())
    else {
        return super::Detail::default();
    };
    super::Detail::parse(&raw).unwrap_or_else(|| {
        env.error(
            "TRACE_DETAIL",
            format!("{raw:?} is not one of `basic`, `full`"),
        );
        super::Detail::default()
    })
}

fn exporter_urls(exporter: Option<&Exporter>) -> Vec<(&'static str, &str)> {
    match exporter {
        None => vec![],
        Some(Exporter::OtlpHttp { endpoint } | Exporter::OtlpGrpc { endpoint }) => {
            vec![("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str())]
        }
        Some(Exporter::Zipkin { endpoint }) => {
            vec![("OTEL_EXPORTER_ZIPKIN_ENDPOINT", endpoint.as_str())]
        }
    }
}

/// `key=value` pairs, comma-separated, values percent-decoded (the OpenTelemetry format, the
/// same as `OTEL_RESOURCE_ATTRIBUTES`); each must make a valid HTTP header.
fn read_otlp_headers(env: &mut EnvReader<'_>) -> Vec<(String, String)> {
    let var = [
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        "OTEL_EXPORTER_OTLP_HEADERS",
    ]
    .into_iter()
    .find(|var| env.optional(var).is_some_and(|v| !v.trim().is_empty()));
    let Some(var) = var else {
        return Vec::new();
    };
    let raw = env.optional(var).unwrap_or_default();
    let checked = parse_resource_attributes(&raw).and_then(|pairs| {
        for (name, value) in &pairs {
            if http::HeaderName::try_from(name.as_str()).is_err() {
                return Err(format!("{name:?} is not a valid header name"));
            }
            if http::HeaderValue::try_from(value.as_str()).is_err() {
                return Err(format!("the value of {name:?} is not a valid header value"));
            }
        }
        Ok(pairs)
    });
    checked.unwrap_or_else(|e| {
        env.error(var, e);
        Vec::new()
    })
}

fn read_exporter(env: &mut EnvReader<'_>) -> Option<Exporter> {
    let otlp_base = env
        .optional("OTEL_EXPORTER_OTLP_ENDPOINT")
        .filter(|v| !v.is_empty());
    let otlp_traces = env
        .optional("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .filter(|v| !v.is_empty());
    let zipkin = env
        .optional("OTEL_EXPORTER_ZIPKIN_ENDPOINT")
        .filter(|v| !v.is_empty());
    let protocol = env
        .optional("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .or_else(|| env.optional("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .unwrap_or_else(|| "http/protobuf".to_owned());
    let chosen = match env.optional("OTEL_TRACES_EXPORTER") {
        Some(v) if !v.trim().is_empty() => v.trim().to_ascii_lowercase(),
        // No exporter named: an endpoint alone is enough to mean "export here".
        _ if otlp_base.is_some() || otlp_traces.is_some() => "otlp".to_owned(),
        _ if zipkin.is_some() => "zipkin".to_owned(),
        _ => "none".to_owned(),
    };
    match chosen.as_str() {
        "none" => None,
        "otlp" => match protocol.as_str() {
            "http/protobuf" => Some(Exporter::OtlpHttp {
                endpoint: otlp_traces.unwrap_or_else(|| {
                    let base = otlp_base.unwrap_or_else(|| "http://localhost:4318".to_owned());
                    format!("{}/v1/traces", base.trim_end_matches('/'))
                }),
            }),
            "grpc" => Some(Exporter::OtlpGrpc {
                endpoint: otlp_traces
                    .or(otlp_base)
                    .unwrap_or_else(|| "http://localhost:4317".to_owned()),
            }),
            other => {
                env.error(
                    "OTEL_EXPORTER_OTLP_PROTOCOL",
                    format!("{other:?} is not supported: use `http/protobuf` or `grpc`"),
                );
                None
            }
        },
        "zipkin" => Some(Exporter::Zipkin {
            endpoint: zipkin.unwrap_or_else(|| "http://localhost:9411/api/v2/spans".to_owned()),
        }),
        other => {
            env.error(
                "OTEL_TRACES_EXPORTER",
                format!("{other:?} is not supported: use `otlp`, `zipkin` or `none`"),
            );
            None
        }
    }
}

fn read_sampler(env: &mut EnvReader<'_>) -> (bool, RootSampler) {
    let name = env.string("OTEL_TRACES_SAMPLER", "parentbased_always_on");
    let ratio = |env: &mut EnvReader<'_>| {
        let r: f64 = env.parse("OTEL_TRACES_SAMPLER_ARG", 1.0);
        if (0.0..=1.0).contains(&r) {
            RootSampler::Ratio(r)
        } else {
            env.error(
                "OTEL_TRACES_SAMPLER_ARG",
                format!("{r} is not between 0 and 1"),
            );
            RootSampler::Ratio(1.0)
        }
    };
    match name.trim().to_ascii_lowercase().as_str() {
        "always_on" => (false, RootSampler::AlwaysOn),
        "always_off" => (false, RootSampler::AlwaysOff),
        "traceidratio" => (false, ratio(env)),
        "parentbased_always_on" => (true, RootSampler::AlwaysOn),
        "parentbased_always_off" => (true, RootSampler::AlwaysOff),
        "parentbased_traceidratio" => (true, ratio(env)),
        other => {
            env.error(
                "OTEL_TRACES_SAMPLER",
                format!(
                    "{other:?} is not supported: use always_on, always_off, traceidratio or their parentbased_ forms"
                ),
            );
            (true, RootSampler::AlwaysOn)
        }
    }
}

/// `key1=value1,key2=value2`, values percent-decoded, as the OpenTelemetry spec defines it.
pub fn parse_resource_attributes(raw: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let Some((k, v)) = item.split_once('=') else {
            return Err(format!("{item:?} is not key=value"));
        };
        let k = k.trim();
        if k.is_empty() {
            return Err(format!("{item:?} has an empty key"));
        }
        let v = percent_encoding::percent_decode_str(v.trim())
            .decode_utf8()
            .map_err(|_| format!("{item:?} is not valid UTF-8 after percent-decoding"))?;
        out.push((k.to_owned(), v.into_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<TracingConfig, crate::config::ConfigErrors> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut env = EnvReader::new(&vars);
        let c = TracingConfig::read(&mut env, "reviews", "v2");
        env.finish(c)
    }

    #[test]
    fn probes_and_scrapes_are_excluded_unless_configured() {
        assert_eq!(read(&[]).unwrap().excluded_paths, ["/health", "/metrics"]);
        let c = read(&[("TRACE_EXCLUDED_PATHS", " /healthz , /ready,")]).unwrap();
        assert_eq!(c.excluded_paths, ["/healthz", "/ready"]);
        let c = read(&[("TRACE_EXCLUDED_PATHS", "")]).unwrap();
        assert!(c.excluded_paths.is_empty(), "empty traces every path");
        let bad = read(&[("TRACE_EXCLUDED_PATHS", "/health,metrics")]).unwrap_err();
        assert!(bad.mentions("TRACE_EXCLUDED_PATHS"));
    }

    #[test]
    fn detail_is_basic_unless_full_is_asked_for() {
        use crate::trace::Detail;
        assert_eq!(read(&[]).unwrap().detail, Detail::Basic);
        assert_eq!(
            read(&[("TRACE_DETAIL", "FULL")]).unwrap().detail,
            Detail::Full
        );
        assert_eq!(
            read(&[("TRACE_DETAIL", "basic")]).unwrap().detail,
            Detail::Basic
        );
        let bad = read(&[("TRACE_DETAIL", "verbose")]).unwrap_err();
        assert!(bad.mentions("TRACE_DETAIL"));
    }

    #[test]
    fn no_exporter_means_pass_through() {
        let c = read(&[]).unwrap();
        assert_eq!(c.exporter, None);
        assert!(!c.participating());
        let c = read(&[
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
        ])
        .unwrap();
        assert_eq!(c.exporter, None, "`none` wins over an endpoint");
    }

    #[test]
    fn otlp_endpoints() {
        let c = read(&[("OTEL_TRACES_EXPORTER", "otlp")]).unwrap();
        assert_eq!(
            c.exporter,
            Some(Exporter::OtlpHttp {
                endpoint: "http://localhost:4318/v1/traces".into()
            })
        );
        let c = read(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")]).unwrap();
        assert_eq!(
            c.exporter,
            Some(Exporter::OtlpHttp {
                endpoint: "http://collector:4318/v1/traces".into()
            })
        );
        let c = read(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c/custom")]).unwrap();
        assert_eq!(
            c.exporter,
            Some(Exporter::OtlpHttp {
                endpoint: "http://c/custom".into()
            })
        );
        let c = read(&[
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ])
        .unwrap();
        assert_eq!(
            c.exporter,
            Some(Exporter::OtlpGrpc {
                endpoint: "http://localhost:4317".into()
            })
        );
    }

    #[test]
    fn zipkin_for_istio() {
        let c = read(&[
            ("OTEL_TRACES_EXPORTER", "zipkin"),
            (
                "OTEL_EXPORTER_ZIPKIN_ENDPOINT",
                "http://zipkin.istio-system:9411/api/v2/spans",
            ),
        ])
        .unwrap();
        assert_eq!(
            c.exporter,
            Some(Exporter::Zipkin {
                endpoint: "http://zipkin.istio-system:9411/api/v2/spans".into()
            })
        );
    }

    #[test]
    fn every_bad_variable_is_named() {
        let e = read(&[
            ("OTEL_TRACES_EXPORTER", "jaeger"),
            ("OTEL_TRACES_SAMPLER", "sometimes"),
            ("OTEL_RESOURCE_ATTRIBUTES", "novalue"),
        ])
        .unwrap_err();
        for var in [
            "OTEL_TRACES_EXPORTER",
            "OTEL_TRACES_SAMPLER",
            "OTEL_RESOURCE_ATTRIBUTES",
        ] {
            assert!(e.mentions(var), "{var}: {e}");
        }
        let e = read(&[
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ])
        .unwrap_err();
        assert!(e.mentions("OTEL_EXPORTER_OTLP_PROTOCOL"));
        let e = read(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "2"),
        ])
        .unwrap_err();
        assert!(e.mentions("OTEL_TRACES_SAMPLER_ARG"));
    }

    #[test]
    fn export_queue_defaults_above_the_specification_and_is_checked() {
        assert_eq!(read(&[]).unwrap().batch_queue, DEFAULT_QUEUE);
        let c = read(&[("OTEL_BSP_MAX_QUEUE_SIZE", "100")]).unwrap();
        assert_eq!(c.batch_queue, 100);
        for bad in ["0", "-1", "many"] {
            let e = read(&[("OTEL_BSP_MAX_QUEUE_SIZE", bad)]).unwrap_err();
            assert!(e.mentions("OTEL_BSP_MAX_QUEUE_SIZE"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn otlp_headers_are_read_decoded_and_checked() {
        let c = read(&[
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "api-key=s%3Dcret, x-team = books",
            ),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
        ])
        .unwrap();
        assert_eq!(
            c.otlp_headers,
            [
                ("api-key".to_owned(), "s=cret".to_owned()),
                ("x-team".to_owned(), "books".to_owned())
            ]
        );
        // The traces-specific variable wins over the general one.
        let c = read(&[
            ("OTEL_EXPORTER_OTLP_HEADERS", "a=1"),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "b=2"),
        ])
        .unwrap();
        assert_eq!(c.otlp_headers, [("b".to_owned(), "2".to_owned())]);
        for (var, bad) in [
            ("OTEL_EXPORTER_OTLP_HEADERS", "novalue"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "bad name=1"),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "k=line%0Abreak"),
        ] {
            let e = read(&[(var, bad)]).unwrap_err();
            assert!(e.mentions(var), "{bad:?}: {e}");
        }
    }

    #[test]
    fn bad_urls_and_propagators_are_named() {
        let e = read(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
            ("OTEL_PROPAGATORS", "b3,w3c"),
        ])
        .unwrap_err();
        assert!(e.mentions("OTEL_EXPORTER_OTLP_ENDPOINT"), "{e}");
        assert!(e.mentions("OTEL_PROPAGATORS"), "{e}");
        assert!(read(&[("OTEL_PROPAGATORS", "tracecontext,baggage,b3multi,xot")]).is_ok());
    }

    #[test]
    fn sampler_and_resource() {
        let c = read(&[
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=dev, team=a%20b",
            ),
            ("HOSTNAME", "reviews-v2-abc"),
            ("OTEL_SERVICE_NAME", "reviews.default"),
        ])
        .unwrap();
        assert!(c.parent_based);
        assert_eq!(c.root_sampler, RootSampler::Ratio(0.25));
        assert_eq!(c.service_name, "reviews.default");
        assert_eq!(c.service_version, "v2");
        assert!(c.resource.contains(&("team".into(), "a b".into())));
        assert!(
            c.resource
                .contains(&("k8s.pod.name".into(), "reviews-v2-abc".into()))
        );
    }
}
