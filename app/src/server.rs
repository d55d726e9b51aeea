//! The HTTP server: connections accepted up to a limit, each watched so that a client cannot
//! hold one open without sending a request, and graceful shutdown.
//!
//! Not `axum::serve`: it sets no timer, so a connection that sends half a request head is kept
//! forever, and it has no connection limit. hyper's own header-read timeout is not used
//! either: it also bounds the idle time of a kept-alive connection, and a target that closes
//! idle connections before the load balancer does (ALB and classic ELB keep them 60 s) makes
//! the load balancer answer 502 now and then. So each connection has a watchdog with two
//! separate limits: a request head must arrive whole within `header_read_timeout` of its first
//! byte, and a connection with nothing in flight is closed after `idle_timeout`.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// How long shutdown waits for requests in flight before closing their connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);
/// How often a connection's watchdog looks at it.
const WATCH_INTERVAL: Duration = Duration::from_millis(250);

/// Connection limits, from the environment (see `config`).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

/// What a port serves: a router, or one wrapped in a service of its own. Not a tower
/// `Service`: the answer is an unnamed future (no box per request), and the connection's
/// peer comes with the request (no task-local around every poll of the connection).
pub trait Routes: Send + 'static {
    fn answer(
        &mut self,
        request: axum::extract::Request,
        peer: SocketAddr,
    ) -> impl Future<Output = axum::response::Response> + Send + 'static + use<Self>;
}

impl Routes for axum::Router {
    fn answer(
        &mut self,
        request: axum::extract::Request,
        _: SocketAddr,
    ) -> impl Future<Output = axum::response::Response> + Send + 'static + use<> {
        // A router is always ready (axum's `poll_ready` is always `Ready`).
        let answer = tower::Service::call(self, request);
        async move { answer.await.unwrap_or_else(|never: Infallible| match never {}) }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets requests in flight
/// finish (for at most `SHUTDOWN_GRACE`).
pub async fn serve_router<S>(
    listener: TcpListener,
    router: S,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    S: Routes + Clone,
{
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    tokio::pin!(shutdown);
    loop {
        // At the limit, new connections wait in the kernel's accept queue.
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: pause instead of spinning.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let watch = graceful.watcher();
        let router = router.clone();
        tokio::spawn(async move {
            serve_connection(stream, remote, router, limits, watch).await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
    Ok(())
}

async fn serve_connection<S: Routes>(
    stream: TcpStream,
    peer: SocketAddr,
    router: S,
    limits: ConnectionLimits,
    watch: hyper_util::server::graceful::Watcher,
) {
    let activity = Arc::new(Activity::default());
    let io = TokioIo::new(Watched {
        stream,
        activity: activity.clone(),
    });
    let in_service = activity.clone();
    // The connection's own router, called in place: a clone per request would write the
    // router's shared reference count, on both cores, twice per request.
    let router = std::cell::RefCell::new(router);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        in_service.request_started();
        let answer = router.borrow_mut().answer(request.map(axum::body::Body::new), peer);
        let activity = in_service.clone();
        async move {
            let response = answer.await;
            activity.request_finished();
            Ok::<_, Infallible>(response)
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(None);
    let connection = watch.watch(builder.serve_connection(io, service));
    tokio::select! {
        _ = connection => {}
        () = watchdog(&activity, limits) => {}
    }
}

/// Resolves when the connection broke a limit; dropping the connection then closes it.
///
/// The watchdog keeps the time, not the connection: the connection only changes its state
/// (no clock read on its path), and the watchdog counts how many of its looks in a row found
/// the same one. A state seen unchanged `n` looks after the first began at least
/// `n × WATCH_INTERVAL` ago, so a limit is never enforced early, and at most one interval late
/// (later only when the runtime is too busy to wake the watchdog on time).
async fn watchdog(activity: &Activity, limits: ConnectionLimits) {
    let looks = |limit: Duration| limit.as_millis().div_ceil(WATCH_INTERVAL.as_millis()).max(1);
    let (idle_looks, head_looks) = (looks(limits.idle_timeout), looks(limits.header_read_timeout));
    let mut seen = activity.word();
    let mut unchanged: u128 = 0;
    loop {
        tokio::time::sleep(WATCH_INTERVAL).await;
        let word = activity.word();
        if word == seen {
            unchanged += 1;
        } else {
            (seen, unchanged) = (word, 0);
        }
        let expired = match State::decode(word) {
            State::Idle => unchanged >= idle_looks,
            State::ReadingHead => unchanged >= head_looks,
            State::Busy(_) => false,
        };
        if expired {
            return;
        }
    }
}

/// What a connection is doing, as far as its limits care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing in flight and no byte of a next request since then.
    Idle,
    /// The first bytes of a request head arrived; the whole head has not.
    ReadingHead,
    /// This many requests in flight (more than one only with pipelining).
    Busy(u32),
}

/// A connection's `State` in one atomic word, written by every read of the socket and read
/// by the watchdog: a lock there cost a few percent of a cached answer. The top two bits say
/// which state, the next 30 count the changes of state (so that the watchdog tells a state
/// from the same state entered again), the low 32 hold `Busy`'s count.
#[derive(Default)]
struct Activity {
    word: AtomicU64,
}

const KIND_SHIFT: u32 = 62;
const CHANGES_SHIFT: u32 = 32;
const CHANGES_MASK: u64 = (1 << (KIND_SHIFT - CHANGES_SHIFT)) - 1;

impl State {
    fn kind_and_count(self) -> (u64, u64) {
        match self {
            State::Idle => (0, 0),
            State::ReadingHead => (1, 0),
            State::Busy(n) => (2, u64::from(n)),
        }
    }

    fn decode(word: u64) -> Self {
        match word >> KIND_SHIFT {
            0 => State::Idle,
            1 => State::ReadingHead,
            // Truncation keeps the low 32 bits, where the count is.
            _ => State::Busy(word as u32),
        }
    }
}

/// `state`, entered as the change after the one `word` holds.
fn next_word(word: u64, state: State) -> u64 {
    let changes = ((word >> CHANGES_SHIFT) + 1) & CHANGES_MASK;
    let (kind, count) = state.kind_and_count();
    (kind << KIND_SHIFT) | (changes << CHANGES_SHIFT) | count
}

impl Activity {
    fn word(&self) -> u64 {
        self.word.load(Ordering::Acquire)
    }

    fn state(&self) -> State {
        State::decode(self.word())
    }

    fn update(&self, change: impl Fn(State) -> Option<State>) {
        let _ = self.word.fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
            change(State::decode(word)).map(|state| next_word(word, state))
        });
    }

    fn bytes_arrived(&self) {
        // Only the first bytes after idling change anything: a plain load for the rest.
        if self.state() == State::Idle {
            self.update(|state| (state == State::Idle).then_some(State::ReadingHead));
        }
    }

    fn request_started(&self) {
        self.update(|state| {
            Some(match state {
                State::Busy(n) => State::Busy(n + 1),
                State::Idle | State::ReadingHead => State::Busy(1),
            })
        });
    }

    fn request_finished(&self) {
        self.update(|state| {
            Some(match state {
                State::Busy(n) if n > 1 => State::Busy(n - 1),
                _ => State::Idle,
            })
        });
    }
}

/// The socket, reporting arriving bytes to the watchdog.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.bytes_arrived();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buffers: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, buffers)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_is_idle_reading_a_head_or_busy() {
        let activity = Activity::default();
        assert_eq!(activity.state(), State::Idle);
        activity.bytes_arrived();
        assert_eq!(activity.state(), State::ReadingHead);
        activity.request_started();
        // Body bytes of a request in flight change nothing.
        activity.bytes_arrived();
        assert_eq!(activity.state(), State::Busy(1));
        activity.request_started();
        activity.request_finished();
        assert_eq!(activity.state(), State::Busy(1));
        activity.request_finished();
        assert_eq!(activity.state(), State::Idle);
    }

    #[test]
    fn idle_again_is_not_the_same_idle() {
        let activity = Activity::default();
        let before = activity.word();
        for _ in 0..3 {
            activity.bytes_arrived();
            activity.request_started();
            activity.request_finished();
        }
        assert_eq!(activity.state(), State::Idle);
        assert_ne!(
            activity.word(),
            before,
            "the watchdog must see that the connection was used"
        );
        // The count of changes wraps without touching the state or the count in flight.
        let word = (CHANGES_MASK << CHANGES_SHIFT) | (2 << KIND_SHIFT) | 7;
        assert_eq!(State::decode(next_word(word, State::Busy(8))), State::Busy(8));
        assert_eq!(State::decode(next_word(word, State::Idle)), State::Idle);
    }

    /// Never early, and about one look late at most (more on a machine too busy to wake the
    /// watchdog on time, hence the slack).
    #[tokio::test]
    async fn the_watchdog_enforces_each_limit_from_its_state_s_start() {
        let limits = ConnectionLimits {
            header_read_timeout: Duration::from_millis(500),
            idle_timeout: Duration::from_millis(1000),
            max_connections: 1,
        };
        let on_time = |took: Duration, limit: Duration| {
            assert!(
                took >= limit && took <= limit + 4 * WATCH_INTERVAL,
                "{took:?} for {limit:?}"
            );
        };
        let activity = Activity::default();
        let started = tokio::time::Instant::now();
        watchdog(&activity, limits).await;
        on_time(started.elapsed(), limits.idle_timeout);

        activity.bytes_arrived();
        let started = tokio::time::Instant::now();
        watchdog(&activity, limits).await;
        on_time(started.elapsed(), limits.header_read_timeout);

        // Busy past both limits: never closed.
        activity.request_started();
        let busy = tokio::time::timeout(Duration::from_millis(1500), watchdog(&activity, limits)).await;
        assert!(busy.is_err(), "a connection with a request in flight is left alone");

        // Idle from the request's end, not from the watchdog's start.
        let finish_later = async {
            tokio::time::sleep(Duration::from_millis(600)).await;
            activity.request_finished();
            tokio::time::Instant::now()
        };
        let (_, finished) = tokio::join!(watchdog(&activity, limits), finish_later);
        on_time(finished.elapsed(), limits.idle_timeout);
    }
}
