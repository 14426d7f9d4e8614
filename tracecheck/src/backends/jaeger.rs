//! Jaeger's query API, as served on port 16686 by Jaeger v1 (`jaeger-query`, all-in-one) and
//! Jaeger v2: `GET /api/traces?service=&start=&end=&limit=` answers
//! `{"data": [trace, ...]}`, each trace `{"traceID", "spans": [...], "processes": {...}}`.
//! A span names its process (`processID` → `processes[id].serviceName`), its parent by a
//! `CHILD_OF` reference, its times in microseconds, and its kind in the `span.kind` tag.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{FetchError, Window, get_json, hex_span_id, hex_trace_id, number, scalar, url};
use crate::span::{Kind, Span};

/// Every span of the traces Jaeger finds for `service` in `window`.
pub async fn fetch(
    client: &reqwest::Client,
    base: &str,
    service: &str,
    window: &Window,
) -> Result<Vec<Span>, FetchError> {
    let url = url(
        base,
        "/api/traces",
        &[
            ("service", service.to_owned()),
            ("start", window.start_micros().to_string()),
            ("end", window.end_micros().to_string()),
            ("limit", window.limit.to_string()),
        ],
    )?;
    let body = get_json(client, "jaeger", url).await?;
    parse(&body).map_err(|e| FetchError(format!("jaeger: {e}")))
}

fn kind(tag: Option<&str>) -> Kind {
    match tag {
        Some("server") => Kind::Server,
        Some("client") => Kind::Client,
        Some("producer") => Kind::Producer,
        Some("consumer") => Kind::Consumer,
        _ => Kind::Internal,
    }
}

fn tags(list: Option<&Value>) -> BTreeMap<String, String> {
    list.and_then(Value::as_array)
        .map(|tags| {
            tags.iter()
                .filter_map(|t| {
                    let key = t.get("key")?.as_str()?;
                    Some((
                        key.to_owned(),
                        t.get("value").map(scalar).unwrap_or_default(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The spans of a `/api/traces` (or `/api/traces/{id}`) answer.
pub fn parse(body: &Value) -> Result<Vec<Span>, String> {
    let data = body
        .get("data")
        .and_then(Value::as_array)
        .ok_or("the answer has no \"data\" list")?;
    let mut out = Vec::new();
    for trace in data {
        let empty = Map::new();
        let processes = trace
            .get("processes")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let Some(spans) = trace.get("spans").and_then(Value::as_array) else {
            continue;
        };
        for s in spans {
            out.push(span(s, processes)?);
        }
    }
    Ok(out)
}

fn span(s: &Value, processes: &Map<String, Value>) -> Result<Span, String> {
    let field = |name: &str| s.get(name).and_then(Value::as_str).unwrap_or_default();
    let trace_id = hex_trace_id(field("traceID"))
        .ok_or_else(|| format!("bad traceID {:?}", field("traceID")))?;
    let span_id =
        hex_span_id(field("spanID")).ok_or_else(|| format!("bad spanID {:?}", field("spanID")))?;
    let references = s.get("references").and_then(Value::as_array);
    // The parent is the CHILD_OF reference within the same trace; FOLLOWS_FROM and references
    // into other traces are links, not parents.
    let parent_id = references
        .into_iter()
        .flatten()
        .filter(|r| r.get("refType").and_then(Value::as_str) == Some("CHILD_OF"))
        .filter(|r| {
            r.get("traceID")
                .and_then(Value::as_str)
                .is_none_or(|t| hex_trace_id(t) == Some(trace_id))
        })
        .find_map(|r| {
            r.get("spanID")
                .and_then(Value::as_str)
                .and_then(hex_span_id)
        })
        .filter(|p| *p != 0);
    let process = s
        .get("process")
        .or_else(|| processes.get(field("processID")));
    let service = process
        .and_then(|p| p.get("serviceName"))
        .and_then(Value::as_str)
        .unwrap_or("unknown_service")
        .to_owned();
    let mut attributes = tags(process.and_then(|p| p.get("tags")));
    attributes.extend(tags(s.get("tags")));
    let start = number(s.get("startTime")).unwrap_or(0);
    let duration = number(s.get("duration")).unwrap_or(0);
    Ok(Span {
        trace_id,
        span_id,
        parent_id,
        name: field("operationName").to_owned(),
        kind: kind(attributes.get("span.kind").map(String::as_str)),
        service,
        start_unix_nanos: start.saturating_mul(1000),
        end_unix_nanos: start.saturating_add(duration).saturating_mul(1000),
        attributes,
        source: "jaeger",
        // What the checker judges is the tree; status and events are not read back.
        status: crate::span::Status::default(),
        events: Vec::new(),
    })
}

fn kind_tag(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::Server => Some("server"),
        Kind::Client => Some("client"),
        Kind::Producer => Some("producer"),
        Kind::Consumer => Some("consumer"),
        Kind::Internal => None,
    }
}

/// `spans` as Jaeger's `/api/traces` answers them: one entry per trace id, one process per
/// service (`p1`, `p2`, … in order of appearance).
pub fn to_json(spans: &[Span]) -> Value {
    let mut data = Vec::new();
    for (trace_id, spans) in crate::collector::group(spans.to_vec()) {
        let mut processes: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for s in &spans {
            let index = match processes.iter().position(|p| *p == s.service) {
                Some(i) => i,
                None => {
                    processes.push(s.service.clone());
                    processes.len() - 1
                }
            };
            let mut tags: Vec<Value> = s
                .attributes
                .iter()
                .filter(|(k, _)| k.as_str() != "service.name" && k.as_str() != "span.kind")
                .map(|(k, v)| json!({"key": k, "type": "string", "value": v}))
                .collect();
            if let Some(kind) = kind_tag(s.kind) {
                tags.push(json!({"key": "span.kind", "type": "string", "value": kind}));
            }
            let references: Vec<Value> = s
                .parent_id
                .map(|p| {
                    json!({"refType": "CHILD_OF", "traceID": format!("{trace_id:032x}"),
                           "spanID": format!("{p:016x}")})
                })
                .into_iter()
                .collect();
            out.push(json!({
                "traceID": format!("{trace_id:032x}"),
                "spanID": format!("{:016x}", s.span_id),
                "flags": 1,
                "operationName": s.name,
                "references": references,
                "startTime": s.start_unix_nanos / 1000,
                "duration": s.end_unix_nanos.saturating_sub(s.start_unix_nanos) / 1000,
                "tags": tags,
                "logs": [],
                "processID": format!("p{}", index + 1),
                "warnings": null,
            }));
        }
        let processes: Map<String, Value> = processes
            .iter()
            .enumerate()
            .map(|(i, service)| {
                (
                    format!("p{}", i + 1),
                    json!({"serviceName": service, "tags": []}),
                )
            })
            .collect();
        data.push(json!({
            "traceID": format!("{trace_id:032x}"),
            "spans": out,
            "processes": processes,
            "warnings": null,
        }));
    }
    json!({"data": data, "total": 0, "limit": 0, "offset": 0, "errors": null})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jaeger_answer_becomes_spans() {
        let body = json!({"data": [{
            "traceID": "3f2a000000000001",
            "spans": [
                {"traceID": "3f2a000000000001", "spanID": "00000000000000a1", "operationName": "GET /productpage",
                 "references": [], "startTime": 1_700_000_000_000_000u64, "duration": 5000,
                 "tags": [{"key": "span.kind", "type": "string", "value": "server"},
                          {"key": "http.response.status_code", "type": "int64", "value": 200}],
                 "processID": "p1"},
                {"traceID": "3f2a000000000001", "spanID": "00000000000000b2", "operationName": "GET details",
                 "references": [{"refType": "FOLLOWS_FROM", "traceID": "3f2a000000000001", "spanID": "00000000000000ff"},
                                {"refType": "CHILD_OF", "traceID": "3f2a000000000001", "spanID": "00000000000000a1"}],
                 "startTime": 1_700_000_000_001_000u64, "duration": 1000,
                 "tags": [{"key": "span.kind", "type": "string", "value": "client"}], "processID": "p1"}
            ],
            "processes": {"p1": {"serviceName": "productpage", "tags": [{"key": "service.version", "type": "string", "value": "v1"}]}}
        }]});
        let spans = parse(&body).unwrap();
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0].trace_id, 0x3f2a_0000_0000_0001);
        assert_eq!(spans[0].parent_id, None);
        assert_eq!(spans[0].kind, Kind::Server);
        assert_eq!(spans[0].service, "productpage");
        assert_eq!(spans[0].start_unix_nanos, 1_700_000_000_000_000_000);
        assert_eq!(spans[0].end_unix_nanos, 1_700_000_000_005_000_000);
        assert_eq!(spans[0].attribute("http.response.status_code"), Some("200"));
        assert_eq!(spans[0].attribute("service.version"), Some("v1"));
        assert_eq!(spans[1].parent_id, Some(0xa1), "CHILD_OF, not FOLLOWS_FROM");
        assert_eq!(spans[1].kind, Kind::Client);
    }

    #[test]
    fn written_spans_read_back_the_same() {
        let body = json!({"data": [{"traceID": "01", "spans": [
            {"traceID": "0000000000000000000000000000abcd", "spanID": "0000000000000001", "operationName": "GET /x",
             "references": [], "startTime": 10, "duration": 5, "processID": "p1",
             "tags": [{"key": "span.kind", "type": "string", "value": "server"}, {"key": "a", "type": "string", "value": "b"}]},
            {"traceID": "0000000000000000000000000000abcd", "spanID": "0000000000000002", "operationName": "GET /y",
             "references": [{"refType": "CHILD_OF", "traceID": "0000000000000000000000000000abcd", "spanID": "0000000000000001"}],
             "startTime": 11, "duration": 2, "processID": "p2", "tags": []}
        ], "processes": {"p1": {"serviceName": "a"}, "p2": {"serviceName": "b"}}}]});
        let spans = parse(&body).unwrap();
        assert_eq!(parse(&to_json(&spans)).unwrap(), spans);
    }

    #[test]
    fn a_bad_id_is_an_error() {
        let body =
            json!({"data": [{"spans": [{"traceID": "xyz", "spanID": "1"}], "processes": {}}]});
        assert!(parse(&body).unwrap_err().contains("traceID"));
        assert!(parse(&json!({"errors": ["no"]})).is_err());
    }
}
