//! Collect spans the way a tracing backend does, and check that one request produced one
//! complete trace tree.
//!
//! * [`collector::Collector`] receives spans over OTLP/HTTP (protobuf, `POST /v1/traces`) and
//!   the Zipkin v2 JSON API (`POST /api/v2/spans`), the two ways BookInfo's services and Istio's
//!   sidecars report them.
//! * [`mesh`] emulates Istio sidecars and an ingress gateway (Zipkin/B3 or OpenTelemetry/W3C
//!   flavour) that report their own spans, for trees "with a mesh".
//! * [`tree`] checks the "complete trace tree" rules (one trace id, exactly one root, no orphan,
//!   no duplicate span id, children inside their parent) and renders the tree as indented text
//!   so a test can compare it with the tree it expects.
//! * [`watch`] reports each trace once it has gone quiet, checked and drawn (`bookinfo --traces`).
//! * [`query`] serves a collector's traces, checked and rendered, as JSON over HTTP (the
//!   `bookinfo-tracecheck` binary, the trace backend of the compose CI test).

pub mod backends;
pub mod collector;
pub mod diagnose;
pub mod mesh;
pub mod query;
pub mod span;
pub mod tree;
pub mod watch;

pub use collector::Collector;
pub use span::{Kind, Span, SpanEvent, Status};
pub use tree::{Violation, check, render, render_detailed};
