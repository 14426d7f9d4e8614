//! Trace-context propagation: reading the caller's context from request headers and writing
//! ours onto outbound requests, in every trace format BookInfo meets.
//!
//! Why this exists instead of the OpenTelemetry propagators: the Rust B3 propagator turns a
//! deferred decision into "deny", drops debug and writes `b3: 0` from an empty context; the
//! composite propagator lets the *last* valid format win; and nothing reads `x-ot-span-context`,
//! `ot-tracer-*` or, for the OpenTelemetry version in use, `uber-trace-id`
//! (docs/tracing-design.md, “Why our own propagators”).
//! This module is plain data and header code with no OpenTelemetry dependency; the telemetry
//! layer maps [`TraceContext`] onto OpenTelemetry's span context.
//!
//! The per-request rules of docs/tracing-design.md (“Precedence”, “The mirror rule”) live here
//! in one place:
//!
//! * [`Propagation`]: which formats are read, in what precedence, and which are written when no
//!   format arrived (parsed from an `OTEL_PROPAGATORS`-style list).
//! * [`extract`]: strict parsing of every enabled format; the first valid one in precedence wins;
//!   malformed formats are reported and treated as absent; the formats that did arrive form the
//!   *mirror set* that is written downstream, so the app never emits a format the mesh will not
//!   rewrite.
//! * [`strip_owned`]: removes every trace header this module owns from an outbound header map,
//!   so nothing stale survives; pass-through-only formats and baggage headers stay.
//! * [`inject`]: writes the client span's context in the chosen formats.
//!
//! One private module per format (B3 single and multi, W3C trace context, W3C baggage,
//! `x-ot-span-context`, `ot-tracer-*`, `uber-trace-id`) documents that format's rules and the
//! choices made where the specs leave room (letter case, width, decisions it cannot express).

mod b3;
mod baggage;
mod context;
mod jaeger;
mod ottrace;
mod tracestate;
mod w3c;
mod wire;
mod xot;

use std::fmt;

use http::HeaderMap;
use http::header::HeaderName;

/// The name (or name prefix) of every trace header this module reads or owns, each written once:
/// the format modules build their `HeaderName`s from these, and [`role`] matches on them.
mod names {
    pub(super) const B3: &str = "b3";
    pub(super) const B3_TRACE_ID: &str = "x-b3-traceid";
    pub(super) const B3_SPAN_ID: &str = "x-b3-spanid";
    pub(super) const B3_PARENT_SPAN_ID: &str = "x-b3-parentspanid";
    pub(super) const B3_SAMPLED: &str = "x-b3-sampled";
    pub(super) const B3_FLAGS: &str = "x-b3-flags";
    pub(super) const TRACEPARENT: &str = "traceparent";
    pub(super) const TRACESTATE: &str = "tracestate";
    pub(super) const X_OT_SPAN_CONTEXT: &str = "x-ot-span-context";
    pub(super) const OT_TRACE_ID: &str = "ot-tracer-traceid";
    pub(super) const OT_SPAN_ID: &str = "ot-tracer-spanid";
    pub(super) const OT_SAMPLED: &str = "ot-tracer-sampled";
    pub(super) const UBER_TRACE_ID: &str = "uber-trace-id";
    pub(super) const BAGGAGE: &str = "baggage";
    /// Prefixes of owned names: variants beyond the ones above are owned too.
    pub(super) const B3_PREFIX: &str = "x-b3-";
    pub(super) const OT_PREFIX: &str = "ot-tracer-";

    /// How many names above (prefixes aside) a request's headers are sorted into.
    pub(super) const SLOTS: usize = 14;
    pub(super) const BAGGAGE_SLOT: usize = 13;

    /// The slot of an owned (or read) name, in the order of [`ROLES`].
    pub(super) fn slot(name: &str) -> Option<usize> {
        Some(match name {
            B3 => 0,
            B3_TRACE_ID => 1,
            B3_SPAN_ID => 2,
            B3_PARENT_SPAN_ID => 3,
            B3_SAMPLED => 4,
            B3_FLAGS => 5,
            TRACEPARENT => 6,
            TRACESTATE => 7,
            X_OT_SPAN_CONTEXT => 8,
            OT_TRACE_ID => 9,
            OT_SPAN_ID => 10,
            OT_SAMPLED => 11,
            UBER_TRACE_ID => 12,
            BAGGAGE => BAGGAGE_SLOT,
            _ => return None,
        })
    }

    /// What each slot's name is to the module.
    pub(super) const ROLES: [Role; SLOTS] = [
        Role::Read(Format::B3Single),
        Role::Read(Format::B3Multi),
        Role::Read(Format::B3Multi),
        Role::Read(Format::B3Multi),
        Role::Read(Format::B3Multi),
        Role::Read(Format::B3Multi),
        Role::Read(Format::TraceContext),
        Role::Owned,
        Role::Read(Format::OtSpanContext),
        Role::Read(Format::OtTrace),
        Role::Read(Format::OtTrace),
        Role::Read(Format::OtTrace),
        Role::Read(Format::Jaeger),
        Role::Baggage,
    ];

    use super::{Format, Role};
}

pub use baggage::{Baggage, BaggageMember};
pub use context::{Sampling, SpanId, TraceContext, TraceId, hex_digits};
pub use tracestate::TraceState;

/// A trace-context wire format this module reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// The single `b3` header.
    B3Single,
    /// The `x-b3-*` headers.
    B3Multi,
    /// W3C `traceparent` + `tracestate`.
    TraceContext,
    /// `x-ot-span-context` (Envoy's Lightstep driver).
    OtSpanContext,
    /// `ot-tracer-*`.
    OtTrace,
    /// `uber-trace-id`.
    Jaeger,
}

impl Format {
    /// Every format, in a fixed order.
    pub const ALL: [Format; 6] = [
        Format::B3Single,
        Format::B3Multi,
        Format::TraceContext,
        Format::OtSpanContext,
        Format::OtTrace,
        Format::Jaeger,
    ];

    /// The name used in `OTEL_PROPAGATORS` (`xot` is ours; OpenTelemetry has no name for it).
    pub fn name(self) -> &'static str {
        match self {
            Format::B3Single => "b3",
            Format::B3Multi => "b3multi",
            Format::TraceContext => "tracecontext",
            Format::OtSpanContext => "xot",
            Format::OtTrace => "ottrace",
            Format::Jaeger => "jaeger",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of [`Format`]s (small and `Copy`, so it can live in per-request state).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FormatSet(u8);

impl FormatSet {
    /// The empty set.
    pub const EMPTY: FormatSet = FormatSet(0);

    /// Adds `format`.
    pub fn insert(&mut self, format: Format) {
        self.0 |= format.bit();
    }

    /// Whether `format` is in the set.
    pub fn contains(self, format: Format) -> bool {
        self.0 & format.bit() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The members in [`Format::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Format> {
        Format::ALL.into_iter().filter(move |f| self.contains(*f))
    }
}

impl FromIterator<Format> for FormatSet {
    fn from_iter<I: IntoIterator<Item = Format>>(iter: I) -> FormatSet {
        let mut set = FormatSet::EMPTY;
        for format in iter {
            set.insert(format);
        }
        set
    }
}

impl fmt::Debug for FormatSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.iter().map(Format::name))
            .finish()
    }
}

/// Which formats are read (in precedence order) and written when none arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Propagation {
    read: Vec<Format>,
    inject_default: FormatSet,
    baggage: bool,
}

impl Default for Propagation {
    /// B3 first, because Istio's default (Zipkin) provider rewrites only B3 and a `traceparent`
    /// passes its sidecars stale; then W3C for the OpenTelemetry provider, then the legacy
    /// formats. When nothing arrived, W3C and B3 multi are written: the two formats every
    /// current Istio provider reads. W3C baggage is read.
    fn default() -> Propagation {
        Propagation {
            read: vec![
                Format::B3Single,
                Format::B3Multi,
                Format::TraceContext,
                Format::OtSpanContext,
                Format::OtTrace,
                Format::Jaeger,
            ],
            inject_default: [Format::TraceContext, Format::B3Multi]
                .into_iter()
                .collect(),
            baggage: true,
        }
    }
}

/// The names [`Propagation::parse`] accepts, for error messages.
pub const PROPAGATOR_NAMES: &str = "tracecontext, baggage, b3, b3multi, jaeger, ottrace, xot, none";

impl Propagation {
    /// Parses an `OTEL_PROPAGATORS`-style list: comma-separated names, first listed wins on
    /// extract, all listed trace formats are written when nothing arrived. `b3` and `b3multi`
    /// both read both B3 forms (single first, as the B3 spec requires) and differ only in what
    /// they write. `none` selects nothing; blank entries and repeats are ignored; an empty list
    /// gives the [`Default`]. Unknown names are an error naming the first one.
    pub fn parse(list: &str) -> Result<Propagation, UnknownPropagator> {
        let names: Vec<&str> = list
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect();
        if names.is_empty() {
            return Ok(Propagation::default());
        }
        let mut propagation = Propagation {
            read: Vec::new(),
            inject_default: FormatSet::EMPTY,
            baggage: false,
        };
        for name in names {
            let formats: &[Format] = match name.to_ascii_lowercase().as_str() {
                "none" => &[],
                "baggage" => {
                    propagation.baggage = true;
                    &[]
                }
                "tracecontext" => &[Format::TraceContext],
                "b3" => &[Format::B3Single],
                "b3multi" => &[Format::B3Multi],
                "jaeger" => &[Format::Jaeger],
                "ottrace" => &[Format::OtTrace],
                "xot" => &[Format::OtSpanContext],
                _ => {
                    return Err(UnknownPropagator {
                        name: name.to_owned(),
                    });
                }
            };
            for &format in formats {
                propagation.inject_default.insert(format);
                propagation.push_read(format);
            }
        }
        Ok(propagation)
    }

    fn push_read(&mut self, format: Format) {
        let reads = match format {
            Format::B3Single | Format::B3Multi => vec![Format::B3Single, Format::B3Multi],
            other => vec![other],
        };
        for format in reads {
            if !self.read.contains(&format) {
                self.read.push(format);
            }
        }
    }

    /// The formats read, first = highest precedence.
    pub fn read_order(&self) -> &[Format] {
        &self.read
    }

    /// The formats written when no format arrived.
    pub fn inject_default(&self) -> FormatSet {
        self.inject_default
    }

    /// Whether W3C `baggage` is read.
    pub fn baggage(&self) -> bool {
        self.baggage
    }

    /// The formats to write downstream: the mirror set if any format arrived, else the defaults.
    pub fn inject_set(&self, arrived: FormatSet) -> FormatSet {
        if arrived.is_empty() {
            self.inject_default
        } else {
            arrived
        }
    }
}

/// An `OTEL_PROPAGATORS` entry that names no known propagator.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown propagator {name:?}; expected a comma-separated list of {PROPAGATOR_NAMES}")]
pub struct UnknownPropagator {
    /// The entry as written.
    pub name: String,
}

/// What one format yielded: a full context, or (B3 only) a sampling decision without ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Candidate {
    Context(TraceContext),
    Decision(Sampling),
}

/// Everything [`extract`] learned from a request's headers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extracted {
    /// The caller's context from the highest-precedence valid format; `None` starts a new trace.
    pub context: Option<TraceContext>,
    /// A decision that arrived without ids (`b3: 0|1|d`, a lone `x-b3-sampled`/`x-b3-flags`).
    /// It is what a new root should honour when `context` is `None`.
    pub decision: Option<Sampling>,
    /// Formats present and valid: the mirror set to write downstream.
    pub arrived: FormatSet,
    /// Formats present but invalid; treated as absent and never forwarded.
    pub malformed: FormatSet,
    /// W3C baggage, when enabled and present: its valid members, in order, within the W3C
    /// limits (64 members, 8192 bytes); `None` when no member is valid.
    pub baggage: Option<Baggage>,
    /// Whether the `baggage` header had members that were dropped as invalid (or was not text
    /// at all); the valid ones are still in `baggage`.
    pub baggage_malformed: bool,
}

/// Reads every enabled format from `headers`; see [`Extracted`].
///
/// The context is the first valid one in precedence. What the losing formats carry besides ids
/// is not thrown away with them:
///
/// * `tracestate` entries go with the winning context when its trace id is the one the
///   incoming `traceparent` carried (say, B3 and W3C forwarded together with one trace id):
///   the `traceparent` written downstream then continues that trace, and W3C wants its vendor
///   state kept. When another trace won, they are dropped, because they describe a trace that
///   is not continued.
/// * Baggage items inside a valid `x-ot-span-context` stay with the context whichever format
///   won, so re-encoding that header does not lose them.
///
/// A valid `b3` header hides the `x-b3-*` headers for reading (the B3 rule): the context and
/// decision come from `b3` alone. The `x-b3-*` headers are still checked, and when valid they
/// join the mirror set, so a caller that sent both forms gets both back: B3 readers that know
/// only the multi-header form (upstream's Ruby details and Java reviews) keep the trace.
pub fn extract(headers: &HeaderMap, propagation: &Propagation) -> Extracted {
    let mut out = Extracted::default();
    let seen = Seen::scan(headers);
    let mut w3c: Option<(TraceId, TraceState)> = None;
    let mut xot_baggage = None;
    for &format in propagation.read_order() {
        if !seen.present.contains(format) {
            continue;
        }
        let hidden = format == Format::B3Multi && out.arrived.contains(Format::B3Single);
        match extract_format(format, &seen) {
            Ok(None) => {}
            Err(wire::Malformed) => out.malformed.insert(format),
            Ok(Some(_)) if hidden => out.arrived.insert(format),
            Ok(Some(candidate)) => {
                out.arrived.insert(format);
                match candidate {
                    Candidate::Context(mut ctx) => {
                        match format {
                            Format::TraceContext => {
                                w3c = Some((ctx.trace_id, std::mem::take(&mut ctx.trace_state)));
                            }
                            Format::OtSpanContext => {
                                xot_baggage = Some(std::mem::take(&mut ctx.baggage));
                            }
                            _ => {}
                        }
                        out.context.get_or_insert(ctx);
                    }
                    Candidate::Decision(decision) => {
                        out.decision.get_or_insert(decision);
                    }
                }
            }
        }
    }
    if let Some(ctx) = out.context.as_mut() {
        if let Some((trace_id, state)) = w3c
            && trace_id.value() == ctx.trace_id.value()
        {
            ctx.trace_state = state;
        }
        if let Some(baggage) = xot_baggage {
            ctx.baggage = baggage;
        }
    }
    if propagation.baggage() && seen.has_baggage() {
        let (found, dropped) = baggage::extract(&seen);
        out.baggage = found;
        out.baggage_malformed = dropped;
    }
    out
}

/// A request's owned trace headers, picked out of its header map in one pass: which formats
/// have a header present, and each owned header's value. The formats then read these slots
/// instead of looking every name up in the map, which hashes the name and probes the table:
/// with the lookups, `extract` cost a participating leaf service 4,323 instructions per request;
/// with this, 3,463 (callgrind; docs/performance.md).
pub(crate) struct Seen<'h> {
    headers: &'h HeaderMap,
    slots: [Slot<'h>; names::SLOTS],
    /// The formats with at least one of their headers present: absent formats (most of them,
    /// on most requests) are not read at all. A format none of whose headers is present
    /// extracts as absent, so skipping it changes nothing.
    present: FormatSet,
}

/// What a request holds of one owned header.
#[derive(Clone, Copy)]
enum Slot<'h> {
    Absent,
    One(&'h http::HeaderValue),
    /// More than one value: read from the map itself (rare; malformed for most formats).
    Repeated,
}

impl<'h> Seen<'h> {
    fn scan(headers: &'h HeaderMap) -> Seen<'h> {
        let mut seen = Seen {
            headers,
            slots: [Slot::Absent; names::SLOTS],
            present: FormatSet::EMPTY,
        };
        for (name, value) in headers {
            let Some(slot) = names::slot(name.as_str()) else {
                continue;
            };
            if let Role::Read(format) = names::ROLES[slot] {
                seen.present.insert(format);
            }
            seen.slots[slot] = match seen.slots[slot] {
                Slot::Absent => Slot::One(value),
                Slot::One(_) | Slot::Repeated => Slot::Repeated,
            };
        }
        seen
    }

    fn slot(&self, name: &HeaderName) -> Option<Slot<'h>> {
        names::slot(name.as_str()).map(|slot| self.slots[slot])
    }

    fn has_baggage(&self) -> bool {
        !matches!(self.slots[names::BAGGAGE_SLOT], Slot::Absent)
    }
}

impl wire::Source for Seen<'_> {
    fn single(&self, name: &HeaderName) -> wire::Found<&str> {
        match self.slot(name) {
            Some(Slot::Absent) => Ok(None),
            Some(Slot::One(value)) => value.to_str().map(Some).map_err(|_| wire::Malformed),
            Some(Slot::Repeated) => Err(wire::Malformed),
            None => self.headers.single(name),
        }
    }

    fn joined(&self, name: &HeaderName) -> wire::Found<String> {
        match self.slot(name) {
            Some(Slot::Absent) => Ok(None),
            Some(Slot::One(value)) => value
                .to_str()
                .map(|text| Some(text.to_owned()))
                .map_err(|_| wire::Malformed),
            Some(Slot::Repeated) | None => self.headers.joined(name),
        }
    }
}

/// What a (lower-case) header name is to this module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// An owned header whose presence means `Format` may be in the request.
    Read(Format),
    /// Owned, but never a reason to read a format (`tracestate` without `traceparent`, B3 and
    /// `ot-tracer-*` variants no format defines).
    Owned,
    /// W3C `baggage`: read, kept on outbound requests.
    Baggage,
    /// Anything else.
    Other,
}

/// Classifies a header name: one `match` on its text ([`names::slot`]), since this runs for
/// every header of every request, where comparing it with each owned [`HeaderName`] in turn was
/// a measurable cost.
fn role(name: &str) -> Role {
    match names::slot(name) {
        Some(slot) => names::ROLES[slot],
        None if name.starts_with(names::B3_PREFIX) || name.starts_with(names::OT_PREFIX) => {
            Role::Owned
        }
        None => Role::Other,
    }
}

fn extract_format(format: Format, headers: &Seen<'_>) -> wire::Found<Candidate> {
    let context = |found: wire::Found<TraceContext>| found.map(|c| c.map(Candidate::Context));
    match format {
        Format::B3Single => b3::extract_single(headers),
        Format::B3Multi => b3::extract_multi(headers),
        Format::TraceContext => context(w3c::extract(headers)),
        Format::OtSpanContext => context(xot::extract(headers)),
        Format::OtTrace => context(ottrace::extract(headers)),
        Format::Jaeger => context(jaeger::extract(headers)),
    }
}

/// Replaces every owned trace header in `headers` with `ctx` (the client span's context) written
/// in each of `formats`: nothing stale survives, whatever formats the map held before.
pub fn inject(ctx: &TraceContext, formats: FormatSet, headers: &mut HeaderMap) {
    strip_owned(headers);
    let values = &mut wire::Values::new();
    for format in formats.iter() {
        match format {
            Format::B3Single => b3::inject_single(ctx, headers, values),
            Format::B3Multi => b3::inject_multi(ctx, headers, values),
            Format::TraceContext => w3c::inject(ctx, headers, values),
            Format::OtSpanContext => xot::inject(ctx, headers, values),
            Format::OtTrace => ottrace::inject(ctx, headers, values),
            Format::Jaeger => jaeger::inject(ctx, headers, values),
        }
    }
}

/// Whether a (lower-case) header name is a trace header this module owns.
pub fn is_owned(name: &str) -> bool {
    matches!(role(name), Role::Read(_) | Role::Owned)
}

/// Removes every owned trace header. Pass-through-only formats (Datadog, SkyWalking, GCP,
/// X-Ray, gRPC binary) and baggage headers (`baggage`, `ot-baggage-*`, `uberctx-*`) stay.
pub fn strip_owned(headers: &mut HeaderMap) {
    // A scan of the (few) names present: cheaper than looking up every owned name, and
    // allocation-free when, as usual, there is nothing to remove.
    let owned: Vec<HeaderName> = headers
        .keys()
        .filter(|name| is_owned(name.as_str()))
        .cloned()
        .collect();
    for name in owned {
        headers.remove(name);
    }
}

#[cfg(test)]
mod role_tests {
    use super::wire::Source;
    use super::*;

    /// Every owned name, in slot order.
    const ALL_NAMES: [&str; names::SLOTS] = [
        names::B3,
        names::B3_TRACE_ID,
        names::B3_SPAN_ID,
        names::B3_PARENT_SPAN_ID,
        names::B3_SAMPLED,
        names::B3_FLAGS,
        names::TRACEPARENT,
        names::TRACESTATE,
        names::X_OT_SPAN_CONTEXT,
        names::OT_TRACE_ID,
        names::OT_SPAN_ID,
        names::OT_SAMPLED,
        names::UBER_TRACE_ID,
        names::BAGGAGE,
    ];

    /// The one-pass view answers every lookup as the header map itself does: absent, one value,
    /// repeated values, a value that is not text, and names it does not keep.
    #[test]
    fn seen_reads_like_the_map() {
        let mut h = HeaderMap::new();
        h.append("traceparent", http::HeaderValue::from_static("a"));
        h.append("tracestate", http::HeaderValue::from_static("k=1"));
        h.append("tracestate", http::HeaderValue::from_static("l=2"));
        h.append(
            "x-b3-sampled",
            http::HeaderValue::from_bytes(b"\xff").unwrap(),
        );
        h.append("baggage", http::HeaderValue::from_static("u=1"));
        h.append("x-b3-other", http::HeaderValue::from_static("o"));
        h.append("x-request-id", http::HeaderValue::from_static("r"));
        let seen = Seen::scan(&h);
        let names = ALL_NAMES
            .iter()
            .chain(&["x-b3-other", "x-request-id", "absent"]);
        for name in names {
            let name = HeaderName::from_static(name);
            assert_eq!(seen.single(&name), h.single(&name), "{name}");
            assert_eq!(seen.joined(&name), h.joined(&name), "{name}");
        }
        let present: FormatSet = [Format::TraceContext, Format::B3Multi]
            .into_iter()
            .collect();
        assert_eq!(seen.present, present);
        assert!(seen.has_baggage());
        assert!(!Seen::scan(&HeaderMap::new()).has_baggage());
    }

    #[test]
    fn roles_of_header_names() {
        let read = [
            ("b3", Format::B3Single),
            ("x-b3-traceid", Format::B3Multi),
            ("x-b3-flags", Format::B3Multi),
            ("traceparent", Format::TraceContext),
            ("x-ot-span-context", Format::OtSpanContext),
            ("ot-tracer-sampled", Format::OtTrace),
            ("uber-trace-id", Format::Jaeger),
        ];
        for (name, format) in read {
            assert_eq!(role(name), Role::Read(format), "{name}");
        }
        for owned in ["tracestate", "x-b3-other", "ot-tracer-other"] {
            assert_eq!(role(owned), Role::Owned, "{owned}");
        }
        assert_eq!(role("baggage"), Role::Baggage);
        // Every owned name has its own slot (the roles above are read through them).
        for (slot, name) in ALL_NAMES.iter().enumerate() {
            assert_eq!(names::slot(name), Some(slot), "{name}");
        }
        for other in [
            "x-request-id",
            "ot-baggage-k",
            "uberctx-k",
            "x-datadog-trace-id",
            "b3x",
        ] {
            assert_eq!(role(other), Role::Other, "{other}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_precedence_and_inject_set() {
        let p = Propagation::default();
        assert_eq!(
            p.read_order(),
            [
                Format::B3Single,
                Format::B3Multi,
                Format::TraceContext,
                Format::OtSpanContext,
                Format::OtTrace,
                Format::Jaeger
            ]
        );
        let defaults: Vec<Format> = p.inject_default().iter().collect();
        assert_eq!(defaults, [Format::B3Multi, Format::TraceContext]);
        assert!(p.baggage());
        assert_eq!(Propagation::parse(" , ").unwrap(), p);
    }

    #[test]
    fn parse_keeps_order_and_expands_b3() {
        let p = Propagation::parse("tracecontext, baggage,B3MULTI,jaeger,tracecontext").unwrap();
        assert_eq!(
            p.read_order(),
            [
                Format::TraceContext,
                Format::B3Single,
                Format::B3Multi,
                Format::Jaeger
            ]
        );
        let inject: Vec<Format> = p.inject_default().iter().collect();
        assert_eq!(
            inject,
            [Format::B3Multi, Format::TraceContext, Format::Jaeger]
        );
        assert!(p.baggage());

        let none = Propagation::parse("none").unwrap();
        assert!(none.read_order().is_empty() && none.inject_default().is_empty());
        assert!(!none.baggage());
    }

    #[test]
    fn parse_names_the_unknown_entry() {
        let err = Propagation::parse("tracecontext,zipkin,b3").unwrap_err();
        assert_eq!(err.name, "zipkin");
        let message = err.to_string();
        assert!(message.contains("\"zipkin\""), "{message}");
        assert!(message.contains("b3multi"), "{message}");
    }

    #[test]
    fn inject_set_mirrors_or_defaults() {
        let p = Propagation::default();
        assert_eq!(p.inject_set(FormatSet::EMPTY), p.inject_default());
        let arrived: FormatSet = [Format::Jaeger].into_iter().collect();
        assert_eq!(p.inject_set(arrived), arrived);
    }

    #[test]
    fn format_set_debug_lists_names() {
        let set: FormatSet = [Format::OtSpanContext, Format::B3Single]
            .into_iter()
            .collect();
        assert_eq!(format!("{set:?}"), r#"{"b3", "xot"}"#);
    }
}
