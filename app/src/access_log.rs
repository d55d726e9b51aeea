//! The access log on stdout, one line per request, written in batches by a thread of its own.
//!
//! A `println!` per request took stdout's lock and made a `write` per line on the request's
//! own worker thread. Here a request only appends its line to a buffer in memory; the writer
//! thread wakes when the buffer stops being empty, lets a burst gather for `GATHER`, and writes
//! it with one `write`. So every request is logged, in order, at most about `GATHER` late (a
//! process killed with SIGKILL loses at most that much; graceful shutdown calls `flush`). When
//! stdout cannot keep up, requests wait once `MAX_PENDING` bytes are buffered, as they waited
//! on `println!`, instead of the buffer growing without bound.

use std::net::IpAddr;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use axum::http::Method;

use crate::config::LogFormat;

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

    /// Appends the line `write` puts in the buffer, and a newline. It writes in place, under
    /// the lock: a line made apart and then copied cost an allocation and a copy per request.
    fn append(&self, write: impl FnOnce(&mut String)) {
        let mut state = lock(self);
        while state.buffer.len() >= MAX_PENDING {
            state = self
                .drained
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        let was_empty = state.buffer.is_empty();
        write(&mut state.buffer);
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

/// One request's line, `200 GET /elb/web (10.0.1.7) 0.84ms` or its JSON form: begun before
/// the request is answered (method, path, client), ended with the status, the time and the
/// request id. Put together piece by piece: `format!` with its arguments' `Display` was the
/// largest single cost of answering a cached request.
pub struct Line {
    format: LogFormat,
    /// Text: `GET /elb/web (10.0.1.7) `; JSON: `,"method":"GET",…,"client":"10.0.1.7"`.
    middle: String,
}

impl Line {
    pub fn begin(format: LogFormat, method: &Method, path: &str, client: Option<IpAddr>) -> Self {
        let mut middle = String::with_capacity(64 + path.len());
        match format {
            LogFormat::Text => {
                middle.push_str(method.as_str());
                middle.push(' ');
                middle.push_str(path);
                middle.push_str(" (");
                push_client(&mut middle, client);
                middle.push_str(") ");
            }
            LogFormat::Json => {
                // A method is a token (letters, digits and `!#$%&'*+-.^_`|~`, as `http` checks
                // it): nothing in it needs escaping.
                middle.push_str(",\"method\":\"");
                middle.push_str(method.as_str());
                middle.push_str("\",\"path\":");
                push_json_string(&mut middle, path);
                middle.push_str(",\"client\":\"");
                push_client(&mut middle, client);
                middle.push('"');
            }
        }
        Self { format, middle }
    }

    /// Appends the line to the access log.
    pub fn end(self, status: u16, elapsed: Duration, id: &str) {
        log().append(|buffer| self.write(buffer, status, elapsed, id));
    }

    /// The whole line, without its newline, onto `out`.
    fn write(&self, out: &mut String, status: u16, elapsed: Duration, id: &str) {
        // Hundredths of a millisecond, rounded, printed without float formatting.
        let hundredths = u64::try_from((elapsed.as_micros() + 5) / 10).unwrap_or(u64::MAX);
        match self.format {
            LogFormat::Text => {
                push_number(out, u64::from(status));
                out.push(' ');
                out.push_str(&self.middle);
                push_millis(out, hundredths);
                out.push_str("ms");
            }
            LogFormat::Json => {
                out.push_str("{\"status\":");
                push_number(out, u64::from(status));
                out.push_str(&self.middle);
                out.push_str(",\"ms\":");
                push_millis(out, hundredths);
                out.push_str(",\"requestId\":\"");
                out.push_str(id);
                out.push_str("\"}");
            }
        }
    }
}

fn push_json_string(line: &mut String, text: &str) {
    // The usual path needs no escaping; any other goes through serde_json.
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        line.push('"');
        line.push_str(text);
        line.push('"');
    } else {
        line.push_str(&serde_json::to_string(text).expect("a string serializes"));
    }
}

/// `10.0.1.7`, or `-` when the request came through no socket. IPv4 without `Display`'s
/// formatting machinery, which showed in the profile; IPv6 through it.
fn push_client(line: &mut String, client: Option<IpAddr>) {
    match client {
        Some(IpAddr::V4(v4)) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    line.push('.');
                }
                push_number(line, u64::from(octet));
            }
        }
        Some(IpAddr::V6(v6)) => {
            use std::fmt::Write;
            let _ = write!(line, "{v6}");
        }
        None => line.push('-'),
    }
}

/// Hundredths of a millisecond as `0.84`.
fn push_millis(line: &mut String, hundredths: u64) {
    let (whole, part) = (hundredths / 100, hundredths % 100);
    push_number(line, whole);
    line.push('.');
    line.push(char::from(b'0' + (part / 10) as u8));
    line.push(char::from(b'0' + (part % 10) as u8));
}

fn push_number(line: &mut String, n: u64) {
    line.push_str(itoa::Buffer::new().format(n));
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
                        log.append(|buffer| buffer.push_str(&format!("{t} {i}")));
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
        log.append(|buffer| buffer.push_str("last"));
        log.flush();
        assert!(recorder.0.lock().unwrap().concat().ends_with("last\n"));
    }

    fn finished(line: &Line, status: u16, micros: u64, id: &str) -> String {
        let mut out = String::new();
        line.write(&mut out, status, Duration::from_micros(micros), id);
        out
    }

    fn text_line(status: u16, method: &Method, path: &str, client: Option<IpAddr>, micros: u64) -> String {
        finished(
            &Line::begin(LogFormat::Text, method, path, client),
            status,
            micros,
            "id",
        )
    }

    #[test]
    fn the_text_line_reads_as_before() {
        let client = Some("10.0.1.7".parse().unwrap());
        assert_eq!(
            text_line(200, &Method::GET, "/elb/web", client, 840),
            "200 GET /elb/web (10.0.1.7) 0.84ms"
        );
        assert_eq!(
            text_line(503, &Method::POST, "/x", None, 10_250_046),
            "503 POST /x (-) 10250.05ms"
        );
    }

    #[test]
    fn the_json_line_is_json_whatever_the_path() {
        let client = Some("2001:db8::7".parse().unwrap());
        let id = crate::request::RequestId::next().to_string();
        let method = Method::from_bytes(b"M-SEARCH").unwrap();
        let line = Line::begin(LogFormat::Json, &method, "/a\"b\\c\u{1}", client);
        let value: serde_json::Value = serde_json::from_str(&finished(&line, 404, 1_234_560, &id)).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"status": 404, "method": "M-SEARCH", "path": "/a\"b\\c\u{1}", "client": "2001:db8::7", "ms": 1234.56, "requestId": id})
        );
        let line = Line::begin(LogFormat::Json, &Method::GET, "/elb/web", None);
        assert_eq!(
            finished(&line, 200, 40, &id),
            format!(r#"{{"status":200,"method":"GET","path":"/elb/web","client":"-","ms":0.04,"requestId":"{id}"}}"#)
        );
    }
}
