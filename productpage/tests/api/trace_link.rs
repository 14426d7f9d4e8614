//! The product page links to its own trace (`TRACE_UI_URL`) in participating mode, only when the
//! request is sampled, and the page stays well-formed HTML with the link in it.

use bookinfo_testing::{FakeServer, Reply};

use crate::helpers::{Backends, spawn_with};

const TEMPLATE: &str = "http://localhost:16686/trace/{trace_id}";

/// Participating mode, exporting to a sink that accepts anything.
async fn participating(
    backends: &Backends,
    sink: &FakeServer,
    link: bool,
) -> crate::helpers::TestApp {
    let endpoint = sink.base_url();
    let mut env = vec![
        ("OTEL_TRACES_EXPORTER", "otlp"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
    ];
    if link {
        env.push(("TRACE_UI_URL", TEMPLATE));
    }
    spawn_with(backends, &env).await
}

async fn page(app: &crate::helpers::TestApp, traceparent: Option<&str>) -> String {
    let mut req = app.client.get(app.url("/productpage"));
    if let Some(tp) = traceparent {
        req = req.header("traceparent", tp);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

/// The `href` of the trace link, and the id it shows.
fn link(body: &str) -> Option<(String, String)> {
    let start = body.find("<a id=\"trace-link\" href=\"")? + "<a id=\"trace-link\" href=\"".len();
    let href = &body[start..start + body[start..].find('"')?];
    let code = body[start..].find("<code>")? + start + "<code>".len();
    let id = &body[code..code + body[code..].find("</code>")?];
    Some((href.to_owned(), id.to_owned()))
}

/// A caller's sampled W3C context: the page continues that trace, so it links to that id.
#[tokio::test]
async fn a_sampled_page_links_to_the_trace_it_continues() {
    let backends = Backends::healthy().await;
    let sink = FakeServer::always(Reply::status(200)).await;
    let app = participating(&backends, &sink, true).await;
    let body = page(
        &app,
        Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
    )
    .await;
    assert_eq!(
        link(&body),
        Some((
            "http://localhost:16686/trace/0af7651916cd43dd8448eb211c80319c".to_owned(),
            "0af7651916cd43dd8448eb211c80319c".to_owned()
        ))
    );
    assert_eq!(body.matches("id=\"trace-link\"").count(), 1);
    assert_well_formed(&body);
}

/// A page view that starts its own trace links to the trace its backend calls carry.
#[tokio::test]
async fn a_new_trace_is_linked_with_the_id_sent_downstream() {
    let backends = Backends::healthy().await;
    let sink = FakeServer::always(Reply::status(200)).await;
    let app = participating(&backends, &sink, true).await;
    let body = page(&app, None).await;
    let (href, id) = link(&body).expect("a trace link");
    let sent = backends.details.requests()[0]
        .header("traceparent")
        .expect("details got a traceparent")
        .to_owned();
    // traceparent: 00-<trace id>-<span id>-<flags>
    assert_eq!(sent.split('-').nth(1), Some(id.as_str()));
    assert_eq!(sent.split('-').nth(3), Some("01"), "sampled");
    assert_eq!(href, format!("http://localhost:16686/trace/{id}"));
    assert_well_formed(&body);
}

/// Not sampled (the caller decided so): nothing is exported, so there is nothing to link to.
#[tokio::test]
async fn an_unsampled_page_has_no_link() {
    let backends = Backends::healthy().await;
    let sink = FakeServer::always(Reply::status(200)).await;
    let app = participating(&backends, &sink, true).await;
    let body = page(
        &app,
        Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"),
    )
    .await;
    assert_eq!(link(&body), None);
    assert!(!body.contains("class=\"trace\""));
    assert_well_formed(&body);
}

/// Without TRACE_UI_URL, or in pass-through mode, there is no link either.
#[tokio::test]
async fn no_template_or_no_tracing_means_no_link() {
    let backends = Backends::healthy().await;
    let sink = FakeServer::always(Reply::status(200)).await;
    let app = participating(&backends, &sink, false).await;
    let sampled = Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    assert_eq!(link(&page(&app, sampled).await), None);

    let pass_through = spawn_with(&backends, &[("TRACE_UI_URL", TEMPLATE)]).await;
    assert_eq!(link(&page(&pass_through, sampled).await), None);
}

/// Every element is closed, in order (void elements aside), and every attribute value is
/// quoted: the HTML a parser reads without recovering from anything. (Ids are not checked for
/// uniqueness: the star SVGs share upstream's `glyphicon glyphicon-star` id, which istio.io's
/// tasks count.)
fn assert_well_formed(body: &str) {
    const VOID: [&str; 8] = ["meta", "link", "img", "input", "br", "hr", "path", "source"];
    let mut open: Vec<String> = Vec::new();
    let mut rest = body;
    let mut in_script = false;
    while let Some(lt) = rest.find('<') {
        rest = &rest[lt..];
        if in_script && !rest.starts_with("</script>") {
            rest = &rest[1..];
            continue;
        }
        let end = rest.find('>').expect("every tag ends");
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') {
            continue; // doctype, comment
        }
        if let Some(name) = tag.strip_prefix('/') {
            let top = open
                .pop()
                .unwrap_or_else(|| panic!("</{name}> closes nothing"));
            assert_eq!(top, name, "</{name}> closes <{top}>");
            in_script = false;
            continue;
        }
        let self_closing = tag.ends_with('/');
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        assert!(!name.is_empty(), "bad tag <{tag}>");
        let attrs = &tag[name.len()..];
        // Attributes: name or name="value" (quoted values may hold anything but a quote).
        let mut a = attrs.trim_end_matches('/').trim();
        while !a.is_empty() {
            let n = a
                .find(|c: char| c == '=' || c.is_whitespace())
                .unwrap_or(a.len());
            let attr = &a[..n];
            a = &a[n..];
            if let Some(v) = a.strip_prefix("=\"") {
                let close = v
                    .find('"')
                    .unwrap_or_else(|| panic!("unclosed value in <{tag}>"));
                assert!(!attr.is_empty(), "attribute without a name in <{tag}>");
                a = &v[close + 1..];
            } else {
                assert!(!a.starts_with('='), "unquoted value in <{tag}>");
            }
            a = a.trim_start();
        }
        if !(self_closing || VOID.contains(&name.as_str())) {
            in_script = name == "script";
            open.push(name);
        }
    }
    assert!(open.is_empty(), "left open: {open:?}");
}
