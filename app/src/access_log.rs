//! The access log on stdout, one line per request, written in batches by a thread of its own.
//!
//! A `println!` per request took stdout's lock and made a `write` per line on the request's
//! own worker thread. Here a request only appends its line to a buffer in memory; the writer
//! thread wakes when the buffer stops being empty, lets a burst gather for `GATHER`, and writes
//! it with one `write`. So every request is logged, in order, at most about `GATHER` late (a
//! process killed with SIGKILL loses at most that much; graceful shutdown calls `flush`). When
//! stdout cannot keep up, requests wait once `MAX_PENDING` bytes are buffered, as they waited
//! on `println!`, instead of the buffer growing without bound.

use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// How long the writer lets lines gather after the first one arrives.
const GATHER: Duration = Duration::from_millis(10);
/// Past this, the writer does not wait for more.
const BATCH: usize = 256 << 10;
/// Past this, requests wait for the writer.
const MAX_PENDING: usize = 4 << 20;

struct Log {
    state: Mutex<State>,
    /// The writer waits here for lines (or a flush).
    wake: Condvar,
    /// Requests past `MAX_PENDING`, and `flush`, wait here for the writer.
    drained: Condvar,
}

#[derive(Default)]
struct State {
    buffer: String,
    /// The writer holds lines taken from `buffer` that are not written yet.
    writing: bool,
    flush_asked: bool,
}

fn log() -> &'static Log {
    static LOG: OnceLock<&'static Log> = OnceLock::new();
    LOG.get_or_init(|| Log::start(print_batch))
}

/// Stdout through `print!`, which a test harness captures, and which writes a batch of whole
/// lines with one `write`. A failed write (stdout closed) drops the batch; it must not end the
/// thread, or requests would wait for it forever.
fn print_batch(batch: &str) {
    #[allow(clippy::print_stdout)]
    let _ = std::panic::catch_unwind(|| print!("{batch}"));
}

/// Appends one line (a newline is added).
pub fn line(text: &str) {
    log().line(text);
}

/// Returns once every line appended before the call is written.
pub fn flush() {
    log().flush();
}

fn lock(log: &Log) -> MutexGuard<'_, State> {
    log.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Log {
    /// A log handing its batches to `out` on a thread of its own, for the rest of the process.
    fn start(mut out: impl FnMut(&str) + Send + 'static) -> &'static Self {
        let log: &'static Self = Box::leak(Box::new(Self {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            drained: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || writer(log, &mut out))
            .expect("the access log's thread starts");
        log
    }

    fn line(&self, text: &str) {
        let mut state = lock(self);
        while state.buffer.len() >= MAX_PENDING {
            state = self
                .drained
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        let was_empty = state.buffer.is_empty();
        state.buffer.reserve(text.len() + 1);
        state.buffer.push_str(text);
        state.buffer.push('\n');
        let full = state.buffer.len() >= BATCH;
        drop(state);
        // Only the first line of a batch (and a full one) wakes the writer: a notification is
        // a system call, a line is not.
        if was_empty || full {
            self.wake.notify_one();
        }
    }

    fn flush(&self) {
        let mut state = lock(self);
        state.flush_asked = true;
        self.wake.notify_one();
        while !state.buffer.is_empty() || state.writing {
            state = self
                .drained
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        state.flush_asked = false;
    }
}

fn writer(log: &Log, out: &mut impl FnMut(&str)) {
    let mut batch = String::new();
    let mut state = lock(log);
    loop {
        if state.buffer.is_empty() {
            state.writing = false;
            log.drained.notify_all();
            state = log.wake.wait(state).unwrap_or_else(std::sync::PoisonError::into_inner);
            continue;
        }
        if state.buffer.len() < BATCH && !state.flush_asked {
            state = log
                .wake
                .wait_timeout(state, GATHER)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        std::mem::swap(&mut state.buffer, &mut batch);
        state.writing = true;
        drop(state);
        log.drained.notify_all();
        out(&batch);
        batch.clear();
        state = lock(log);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A sink that records its batches.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<String>>>);

    #[test]
    fn every_line_is_written_in_order_in_few_writes() {
        let recorder = Recorder::default();
        let batches = recorder.clone();
        let log = Log::start(move |batch: &str| batches.0.lock().unwrap().push(batch.to_owned()));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                std::thread::spawn(move || {
                    for i in 0..5_000 {
                        log.line(&format!("{t} {i}"));
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        log.flush();
        let writes = recorder.0.lock().unwrap().clone();
        let text = writes.concat();
        assert_eq!(text.lines().count(), 20_000);
        for t in 0..4 {
            let mine: Vec<String> = text
                .lines()
                .filter_map(|l| l.strip_prefix(&format!("{t} ")).map(str::to_owned))
                .collect();
            let expected: Vec<String> = (0..5_000).map(|i| i.to_string()).collect();
            assert_eq!(mine, expected, "each thread's lines, in order");
        }
        assert!(writes.len() < 200, "{} writes for 20000 lines", writes.len());
        // A line after a flush is written too.
        log.line("last");
        log.flush();
        assert!(recorder.0.lock().unwrap().concat().ends_with("last\n"));
    }
}
