//! Zipkin's v2 API: `GET /api/v2/traces?serviceName=&endTs=&lookback=&limit=` answers a list of
//! traces, each a list of v2 spans (`traceId`, `id`, `parentId`, `kind`, `timestamp` and
//! `duration` in microseconds, `localEndpoint.serviceName`, `tags`).
//!
//! Zipkin lets a client and a server report one RPC under the same span id, the server's half
//! marked `"shared": true`. Such a server half is given an id of its own here, as a child of the
//! client half, so the tree has one node per span, as Zipkin's UI draws it.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Value, json};

use super::{FetchError, Window, get_json, hex_span_id, hex_trace_id, number, scalar, url};
use crate::span::{Kind, Span};

/// Every span of the traces Zipkin finds for `service` in `window`.
pub async fn fetch(
    client: &reqwest::Client,
    base: &str,
    service: &str,
    window: &Window,
) -> Result<Vec<Span>, FetchError> {
    let end_ms = window.end_micros() / 1000;
    let lookback_ms = window.length().as_millis().max(1);
    let url = url(
        base,
        "/api/v2/traces",
        &[
            // Zipkin stores service names in lower case.
            ("serviceName", service.to_lowercase()),
            ("endTs", end_ms.to_string()),
            ("lookback", lookback_ms.to_string()),
            ("limit", window.limit.to_string()),
        ],
    )?;
    let body = get_json(client, "zipkin", url).await?;
    parse(&body).map_err(|e| FetchError(format!("zipkin: {e}")))
}

/// The spans of a `/api/v2/traces` answer (a list of traces), or of `/api/v2/trace/{id}` (one
/// list of spans).
pub fn parse(body: &Value) -> Result<Vec<Span>, String> {
    let list = body.as_array().ok_or("the answer is not a list")?;
    let traces: Vec<&Vec<Value>> = if list.iter().all(Value::is_array) {
        list.iter().filter_map(Value::as_array).collect()
    } else {
        vec![list]
    };
    let mut out = Vec::new();
    for trace in traces {
        let mut spans = Vec::with_capacity(trace.len());
        let mut shared = Vec::new();
        for s in trace {
            let (span, is_shared) = span(s)?;
            if is_shared {
                shared.push(spans.len());
            }
            spans.push(span);
        }
        unshare(&mut spans, &shared);
        out.extend(spans);
    }
    Ok(out)
}

fn span(s: &Value) -> Result<(Span, bool), String> {
    let field = |name: &str| s.get(name).and_then(Value::as_str).unwrap_or_default();
    let trace_id = hex_trace_id(field("traceId"))
        .ok_or_else(|| format!("bad traceId {:?}", field("traceId")))?;
    let span_id = hex_span_id(field("id")).ok_or_else(|| format!("bad id {:?}", field("id")))?;
    let parent_id = match field("parentId") {
        "" => None,
        p => Some(hex_span_id(p).ok_or_else(|| format!("bad parentId {p:?}"))?),
    }
    .filter(|p| *p != 0);
    let kind = match field("kind") {
        "SERVER" => Kind::Server,
        "CLIENT" => Kind::Client,
        "PRODUCER" => Kind::Producer,
        "CONSUMER" => Kind::Consumer,
        _ => Kind::Internal,
    };
    let service = s
        .get("localEndpoint")
        .and_then(|e| e.get("serviceName"))
        .and_then(Value::as_str)
        .unwrap_or("unknown_service")
        .to_owned();
    let attributes: BTreeMap<String, String> = s
        .get("tags")
        .and_then(Value::as_object)
        .map(|t| t.iter().map(|(k, v)| (k.clone(), scalar(v))).collect())
        .unwrap_or_default();
    let start = number(s.get("timestamp")).unwrap_or(0);
    let duration = number(s.get("duration")).unwrap_or(0);
    let shared = s.get("shared").and_then(Value::as_bool).unwrap_or(false);
    Ok((
        Span {
            trace_id,
            span_id,
            parent_id,
            name: field("name").to_owned(),
            kind,
            service,
            start_unix_nanos: start.saturating_mul(1000),
            end_unix_nanos: start.saturating_add(duration).saturating_mul(1000),
            attributes,
            source: "zipkin",
            // What the checker judges is the tree; status and events are not read back.
            status: crate::span::Status::default(),
            events: Vec::new(),
        },
        shared,
    ))
}

/// Give each shared server half (`shared` indexes into `spans`) an id of its own under its
/// client half, and move its own service's children under it.
fn unshare(spans: &mut [Span], shared: &[usize]) {
    let mut taken: HashSet<u64> = spans.iter().map(|s| s.span_id).collect();
    for &i in shared {
        let id = spans[i].span_id;
        let has_client_half = spans
            .iter()
            .enumerate()
            .any(|(j, s)| j != i && s.span_id == id && s.kind == Kind::Client);
        if !has_client_half {
            continue;
        }
        let mut own = id.rotate_left(32) ^ 0x5a5a_5a5a_5a5a_5a5a;
        while own == 0 || !taken.insert(own) {
            own = own.wrapping_add(1);
        }
        let service = spans[i].service.clone();
        for (j, s) in spans.iter_mut().enumerate() {
            if j != i && s.parent_id == Some(id) && s.service == service {
                s.parent_id = Some(own);
            }
        }
        spans[i].span_id = own;
        spans[i].parent_id = Some(id);
    }
}

fn kind_name(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::Server => Some("SERVER"),
        Kind::Client => Some("CLIENT"),
        Kind::Producer => Some("PRODUCER"),
        Kind::Consumer => Some("CONSUMER"),
        Kind::Internal => None,
    }
}

/// `spans` as Zipkin's `/api/v2/traces` answers them: a list per trace id.
pub fn to_json(spans: &[Span]) -> Value {
    let traces: Vec<Value> = crate::collector::group(spans.to_vec())
        .into_iter()
        .map(|(trace_id, spans)| {
            let list: Vec<Value> = spans
                .iter()
                .map(|s| {
                    let mut v = json!({
                        "traceId": format!("{trace_id:032x}"),
                        "id": format!("{:016x}", s.span_id),
                        "name": s.name.to_lowercase(),
                        "timestamp": s.start_unix_nanos / 1000,
                        "duration": s.end_unix_nanos.saturating_sub(s.start_unix_nanos) / 1000,
                        "localEndpoint": {"serviceName": s.service.to_lowercase()},
                        "tags": s.attributes,
                    });
                    if let Some(p) = s.parent_id {
                        v["parentId"] = json!(format!("{p:016x}"));
                    }
                    if let Some(kind) = kind_name(s.kind) {
                        v["kind"] = json!(kind);
                    }
                    v
                })
                .collect();
            Value::Array(list)
        })
        .collect();
    Value::Array(traces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zipkin_answer_becomes_spans() {
        let body = json!([[
            {"traceId": "463ac35c9f6413ad48485a3953bb6124", "id": "a2fb4a1d1a96d312", "name": "get /productpage",
             "kind": "SERVER", "timestamp": 1_700_000_000_000_000u64, "duration": 2000,
             "localEndpoint": {"serviceName": "productpage"}, "tags": {"guid:x-request-id": "r1"}},
            {"traceId": "463ac35c9f6413ad48485a3953bb6124", "id": "0020000000000001", "parentId": "a2fb4a1d1a96d312",
             "name": "get details", "kind": "CLIENT", "timestamp": 1_700_000_000_000_500u64, "duration": 500,
             "localEndpoint": {"serviceName": "productpage"}}
        ]]);
        let spans = parse(&body).unwrap();
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0].trace_id, 0x463a_c35c_9f64_13ad_4848_5a39_53bb_6124);
        assert_eq!(spans[0].kind, Kind::Server);
        assert_eq!(spans[0].attribute("guid:x-request-id"), Some("r1"));
        assert_eq!(spans[1].parent_id, Some(0xa2fb_4a1d_1a96_d312));
        assert_eq!(spans[1].end_unix_nanos, 1_700_000_000_001_000_000);
    }

    #[test]
    fn a_shared_server_half_becomes_a_child_of_its_client_half() {
        let body = json!([[
            {"traceId": "00000000000000aa", "id": "0000000000000001", "kind": "SERVER", "name": "a",
             "timestamp": 1, "duration": 100, "localEndpoint": {"serviceName": "productpage"}},
            {"traceId": "00000000000000aa", "id": "0000000000000002", "parentId": "0000000000000001", "kind": "CLIENT",
             "name": "b", "timestamp": 2, "duration": 50, "localEndpoint": {"serviceName": "productpage"}},
            {"traceId": "00000000000000aa", "id": "0000000000000002", "parentId": "0000000000000001", "kind": "SERVER",
             "shared": true, "name": "c", "timestamp": 3, "duration": 40, "localEndpoint": {"serviceName": "reviews"}},
            {"traceId": "00000000000000aa", "id": "0000000000000003", "parentId": "0000000000000002", "kind": "CLIENT",
             "name": "d", "timestamp": 4, "duration": 10, "localEndpoint": {"serviceName": "reviews"}}
        ]]);
        let spans = parse(&body).unwrap();
        assert_eq!(crate::tree::check(&spans), vec![]);
        assert_eq!(
            crate::tree::render(&spans),
            "productpage SERVER a\n  productpage CLIENT b\n    reviews SERVER c\n      reviews CLIENT d\n"
        );
    }

    #[test]
    fn written_spans_read_back_the_same() {
        let body = json!([[{"traceId": "000000000000000000000000000000ab", "id": "0000000000000001", "kind": "CLIENT",
            "name": "x", "timestamp": 5, "duration": 6, "localEndpoint": {"serviceName": "a"}, "tags": {"k": "v"}}]]);
        let spans = parse(&body).unwrap();
        assert_eq!(parse(&to_json(&spans)).unwrap(), spans);
        assert!(parse(&json!({"x": 1})).is_err());
    }
}
