//! The span processor for OTLP/HTTP export: each span is encoded the moment it ends, and one
//! background thread posts the encoded batches.
//!
//! The SDK's `BatchSpanProcessor` hands every finished span, whole, through a channel to its
//! export thread, which encodes the batch and then frees the spans. Under load that made the
//! services' threads allocate what another thread frees, which the C library's allocator serves
//! on its slow paths: in `perf` profiles of participating mode, allocation was the largest single
//! addition to the services' CPU time. Here a span is encoded on the thread that ended it, into a
//! shared buffer, and freed there at once; the export thread only posts bytes. Behaviour is the
//! batch processor's: export after `OTEL_BSP_SCHEDULE_DELAY` or once a batch is full, at most
//! `OTEL_BSP_MAX_QUEUE_SIZE` spans waiting (newer ones are dropped and counted in a warning),
//! flush on demand, and a final flush on shutdown.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter as _, SpanProcessor};

use super::otlp::{OtlpHttpExporter, Pending};

/// Spans per export request (the specification's `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` default).
const MAX_BATCH: usize = 512;

/// Encodes spans as they end and exports them to an OTLP/HTTP collector in batches.
#[derive(Debug)]
pub struct EncodingProcessor {
    shared: Arc<Shared>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Wakes the export thread: a batch is full, a flush was asked for, or shutdown.
    work: Condvar,
    /// Wakes those waiting for a flush or for the export thread to stop.
    progress: Condvar,
    exporter: Mutex<OtlpHttpExporter>,
    delay: Duration,
    max_queue: usize,
    /// How long a flush may wait: one export, whose own timeout bounds the post, and a second.
    flush_timeout: Duration,
}

#[derive(Debug, Default)]
struct State {
    pending: Pending,
    /// Spans dropped because the queue was full, not yet reported.
    dropped: u64,
    /// Flushes asked for, and done: a flush is done once everything encoded before it was
    /// asked for has been posted.
    flush_asked: u64,
    flush_done: u64,
    shutdown: bool,
    stopped: bool,
}

impl EncodingProcessor {
    /// Starts the export thread. `delay` and `max_queue` are `OTEL_BSP_SCHEDULE_DELAY` and
    /// `OTEL_BSP_MAX_QUEUE_SIZE`.
    pub fn new(exporter: OtlpHttpExporter, delay: Duration, max_queue: usize) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            progress: Condvar::new(),
            flush_timeout: exporter.timeout() + Duration::from_secs(1),
            exporter: Mutex::new(exporter),
            delay,
            max_queue: max_queue.max(1),
        });
        let worker = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("span-export".to_owned())
                .spawn(move || shared.run())
        };
        let worker = match worker {
            Ok(handle) => Some(handle),
            Err(e) => {
                // Without the thread spans still queue up to the limit and are then dropped
                // with a warning; the service itself keeps working.
                tracing::error!(cause = %e, "cannot start the span export thread");
                None
            }
        };
        Self {
            shared,
            worker: Mutex::new(worker),
        }
    }

    /// Waits (up to `timeout`) until the export thread has stopped, then joins it.
    fn join(&self, timeout: Duration) -> OTelSdkResult {
        self.shared
            .await_progress(self.shared.lock(), timeout, |state| state.stopped)?;
        let handle = self.worker.lock().ok().and_then(|mut w| w.take());
        if let Some(handle) = handle {
            let _ = handle.join();
        }
        Ok(())
    }
}

impl Shared {
    /// The state, even if a thread panicked while holding it: it stays consistent because
    /// every update is a few plain assignments.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits on `progress` until `done` holds, failing after `timeout`.
    fn await_progress(
        &self,
        mut state: MutexGuard<'_, State>,
        timeout: Duration,
        done: impl Fn(&State) -> bool,
    ) -> OTelSdkResult {
        let deadline = Instant::now() + timeout;
        while !done(&state) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(OTelSdkError::Timeout(timeout));
            }
            state = wait(&self.progress, state, left);
        }
        Ok(())
    }

    /// The export thread: wait for a full batch, a flush, shutdown or the delay; post what is
    /// pending; repeat until shut down.
    fn run(&self) {
        let mut next = Instant::now() + self.delay;
        loop {
            let mut state = self.lock();
            loop {
                let due = Instant::now() >= next;
                if state.shutdown
                    || state.flush_asked > state.flush_done
                    || state.pending.len() >= MAX_BATCH
                    || (due && !state.pending.is_empty())
                {
                    break;
                }
                if due {
                    next = Instant::now() + self.delay;
                }
                state = wait(
                    &self.work,
                    state,
                    next.saturating_duration_since(Instant::now()),
                );
            }
            let batch = std::mem::take(&mut state.pending);
            let dropped = std::mem::take(&mut state.dropped);
            let flush = state.flush_asked;
            let shutdown = state.shutdown;
            drop(state);

            if dropped > 0 {
                tracing::warn!(
                    dropped,
                    "span export queue full (OTEL_BSP_MAX_QUEUE_SIZE): spans dropped"
                );
            }
            if !batch.is_empty() {
                self.post(&batch);
            }
            next = Instant::now() + self.delay;

            let mut state = self.lock();
            state.flush_done = flush;
            // Spans that ended while posting are exported before the thread stops.
            if shutdown && state.pending.is_empty() {
                state.stopped = true;
            }
            self.progress.notify_all();
            if state.stopped {
                return;
            }
        }
    }

    fn post(&self, batch: &Pending) {
        let exporter = match self.exporter.lock() {
            Ok(exporter) => exporter,
            Err(poisoned) => poisoned.into_inner(),
        };
        let body = batch.request(exporter.resource());
        if let Err(e) = exporter.send(body) {
            tracing::warn!(spans = batch.len(), cause = %e, "span export failed");
        }
    }
}

/// Waits on `condvar` for at most `left`; the state survives a panicked holder (see
/// [`Shared::lock`]).
fn wait<'a>(
    condvar: &Condvar,
    state: MutexGuard<'a, State>,
    left: Duration,
) -> MutexGuard<'a, State> {
    match condvar.wait_timeout(state, left) {
        Ok((state, _)) => state,
        Err(poisoned) => poisoned.into_inner().0,
    }
}

impl SpanProcessor for EncodingProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        let mut state = self.shared.lock();
        if state.shutdown {
            return;
        }
        if state.pending.len() >= self.shared.max_queue {
            state.dropped += 1;
            return;
        }
        state.pending.push(&span);
        let full = state.pending.len() == MAX_BATCH;
        drop(state);
        if full {
            self.shared.work.notify_one();
        }
        // `span` is freed here, on the thread that made it.
    }

    fn force_flush(&self) -> OTelSdkResult {
        let mut state = self.shared.lock();
        if state.stopped {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        state.flush_asked += 1;
        let asked = state.flush_asked;
        self.shared.work.notify_one();
        self.shared
            .await_progress(state, self.shared.flush_timeout, |state| {
                state.flush_done >= asked || state.stopped
            })
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        {
            let mut state = self.shared.lock();
            if state.shutdown {
                return Err(OTelSdkError::AlreadyShutdown);
            }
            state.shutdown = true;
            if self.worker.lock().map(|w| w.is_none()).unwrap_or(true) {
                state.stopped = true;
            }
        }
        self.shared.work.notify_one();
        self.join(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Ok(mut exporter) = self.shared.exporter.lock() {
            exporter.set_resource(resource);
        }
    }
}

impl Drop for EncodingProcessor {
    fn drop(&mut self) {
        let stopped = {
            let mut state = self.shared.lock();
            state.shutdown = true;
            state.stopped
        };
        if !stopped {
            self.shared.work.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use opentelemetry::InstrumentationScope;
    use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::error::OTelSdkError;
    use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks, SpanProcessor};
    use prost::Message;

    use super::EncodingProcessor;
    use crate::trace::otlp::OtlpHttpExporter;
    use bookinfo_testing::{FakeServer, Reply};

    fn span(n: u64, sampled: bool) -> SpanData {
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(u128::from(n) + 1),
                SpanId::from(n + 1),
                flags,
                false,
                Default::default(),
            ),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Server,
            name: Cow::Borrowed("GET /test"),
            start_time: std::time::SystemTime::now(),
            end_time: std::time::SystemTime::now(),
            attributes: vec![opentelemetry::KeyValue::new("n", n as i64)],
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("test").build(),
        }
    }

    /// A processor exporting to a collector that accepts everything, with a resource set.
    async fn processor(delay: Duration, queue: usize) -> (Arc<EncodingProcessor>, FakeServer) {
        let collector = FakeServer::always(Reply::status(200)).await;
        let exporter = OtlpHttpExporter::new(
            &format!("{}/v1/traces", collector.base_url()),
            Duration::from_secs(5),
            &[],
        );
        let mut processor = EncodingProcessor::new(exporter, delay, queue);
        processor.set_resource(&Resource::builder_empty().with_service_name("svc").build());
        (Arc::new(processor), collector)
    }

    /// The span numbers (attribute `n`) of each export request received, in order.
    fn batches(collector: &FakeServer) -> Vec<Vec<i64>> {
        collector
            .requests()
            .iter()
            .map(|r| {
                assert_eq!(r.uri, "/v1/traces");
                assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
                let request =
                    ExportTraceServiceRequest::decode(r.body.as_ref()).expect("an OTLP request");
                let resource = request.resource_spans[0]
                    .resource
                    .as_ref()
                    .expect("resource");
                assert_eq!(resource.attributes[0].key, "service.name");
                request.resource_spans[0].scope_spans[0]
                    .spans
                    .iter()
                    .map(|s| {
                        use opentelemetry_proto::tonic::common::v1::any_value::Value;
                        match s.attributes[0]
                            .value
                            .as_ref()
                            .and_then(|v| v.value.as_ref())
                        {
                            Some(Value::IntValue(n)) => *n,
                            other => panic!("unexpected attribute value {other:?}"),
                        }
                    })
                    .collect()
            })
            .collect()
    }

    async fn wait_for_requests(collector: &FakeServer, n: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while collector.requests().len() < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Runs a blocking processor call off the runtime that serves the collector.
    async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        tokio::task::spawn_blocking(f).await.expect("no panic")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_batch_goes_at_once_and_a_flush_sends_the_rest() {
        let (p, collector) = processor(Duration::from_secs(60), 10_000).await;
        for n in 0..515 {
            p.on_end(span(n, true));
        }
        wait_for_requests(&collector, 1, Duration::from_secs(5)).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let sent = batches(&collector);
        assert_eq!(sent.len(), 1, "only the full batch goes before the delay");
        assert!(sent[0].len() >= 512, "{}", sent[0].len());

        let flushed = p.clone();
        blocking(move || flushed.force_flush())
            .await
            .expect("flushed");
        let all: Vec<i64> = batches(&collector).into_iter().flatten().collect();
        assert_eq!(
            all,
            (0..515).collect::<Vec<_>>(),
            "every span, once, in order"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_delay_exports_without_a_flush() {
        let (p, collector) = processor(Duration::from_millis(50), 10_000).await;
        p.on_end(span(7, true));
        wait_for_requests(&collector, 1, Duration::from_secs(5)).await;
        assert_eq!(batches(&collector), [vec![7]]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unsampled_spans_are_not_exported_and_a_full_queue_drops_new_spans() {
        let (p, collector) = processor(Duration::from_secs(60), 3).await;
        p.on_end(span(0, false));
        for n in 1..=5 {
            p.on_end(span(n, true));
        }
        let flushed = p.clone();
        blocking(move || flushed.force_flush())
            .await
            .expect("flushed");
        assert_eq!(batches(&collector), [vec![1, 2, 3]]);
        // Room again once the queue has been exported.
        p.on_end(span(6, true));
        let flushed = p.clone();
        blocking(move || flushed.force_flush())
            .await
            .expect("flushed");
        assert_eq!(batches(&collector), [vec![1, 2, 3], vec![6]]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_exports_what_is_pending_then_refuses_more() {
        let (p, collector) = processor(Duration::from_secs(60), 10_000).await;
        p.on_end(span(1, true));
        p.on_end(span(2, true));
        let stopped = p.clone();
        blocking(move || stopped.shutdown_with_timeout(Duration::from_secs(5)))
            .await
            .expect("shut down");
        assert_eq!(batches(&collector), [vec![1, 2]]);

        p.on_end(span(3, true));
        let again = p.clone();
        let second = blocking(move || again.shutdown_with_timeout(Duration::from_secs(1))).await;
        assert!(matches!(second, Err(OTelSdkError::AlreadyShutdown)));
        let flushed = p.clone();
        let flush = blocking(move || flushed.force_flush()).await;
        assert!(matches!(flush, Err(OTelSdkError::AlreadyShutdown)));
        assert_eq!(batches(&collector).len(), 1, "nothing after shutdown");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_collector_that_is_down_costs_a_warning_not_the_service() {
        let exporter = OtlpHttpExporter::new(
            "http://127.0.0.1:9/v1/traces",
            Duration::from_millis(500),
            &[],
        );
        let p = Arc::new(EncodingProcessor::new(
            exporter,
            Duration::from_secs(60),
            100,
        ));
        p.on_end(span(1, true));
        let flushed = p.clone();
        blocking(move || flushed.force_flush())
            .await
            .expect("a failed export still completes the flush");
        let stopped = p.clone();
        blocking(move || stopped.shutdown_with_timeout(Duration::from_secs(5)))
            .await
            .expect("shut down");
    }
}
