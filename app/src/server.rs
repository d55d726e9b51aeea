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
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

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

/// What a port serves: a router, or one wrapped in a service of its own.
pub trait Routes:
    tower::Service<axum::extract::Request, Response = axum::response::Response, Error = Infallible, Future: Send>
    + Clone
    + Send
    + 'static
{
}

impl<S> Routes for S where
    S: tower::Service<axum::extract::Request, Response = axum::response::Response, Error = Infallible, Future: Send>
        + Clone
        + Send
        + 'static
{
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
    S: Routes,
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
            crate::request::with_peer(remote, serve_connection(stream, router, limits, watch)).await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
    Ok(())
}

async fn serve_connection<S: Routes>(
    stream: TcpStream,
    router: S,
    limits: ConnectionLimits,
    watch: hyper_util::server::graceful::Watcher,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        stream,
        activity: activity.clone(),
    });
    let in_service = activity.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let (router, activity) = (router.clone(), in_service.clone());
        activity.request_started();
        async move {
            let response = router.oneshot(request.map(axum::body::Body::new)).await;
            activity.request_finished();
            Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
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
async fn watchdog(activity: &Activity, limits: ConnectionLimits) {
    loop {
        tokio::time::sleep(WATCH_INTERVAL).await;
        let expired = match activity.state() {
            State::Idle(since) => activity.since(since) >= limits.idle_timeout,
            State::ReadingHead(since) => activity.since(since) >= limits.header_read_timeout,
            State::Busy(_) => false,
        };
        if expired {
            return;
        }
    }
}

/// What a connection is doing, as far as its limits care. Times are milliseconds after the
/// connection's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing in flight and no byte of a next request since then.
    Idle(u64),
    /// The first bytes of a request head arrived then; the whole head has not.
    ReadingHead(u64),
    /// This many requests in flight (more than one only with pipelining).
    Busy(u64),
}

/// A connection's `State` in one atomic word, written by every read of the socket and read
/// by the watchdog: a lock there cost a few percent of a cached answer. The top two bits say
/// which state, the rest hold its time or count.
struct Activity {
    started: Instant,
    word: AtomicU64,
}

const KIND_SHIFT: u32 = 62;
const VALUE_MASK: u64 = (1 << KIND_SHIFT) - 1;

impl State {
    fn encode(self) -> u64 {
        let (kind, value) = match self {
            State::Idle(at) => (0, at),
            State::ReadingHead(at) => (1, at),
            State::Busy(n) => (2, n),
        };
        (kind << KIND_SHIFT) | (value & VALUE_MASK)
    }

    fn decode(word: u64) -> Self {
        let value = word & VALUE_MASK;
        match word >> KIND_SHIFT {
            0 => State::Idle(value),
            1 => State::ReadingHead(value),
            _ => State::Busy(value),
        }
    }
}

impl Activity {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            word: AtomicU64::new(State::Idle(0).encode()),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(VALUE_MASK)
    }

    /// How long ago `at` (a time of this connection's) was.
    fn since(&self, at: u64) -> Duration {
        Duration::from_millis(self.now().saturating_sub(at))
    }

    fn state(&self) -> State {
        State::decode(self.word.load(Ordering::Acquire))
    }

    fn update(&self, change: impl Fn(State) -> Option<State>) {
        let _ = self.word.fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
            change(State::decode(word)).map(State::encode)
        });
    }

    fn bytes_arrived(&self) {
        // Only the first bytes after idling change anything: a plain load for the rest.
        if let State::Idle(_) = self.state() {
            let now = self.now();
            self.update(|state| matches!(state, State::Idle(_)).then_some(State::ReadingHead(now)));
        }
    }

    fn request_started(&self) {
        self.update(|state| {
            Some(match state {
                State::Busy(n) => State::Busy(n + 1),
                State::Idle(_) | State::ReadingHead(_) => State::Busy(1),
            })
        });
    }

    fn request_finished(&self) {
        let now = self.now();
        self.update(|state| {
            Some(match state {
                State::Busy(n) if n > 1 => State::Busy(n - 1),
                _ => State::Idle(now),
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
        let activity = Activity::new();
        assert!(matches!(activity.state(), State::Idle(_)));
        activity.bytes_arrived();
        assert!(matches!(activity.state(), State::ReadingHead(_)));
        activity.request_started();
        // Body bytes of a request in flight change nothing.
        activity.bytes_arrived();
        assert_eq!(activity.state(), State::Busy(1));
        activity.request_started();
        activity.request_finished();
        assert_eq!(activity.state(), State::Busy(1));
        activity.request_finished();
        assert!(matches!(activity.state(), State::Idle(_)));
    }

    #[test]
    fn a_state_survives_its_encoding() {
        for state in [
            State::Idle(0),
            State::ReadingHead(123_456_789),
            State::Busy(3),
            State::Idle(VALUE_MASK),
        ] {
            assert_eq!(State::decode(state.encode()), state);
        }
    }
}
