//! The "complete trace tree" oracle (docs/tracing-design.md, “Tree rules”).
//!
//! [`check`] lists every rule a trace breaks; [`render`] draws the tree as indented
//! `service KIND name` lines, children in a stable order, so a test states the whole expected
//! tree as text and a failure shows exactly where the real one differs.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use crate::span::{Span, Status};

/// A rule a set of spans breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// No spans at all.
    Empty,
    /// The spans belong to more than one trace.
    SeveralTraces(Vec<u128>),
    /// Zero or more than one span without a parent.
    Roots(Vec<String>),
    /// A span whose parent was never reported (a hole in the tree).
    Orphan { span: String, missing_parent: u64 },
    /// Two spans share an id.
    DuplicateId(u64),
    /// A child that starts before its parent or ends after it (beyond `slack_nanos`).
    OutsideParent { span: String, parent: String },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "no spans"),
            Self::SeveralTraces(ids) => {
                write!(f, "{} trace ids:", ids.len())?;
                for id in ids {
                    write!(f, " {id:032x}")?;
                }
                Ok(())
            }
            Self::Roots(r) => write!(f, "{} roots: {}", r.len(), r.join(", ")),
            Self::Orphan {
                span,
                missing_parent,
            } => write!(
                f,
                "orphan {span}: parent {missing_parent:016x} was never reported"
            ),
            Self::DuplicateId(id) => write!(f, "span id {id:016x} reported twice"),
            Self::OutsideParent { span, parent } => {
                write!(f, "{span} is not inside its parent {parent}")
            }
        }
    }
}

/// Allowed clock skew between services when checking that children nest in their parents.
pub const SLACK_NANOS: u64 = 50_000_000;

/// Every rule of docs/tracing-design.md, “Tree rules”, that `spans` (one request's spans) breaks
/// (rules 1–5; the shape and sampling are checked by the tests); empty when the tree is complete.
pub fn check(spans: &[Span]) -> Vec<Violation> {
    if spans.is_empty() {
        return vec![Violation::Empty];
    }
    let mut violations = Vec::new();
    let traces: HashSet<u128> = spans.iter().map(|s| s.trace_id).collect();
    if traces.len() > 1 {
        let mut ids: Vec<_> = traces.into_iter().collect();
        ids.sort_unstable();
        violations.push(Violation::SeveralTraces(ids));
    }
    let mut by_id: HashMap<u64, &Span> = HashMap::new();
    for s in spans {
        if by_id.insert(s.span_id, s).is_some() {
            violations.push(Violation::DuplicateId(s.span_id));
        }
    }
    let roots: Vec<String> = spans
        .iter()
        .filter(|s| s.parent_id.is_none())
        .map(Span::label)
        .collect();
    if roots.len() != 1 {
        violations.push(Violation::Roots(roots));
    }
    for s in spans {
        let Some(parent_id) = s.parent_id else {
            continue;
        };
        match by_id.get(&parent_id) {
            None => violations.push(Violation::Orphan {
                span: s.label(),
                missing_parent: parent_id,
            }),
            Some(parent) => {
                let starts_early = s.start_unix_nanos + SLACK_NANOS < parent.start_unix_nanos;
                let ends_late = s.end_unix_nanos > parent.end_unix_nanos + SLACK_NANOS;
                if starts_early || ends_late {
                    violations.push(Violation::OutsideParent {
                        span: s.label(),
                        parent: parent.label(),
                    });
                }
            }
        }
    }
    violations
}

/// The tree as indented text, two spaces per level; siblings sorted by label, then start time.
/// Spans whose parent is missing are drawn as extra roots, so a broken tree still renders.
pub fn render(spans: &[Span]) -> String {
    draw(spans, |_, _, _| {})
}

/// [`render`], and what explains each span: an error status is shown after its label as
/// `[error: <error.type or description>]`, and each event follows on its own line, one level
/// deeper, as `- <name> key=value ...` (attributes in key order).
pub fn render_detailed(spans: &[Span]) -> String {
    draw(spans, |span, depth, out| {
        if let Status::Error(description) = &span.status {
            let why = span.attribute("error.type").unwrap_or(description.as_str());
            // Replaces the newline `draw` wrote after the label.
            out.pop();
            out.push_str(&format!(" [error: {why}]\n"));
        }
        for event in &span.events {
            out.push_str(&"  ".repeat(depth + 1));
            out.push_str("- ");
            out.push_str(&event.name);
            for (key, value) in &event.attributes {
                out.push_str(&format!(" {key}={value}"));
            }
            out.push('\n');
        }
    })
}

/// The tree, each span's line followed by what `more` writes (given the span and its depth).
fn draw(spans: &[Span], more: impl Fn(&Span, usize, &mut String)) -> String {
    let ids: HashSet<u64> = spans.iter().map(|s| s.span_id).collect();
    let mut children: BTreeMap<Option<u64>, Vec<&Span>> = BTreeMap::new();
    for s in spans {
        let parent = s.parent_id.filter(|p| ids.contains(p));
        children.entry(parent).or_default().push(s);
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| {
            a.label()
                .cmp(&b.label())
                .then(a.start_unix_nanos.cmp(&b.start_unix_nanos))
        });
    }
    let mut out = String::new();
    let mut stack: Vec<(&Span, usize)> = children
        .get(&None)
        .map(|roots| roots.iter().rev().map(|s| (*s, 0)).collect())
        .unwrap_or_default();
    while let Some((span, depth)) = stack.pop() {
        out.push_str(&"  ".repeat(depth));
        out.push_str(&span.label());
        out.push('\n');
        more(span, depth, &mut out);
        if let Some(kids) = children.get(&Some(span.span_id)) {
            stack.extend(kids.iter().rev().map(|k| (*k, depth + 1)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Kind;

    fn span(id: u64, parent: Option<u64>, service: &str, kind: Kind, t: (u64, u64)) -> Span {
        Span {
            trace_id: 7,
            span_id: id,
            parent_id: parent,
            name: "GET /x".into(),
            kind,
            service: service.into(),
            start_unix_nanos: t.0,
            end_unix_nanos: t.1,
            attributes: Default::default(),
            source: "otlp",
            status: Default::default(),
            events: Vec::new(),
        }
    }

    #[test]
    fn the_detailed_drawing_shows_errors_and_events() {
        let mut root = span(1, None, "ratings", Kind::Server, (0, 100));
        root.status = Status::Error(String::new());
        root.attributes.insert("error.type".into(), "500".into());
        let mut db = span(2, Some(1), "ratings", Kind::Client, (10, 40));
        db.status = Status::Error("refused".into());
        db.events.push(crate::span::SpanEvent {
            name: "exception".into(),
            unix_nanos: 20,
            attributes: [
                ("exception.type".to_owned(), "io".to_owned()),
                ("exception.message".to_owned(), "refused".to_owned()),
            ]
            .into(),
        });
        assert_eq!(
            render_detailed(&[root, db]),
            "ratings SERVER GET /x [error: 500]\n  ratings CLIENT GET /x [error: refused]\n    - exception exception.message=refused exception.type=io\n"
        );
    }

    #[test]
    fn complete_tree_passes_and_renders() {
        let spans = vec![
            span(1, None, "productpage", Kind::Server, (0, 100)),
            span(3, Some(1), "productpage", Kind::Client, (50, 90)),
            span(2, Some(1), "productpage", Kind::Client, (10, 40)),
            span(4, Some(2), "details", Kind::Server, (15, 35)),
        ];
        assert_eq!(check(&spans), vec![]);
        assert_eq!(
            render(&spans),
            "productpage SERVER GET /x\n  productpage CLIENT GET /x\n    details SERVER GET /x\n  productpage CLIENT GET /x\n"
        );
    }

    #[test]
    fn holes_extra_roots_and_other_traces_are_reported() {
        let mut other = span(5, None, "reviews", Kind::Server, (0, 1));
        other.trace_id = 8;
        let spans = vec![
            span(1, None, "productpage", Kind::Server, (0, 100)),
            span(4, Some(99), "details", Kind::Server, (15, 35)),
            other,
        ];
        let v = check(&spans);
        assert!(
            v.iter().any(|v| matches!(v, Violation::SeveralTraces(_))),
            "{v:?}"
        );
        assert!(
            v.iter()
                .any(|v| matches!(v, Violation::Roots(r) if r.len() == 2)),
            "{v:?}"
        );
        assert!(v.contains(&Violation::Orphan {
            span: "details SERVER GET /x".into(),
            missing_parent: 99
        }));
    }

    #[test]
    fn duplicate_ids_and_children_outside_parent_are_reported() {
        let spans = vec![
            span(
                1,
                None,
                "productpage",
                Kind::Server,
                (1_000_000_000, 2_000_000_000),
            ),
            span(
                2,
                Some(1),
                "productpage",
                Kind::Client,
                (1_500_000_000, 3_000_000_000),
            ),
            span(
                2,
                Some(1),
                "productpage",
                Kind::Client,
                (1_100_000_000, 1_200_000_000),
            ),
        ];
        let v = check(&spans);
        assert!(v.contains(&Violation::DuplicateId(2)));
        assert!(
            v.iter()
                .any(|v| matches!(v, Violation::OutsideParent { .. })),
            "{v:?}"
        );
    }

    #[test]
    fn empty_is_a_violation() {
        assert_eq!(check(&[]), vec![Violation::Empty]);
    }
}
