//! Log lines kept in memory, for tests of what a service writes to its log.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

use bookinfo_core::telemetry::{TextFields, TextLines};
use tracing_subscriber::EnvFilter;

/// Everything the process-wide log subscriber has written; cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Install a subscriber with `filter` that writes here instead of to stdout, in the text
    /// format the services write when their output is not a terminal
    /// ([`bookinfo_core::telemetry::TextLines`]). The subscriber is process-wide, so a test that
    /// calls this is a test binary of its own.
    pub fn install(filter: EnvFilter) -> Self {
        let logs = Self::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .event_format(TextLines)
            .fmt_fields(TextFields)
            .with_env_filter(filter)
            .with_writer(move || writer.clone())
            .init();
        logs
    }

    /// What has been written so far.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
