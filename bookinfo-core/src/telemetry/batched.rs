//! Log lines to standard output, gathered per runtime worker until it goes idle.
//!
//! Written one `write` per line, the access log cost a page view four system calls on a file,
//! one per service. Here each worker thread of the runtime keeps the lines it writes in a buffer
//! of its own and writes them in one go when it runs out of work ([`flush_thread`], from the
//! runtime's park hook), when the buffer reaches [`LIMIT`], or when a warning or an error comes
//! (written at once, after the lines before it). No other thread is woken and no lock is taken:
//! under load one `write` carries several lines, and an idle service has written every line.
//! Measured with the logs going to files (`scripts/bench-ab.sh`, 9 rounds each): 1.027 and 1.062
//! times the page views per second at 16 connections, 1.051 at 64; a writer thread of its own
//! gathering the lines instead was no faster (0.989, 0.977). docs/performance.md, "Eighth round".
//!
//! Threads that are not runtime workers (start-up, the blocking pool) write each line at once.
//! Lines of different workers can reach the output in a different order than their timestamps;
//! each worker's own lines stay in order.

use std::cell::RefCell;
use std::io::{self, Write};

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// Buffered bytes at which a worker writes its lines without waiting to go idle.
const LIMIT: usize = 32 * 1024;

thread_local! {
    /// This thread's waiting lines; `None` until the thread first goes idle as a runtime worker.
    static WAITING: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

fn write_stdout(bytes: &[u8]) {
    // A log line that cannot be written has nowhere else to go.
    let _ = io::stdout().lock().write_all(bytes);
}

/// Runs `f` on this thread's waiting lines (`None` while the thread does not gather them), unless
/// they are already borrowed further up this thread's stack; `None` then.
fn with_waiting<R>(f: impl FnOnce(&mut Option<Vec<u8>>) -> R) -> Option<R> {
    WAITING.with(|waiting| {
        waiting
            .try_borrow_mut()
            .ok()
            .map(|mut waiting| f(&mut waiting))
    })
}

/// Writes this thread's waiting lines, and from now on gathers them: the runtime calls it each
/// time one of its workers is about to go idle.
pub fn flush_thread() {
    with_waiting(|waiting| match waiting.as_mut() {
        Some(buf) if !buf.is_empty() => {
            write_stdout(buf);
            buf.clear();
        }
        Some(_) => {}
        None => *waiting = Some(Vec::with_capacity(4096)),
    });
}

/// Writes this thread's waiting lines and stops gathering them: the runtime calls it when one of
/// its threads stops. A thread that never gathered (the blocking pool's) has nothing to write and
/// gets no buffer.
pub fn finish_thread() {
    with_waiting(|waiting| {
        if let Some(buf) = waiting.take()
            && !buf.is_empty()
        {
            write_stdout(&buf);
        }
    });
}

/// Standard output through the workers' buffers, for `tracing_subscriber::fmt`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Batched;

/// One line's writer: `urgent` lines (warnings and errors) are written at once.
#[derive(Debug)]
pub struct Line {
    urgent: bool,
}

impl<'a> MakeWriter<'a> for Batched {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line { urgent: false }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Line {
        Line {
            urgent: *meta.level() <= Level::WARN,
        }
    }
}

impl Write for Line {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let urgent = self.urgent;
        let gathered = with_waiting(|waiting| {
            let Some(buf) = waiting.as_mut() else {
                return false;
            };
            buf.extend_from_slice(line);
            if urgent || buf.len() >= LIMIT {
                write_stdout(buf);
                buf.clear();
            }
            true
        });
        if gathered != Some(true) {
            write_stdout(line);
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gathering() -> bool {
        WAITING.with(|waiting| waiting.borrow().is_some())
    }

    #[test]
    fn only_a_thread_that_went_idle_as_a_worker_gathers_and_stopping_ends_it() {
        std::thread::scope(|s| {
            // A blocking-pool thread: stopped without ever going idle as a worker.
            s.spawn(|| {
                finish_thread();
                assert!(!gathering());
            });
            // A worker: gathers from its first idle moment until it stops.
            s.spawn(|| {
                assert!(!gathering());
                flush_thread();
                assert!(gathering());
                flush_thread();
                assert!(gathering());
                finish_thread();
                assert!(!gathering());
            });
        });
    }
}
