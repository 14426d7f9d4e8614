//! Traces as they complete: what `bookinfo --traces` prints for each page view.
//!
//! A collector cannot know when a trace is over (any span may still be on its way), so a trace
//! counts as finished once no new span of it has arrived for a quiet period. Each finished
//! trace is reported once, as its rendered tree with a verdict: complete, or the rules it
//! breaks. The tree shows what explains each span too: its error, and its events
//! ([`render_detailed`]).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::collector::{Collector, group};
use crate::span::Span;
use crate::tree::{Violation, check, render_detailed};

/// One finished trace, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub trace_id: u128,
    pub spans: usize,
    /// The label of the root span (or of the earliest span when there is no single root).
    pub title: String,
    pub violations: Vec<String>,
    pub tree: String,
}

impl Finished {
    /// Check and render `spans`, the spans of one trace.
    pub fn of(trace_id: u128, spans: &[Span]) -> Self {
        let violations: Vec<Violation> = check(spans);
        let roots: Vec<&Span> = spans.iter().filter(|s| s.parent_id.is_none()).collect();
        let title = match roots.as_slice() {
            [only] => only.label(),
            _ => spans
                .iter()
                .min_by_key(|s| s.start_unix_nanos)
                .map(Span::label)
                .unwrap_or_default(),
        };
        Self {
            trace_id,
            spans: spans.len(),
            title,
            violations: violations.iter().map(ToString::to_string).collect(),
            tree: render_detailed(spans),
        }
    }

    pub fn is_complete(&self) -> bool {
        self.violations.is_empty()
    }

    /// `complete` or `BROKEN: <first rule broken> (+N more)`.
    pub fn verdict(&self) -> String {
        match self.violations.as_slice() {
            [] => "complete".to_owned(),
            [one] => format!("BROKEN: {one}"),
            [first, rest @ ..] => format!("BROKEN: {first} (+{} more)", rest.len()),
        }
    }
}

impl fmt::Display for Finished {
    /// A header line (trace id, span count, verdict), the tree indented under it, then every
    /// broken rule on its own line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "trace {:032x}  {} spans  {}",
            self.trace_id,
            self.spans,
            self.verdict()
        )?;
        for line in self.tree.lines() {
            writeln!(f, "  {line}")?;
        }
        if self.violations.len() > 1 {
            for v in &self.violations {
                writeln!(f, "  ! {v}")?;
            }
        }
        Ok(())
    }
}

/// Reports each trace of a collector once, after it has been quiet for `quiet`.
#[derive(Debug)]
pub struct Watcher {
    collector: Arc<Collector>,
    quiet: Duration,
    /// Span count of each unfinished trace, and when that count last changed.
    pending: HashMap<u128, (usize, Instant)>,
    reported: HashSet<u128>,
}

impl Watcher {
    pub fn new(collector: Arc<Collector>, quiet: Duration) -> Self {
        Self {
            collector,
            quiet,
            pending: HashMap::new(),
            reported: HashSet::new(),
        }
    }

    /// The traces that became quiet since the last call, oldest first.
    pub fn poll(&mut self) -> Vec<Finished> {
        self.poll_at(Instant::now())
    }

    fn poll_at(&mut self, now: Instant) -> Vec<Finished> {
        let traces = group(self.collector.spans());
        let mut done: Vec<(u64, Finished)> = Vec::new();
        for (id, spans) in &traces {
            if self.reported.contains(id) {
                continue;
            }
            let entry = self.pending.entry(*id).or_insert((0, now));
            if entry.0 != spans.len() {
                *entry = (spans.len(), now);
                continue;
            }
            if now.duration_since(entry.1) >= self.quiet {
                self.pending.remove(id);
                self.reported.insert(*id);
                let first = spans.iter().map(|s| s.start_unix_nanos).min().unwrap_or(0);
                done.push((first, Finished::of(*id, spans)));
            }
        }
        // Forget what the collector no longer holds (it drops its oldest traces when full).
        self.reported.retain(|id| traces.contains_key(id));
        self.pending.retain(|id, _| traces.contains_key(id));
        done.sort_by_key(|(first, _)| *first);
        done.into_iter().map(|(_, f)| f).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::span::Kind;

    fn span(trace: u128, id: u64, parent: Option<u64>, service: &str) -> Span {
        Span {
            trace_id: trace,
            span_id: id,
            parent_id: parent,
            name: "GET /x".into(),
            kind: Kind::Server,
            service: service.into(),
            start_unix_nanos: 1_000 * id,
            end_unix_nanos: 1_000_000 - id,
            attributes: BTreeMap::new(),
            source: "otlp",
            status: Default::default(),
            events: Vec::new(),
        }
    }

    #[test]
    fn a_complete_trace_says_so_and_draws_its_tree() {
        let f = Finished::of(
            0xab,
            &[
                span(0xab, 1, None, "productpage"),
                span(0xab, 2, Some(1), "details"),
            ],
        );
        assert!(f.is_complete());
        assert_eq!(
            f.to_string(),
            "trace 000000000000000000000000000000ab  2 spans  complete\n  \
             productpage SERVER GET /x\n    details SERVER GET /x\n"
        );
    }

    #[test]
    fn a_hole_is_named_in_the_verdict() {
        let f = Finished::of(
            7,
            &[
                span(7, 1, None, "productpage"),
                span(7, 3, Some(2), "reviews"),
            ],
        );
        assert!(!f.is_complete());
        assert_eq!(
            f.verdict(),
            "BROKEN: orphan reviews SERVER GET /x: parent 0000000000000002 was never reported"
        );
        assert_eq!(f.title, "productpage SERVER GET /x");
    }

    #[test]
    fn several_broken_rules_are_counted_and_listed() {
        let f = Finished::of(
            7,
            &[
                span(7, 1, None, "productpage"),
                span(7, 2, None, "details"),
                span(7, 3, Some(9), "reviews"),
            ],
        );
        assert!(f.verdict().ends_with("(+1 more)"), "{}", f.verdict());
        assert_eq!(f.to_string().matches("\n  ! ").count(), 2, "{f}");
    }

    #[tokio::test]
    async fn a_trace_is_reported_once_after_it_went_quiet() {
        let collector = Arc::new(Collector::start().await.unwrap());
        let mut w = Watcher::new(collector.clone(), Duration::from_secs(1));
        let t0 = Instant::now();
        assert!(w.poll_at(t0).is_empty());
        collector.record(vec![span(5, 1, None, "productpage")]);
        assert!(
            w.poll_at(t0).is_empty(),
            "first sight starts the quiet period"
        );
        collector.record(vec![span(5, 2, Some(1), "details")]);
        let t1 = t0 + Duration::from_millis(900);
        assert!(w.poll_at(t1).is_empty(), "a new span restarts it");
        assert!(w.poll_at(t1 + Duration::from_millis(999)).is_empty());
        let done = w.poll_at(t1 + Duration::from_secs(1));
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].spans, 2);
        assert!(
            w.poll_at(t1 + Duration::from_secs(5)).is_empty(),
            "only once"
        );
    }
}
