//! The request being answered: its id and its client, carried in a task-local rather than a
//! request extension (the auth throttle and the error log need them, deep in the router).

use std::net::IpAddr;
use std::time::Instant;

tokio::task_local! {
    /// The request being answered, set by the access log around each request: an error names
    /// its id to the caller and to the log, and the auth throttle counts by its client.
    static CURRENT: Current;
}

#[derive(Debug, Clone, Copy)]
pub struct Current {
    pub id: RequestId,
    /// None for a request that came through no socket (a test driving the router).
    pub client: Option<IpAddr>,
    /// When the request arrived: what its answer is timed from, and the "now" a cached
    /// answer's freshness is judged at (one clock read per request instead of two).
    pub started: Instant,
}

/// Runs `future` (a request's answer) as `current`.
pub async fn scope<F: std::future::Future>(current: Current, future: F) -> F::Output {
    CURRENT.scope(current, future).await
}

/// The current request's client, if known.
pub fn client() -> Option<IpAddr> {
    CURRENT.try_with(|current| current.client).ok().flatten()
}

/// When the current request arrived, or now outside a request.
pub fn started() -> Instant {
    CURRENT
        .try_with(|current| current.started)
        .unwrap_or_else(|_| Instant::now())
}

/// The current request's id, or a new one outside a request.
pub fn current_id() -> RequestId {
    CURRENT
        .try_with(|current| current.id)
        .unwrap_or_else(|_| RequestId::next())
}

/// A request id unique across the API's processes: a per-process random part and a counter,
/// `0123456789abcdef-2a`. Copied, not allocated, until it is written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestId(u64);

/// The longest id: 16 hex digits, `-`, 16 hex digits.
const ID_LENGTH: usize = 33;

impl RequestId {
    /// Unique within the process; not in order across threads: each thread takes a block of
    /// counter values at a time, so that requests on two cores do not share one counter's
    /// cache line.
    pub fn next() -> Self {
        use std::cell::Cell;
        use std::sync::atomic::{AtomicU64, Ordering};
        const BLOCK: u64 = 1024;
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        thread_local! {
            /// The next value of this thread's block, and the block's end.
            static TAKEN: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
        }
        TAKEN.with(|taken| {
            let (mut next, mut end) = taken.get();
            if next == end {
                next = COUNTER.fetch_add(BLOCK, Ordering::Relaxed);
                end = next + BLOCK;
            }
            taken.set((next + 1, end));
            Self(next)
        })
    }

    /// The id as text, in a buffer of its own (the response header takes it from there).
    pub fn encode(self, buffer: &mut [u8; ID_LENGTH]) -> &str {
        use std::sync::OnceLock;
        static PROCESS: OnceLock<u64> = OnceLock::new();
        let process = *PROCESS.get_or_init(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::from(d.subsec_nanos()) ^ d.as_secs());
            nanos.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(std::process::id())
        });
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for (i, byte) in buffer[..16].iter_mut().enumerate() {
            *byte = HEX[((process >> (60 - 4 * i)) & 0xf) as usize];
        }
        buffer[16] = b'-';
        let digits = (64 - self.0.leading_zeros()).div_ceil(4).max(1) as usize;
        for i in 0..digits {
            buffer[17 + i] = HEX[((self.0 >> (4 * (digits - 1 - i))) & 0xf) as usize];
        }
        std::str::from_utf8(&buffer[..17 + digits]).expect("hex digits are ASCII")
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.encode(&mut [0; ID_LENGTH]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_id_is_the_process_part_and_the_counter_in_hex() {
        let (a, b) = (RequestId::next(), RequestId::next());
        let others: Vec<RequestId> = std::thread::spawn(|| (0..2000).map(|_| RequestId::next()).collect())
            .join()
            .unwrap();
        assert!(!others.contains(&a) && !others.contains(&b), "unique across threads");
        let (a, b) = (a.to_string(), b.to_string());
        assert_ne!(a, b);
        let (process, counter) = a.split_once('-').unwrap();
        assert_eq!(process.len(), 16);
        assert!(process.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(b.starts_with(process), "one process part: {a} {b}");
        assert!(!counter.is_empty() && counter.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(RequestId(0).to_string().split_once('-').unwrap().1, "0");
        assert_eq!(RequestId(0x2a).to_string().split_once('-').unwrap().1, "2a");
        assert_eq!(RequestId(u64::MAX).to_string().len(), ID_LENGTH);
    }
}
