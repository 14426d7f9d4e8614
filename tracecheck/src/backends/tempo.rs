//! Grafana Tempo's HTTP API (port 3200): `GET /api/search?tags=service.name=<service>&start=&end=&limit=`
//! lists matching traces (`{"traces": [{"traceID": ...}]}`, start and end in Unix seconds), and
//! `GET /api/traces/{id}` answers one trace as OTLP JSON: `{"batches": [resourceSpans...]}`
//! (`{"resourceSpans": ...}`, or that inside `{"trace": ...}`, from other versions and
//! endpoints). Ids come base64-encoded, as the protobuf JSON mapping writes bytes, or as hex;
//! kinds as `SPAN_KIND_SERVER` or as numbers; 64-bit times as strings or numbers.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{FetchError, Window, get_json, hex_trace_id, number, url};
use crate::span::{Kind, Span};

/// Every span of the traces Tempo finds for `service` in `window`.
pub async fn fetch(
    client: &reqwest::Client,
    base: &str,
    service: &str,
    window: &Window,
) -> Result<Vec<Span>, FetchError> {
    let start_s = window.start_micros() / 1_000_000;
    // Tempo's end is exclusive, in whole seconds: round up so the last second is included.
    let end_s = window.end_micros().div_ceil(1_000_000);
    let search = url(
        base,
        "/api/search",
        &[
            ("tags", format!("service.name={service}")),
            ("start", start_s.to_string()),
            ("end", end_s.to_string()),
            ("limit", window.limit.to_string()),
        ],
    )?;
    let found = get_json(client, "tempo", search).await?;
    let ids = search_ids(&found).map_err(|e| FetchError(format!("tempo: {e}")))?;
    let mut out = Vec::new();
    for id in ids {
        let trace = url(base, &format!("/api/traces/{id:032x}"), &[])?;
        let body = get_json(client, "tempo", trace).await?;
        out.extend(parse(&body).map_err(|e| FetchError(format!("tempo: trace {id:032x}: {e}")))?);
    }
    Ok(out)
}

/// The trace ids of a search answer.
pub fn search_ids(body: &Value) -> Result<Vec<u128>, String> {
    let traces = body
        .get("traces")
        .and_then(Value::as_array)
        .ok_or("the search answer has no \"traces\" list")?;
    traces
        .iter()
        .map(|t| {
            let id = t.get("traceID").and_then(Value::as_str).unwrap_or_default();
            hex_trace_id(id).ok_or_else(|| format!("bad traceID {id:?}"))
        })
        .collect()
}

/// An id of `len` bytes, written as hex or base64.
fn id_bytes(text: &str, len: usize) -> Option<Vec<u8>> {
    if text.len() == 2 * len && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return (0..len)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
            .collect();
    }
    STANDARD.decode(text).ok().filter(|b| b.len() == len)
}

fn trace_id(text: &str) -> Option<u128> {
    id_bytes(text, 16)
        .and_then(|b| <[u8; 16]>::try_from(b).ok())
        .map(u128::from_be_bytes)
}

fn span_id(text: &str) -> Option<u64> {
    id_bytes(text, 8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
}

/// An OTLP JSON `AnyValue` as text.
fn any_value(v: Option<&Value>) -> String {
    let Some(v) = v.and_then(Value::as_object) else {
        return String::new();
    };
    match v.iter().next() {
        Some((_, Value::String(s))) => s.clone(),
        Some((_, other)) => other.to_string(),
        None => String::new(),
    }
}

fn attributes(list: Option<&Value>) -> BTreeMap<String, String> {
    list.and_then(Value::as_array)
        .map(|kvs| {
            kvs.iter()
                .filter_map(|kv| {
                    let key = kv.get("key")?.as_str()?;
                    Some((key.to_owned(), any_value(kv.get("value"))))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn kind(v: Option<&Value>) -> Kind {
    match v {
        Some(Value::String(s)) => match s.as_str() {
            "SPAN_KIND_SERVER" => Kind::Server,
            "SPAN_KIND_CLIENT" => Kind::Client,
            "SPAN_KIND_PRODUCER" => Kind::Producer,
            "SPAN_KIND_CONSUMER" => Kind::Consumer,
            _ => Kind::Internal,
        },
        Some(Value::Number(n)) => match n.as_u64() {
            Some(2) => Kind::Server,
            Some(3) => Kind::Client,
            Some(4) => Kind::Producer,
            Some(5) => Kind::Consumer,
            _ => Kind::Internal,
        },
        _ => Kind::Internal,
    }
}

/// The spans of a `/api/traces/{id}` answer.
pub fn parse(body: &Value) -> Result<Vec<Span>, String> {
    let body = body.get("trace").unwrap_or(body);
    let batches = body
        .get("batches")
        .or_else(|| body.get("resourceSpans"))
        .and_then(Value::as_array)
        .ok_or("the trace has no \"batches\" (or \"resourceSpans\") list")?;
    let mut out = Vec::new();
    for batch in batches {
        let resource = attributes(batch.get("resource").and_then(|r| r.get("attributes")));
        let service = resource
            .get("service.name")
            .cloned()
            .unwrap_or_else(|| "unknown_service".to_owned());
        let scopes = batch
            .get("scopeSpans")
            .or_else(|| batch.get("instrumentationLibrarySpans"))
            .and_then(Value::as_array);
        for scope in scopes.into_iter().flatten() {
            let spans = scope.get("spans").and_then(Value::as_array);
            for s in spans.into_iter().flatten() {
                let field = |name: &str| s.get(name).and_then(Value::as_str).unwrap_or_default();
                let tid = trace_id(field("traceId"))
                    .ok_or_else(|| format!("bad traceId {:?}", field("traceId")))?;
                let sid = span_id(field("spanId"))
                    .ok_or_else(|| format!("bad spanId {:?}", field("spanId")))?;
                let parent_id = match field("parentSpanId") {
                    "" => None,
                    p => Some(span_id(p).ok_or_else(|| format!("bad parentSpanId {p:?}"))?),
                }
                .filter(|p| *p != 0);
                let mut attrs = resource.clone();
                attrs.extend(attributes(s.get("attributes")));
                out.push(Span {
                    trace_id: tid,
                    span_id: sid,
                    parent_id,
                    name: field("name").to_owned(),
                    kind: kind(s.get("kind")),
                    service: service.clone(),
                    start_unix_nanos: number(s.get("startTimeUnixNano")).unwrap_or(0),
                    end_unix_nanos: number(s.get("endTimeUnixNano")).unwrap_or(0),
                    attributes: attrs,
                    source: "tempo",
                    // What the checker judges is the tree; status and events are not read back.
                    status: crate::span::Status::default(),
                    events: Vec::new(),
                });
            }
        }
    }
    Ok(out)
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Server => "SPAN_KIND_SERVER",
        Kind::Client => "SPAN_KIND_CLIENT",
        Kind::Producer => "SPAN_KIND_PRODUCER",
        Kind::Consumer => "SPAN_KIND_CONSUMER",
        Kind::Internal => "SPAN_KIND_INTERNAL",
    }
}

/// Resource attributes: what the services put on their resource (kept apart from the span's).
const RESOURCE_KEYS: [&str; 3] = ["service.name", "service.version", "service.instance.id"];

/// `spans` (of one trace) as Tempo's `/api/traces/{id}` answers them: one batch per service,
/// base64 ids, times as strings.
pub fn to_json(spans: &[Span]) -> Value {
    let mut services: Vec<&str> = spans.iter().map(|s| s.service.as_str()).collect();
    services.sort_unstable();
    services.dedup();
    let batches: Vec<Value> = services
        .iter()
        .map(|service| {
            let list: Vec<Value> = spans
                .iter()
                .filter(|s| s.service == *service)
                .map(|s| {
                    let attributes: Vec<Value> = s
                        .attributes
                        .iter()
                        .filter(|(k, _)| !RESOURCE_KEYS.contains(&k.as_str()))
                        .map(|(k, v)| json!({"key": k, "value": {"stringValue": v}}))
                        .collect();
                    let mut v = json!({
                        "traceId": STANDARD.encode(s.trace_id.to_be_bytes()),
                        "spanId": STANDARD.encode(s.span_id.to_be_bytes()),
                        "name": s.name,
                        "kind": kind_name(s.kind),
                        "startTimeUnixNano": s.start_unix_nanos.to_string(),
                        "endTimeUnixNano": s.end_unix_nanos.to_string(),
                        "attributes": attributes,
                        "status": {},
                    });
                    if let Some(p) = s.parent_id {
                        v["parentSpanId"] = json!(STANDARD.encode(p.to_be_bytes()));
                    }
                    v
                })
                .collect();
            let mut resource =
                vec![json!({"key": "service.name", "value": {"stringValue": service}})];
            if let Some(version) = spans
                .iter()
                .find(|s| s.service == *service)
                .and_then(|s| s.attribute("service.version"))
            {
                resource.push(json!({"key": "service.version", "value": {"stringValue": version}}));
            }
            json!({
                "resource": {"attributes": resource},
                "scopeSpans": [{"scope": {"name": "bookinfo"}, "spans": list}],
            })
        })
        .collect();
    json!({ "batches": batches })
}

/// A search answer listing `traces` (trace id and its spans), as Tempo writes it: hex ids
/// without leading zeros, the root's service and name, start in nanoseconds.
pub fn search_json(traces: &[(u128, Vec<Span>)]) -> Value {
    let list: Vec<Value> = traces
        .iter()
        .map(|(id, spans)| {
            let root = spans.iter().find(|s| s.parent_id.is_none());
            let start = spans.iter().map(|s| s.start_unix_nanos).min().unwrap_or(0);
            let end = spans.iter().map(|s| s.end_unix_nanos).max().unwrap_or(0);
            json!({
                "traceID": format!("{id:x}"),
                "rootServiceName": root.map_or("<root span not yet received>", |s| s.service.as_str()),
                "rootTraceName": root.map_or("", |s| s.name.as_str()),
                "startTimeUnixNano": start.to_string(),
                "durationMs": end.saturating_sub(start) / 1_000_000,
            })
        })
        .collect();
    json!({"traces": list, "metrics": {"inspectedTraces": list.len()}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tempo_trace_with_base64_ids_becomes_spans() {
        // Trace id 0x0af7651916cd43dd8448eb211c80319c, span b7ad6b7169203331, parent 00f067aa0ba902b7.
        let body = json!({"batches": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "reviews"}}]},
            "scopeSpans": [{"scope": {"name": "x"}, "spans": [{
                "traceId": "CvdlGRbNQ92ESOshHIAxnA==", "spanId": "t61rcWkgMzE=", "parentSpanId": "APBnqgupArc=",
                "name": "GET /reviews/{product_id}", "kind": "SPAN_KIND_SERVER",
                "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000002000000",
                "attributes": [{"key": "http.response.status_code", "value": {"intValue": "200"}}]
            }]}]
        }]});
        let spans = parse(&body).unwrap();
        assert_eq!(spans.len(), 1);
        let s = &spans[0];
        assert_eq!(s.trace_id, 0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c);
        assert_eq!(s.span_id, 0xb7ad_6b71_6920_3331);
        assert_eq!(s.parent_id, Some(0x00f0_67aa_0ba9_02b7));
        assert_eq!(s.kind, Kind::Server);
        assert_eq!(s.service, "reviews");
        assert_eq!(s.end_unix_nanos - s.start_unix_nanos, 2_000_000);
        assert_eq!(s.attribute("http.response.status_code"), Some("200"));
    }

    #[test]
    fn hex_ids_numeric_kinds_and_resource_spans_are_read_too() {
        let body = json!({"trace": {"resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "details"}}]},
            "instrumentationLibrarySpans": [{"spans": [{
                "traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331",
                "name": "x", "kind": 3, "startTimeUnixNano": 5, "endTimeUnixNano": 9
            }]}]
        }]}});
        let spans = parse(&body).unwrap();
        assert_eq!(spans[0].span_id, 0xb7ad_6b71_6920_3331);
        assert_eq!(spans[0].parent_id, None);
        assert_eq!(spans[0].kind, Kind::Client);
        assert_eq!(spans[0].end_unix_nanos, 9);
    }

    #[test]
    fn written_spans_read_back_the_same_and_search_ids_keep_their_zeros() {
        let body = json!({"batches": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "details"}}]},
            "scopeSpans": [{"spans": [{"traceId": "0000000000000000000000000000abcd", "spanId": "0000000000000001",
                "name": "x", "kind": "SPAN_KIND_SERVER", "startTimeUnixNano": "5", "endTimeUnixNano": "9"}]}]
        }]});
        let spans = parse(&body).unwrap();
        assert_eq!(parse(&to_json(&spans)).unwrap(), spans);
        let search = search_json(&[(0xabcd, spans)]);
        assert_eq!(search["traces"][0]["traceID"], "abcd");
        assert_eq!(search_ids(&search).unwrap(), vec![0xabcd]);
    }
}
