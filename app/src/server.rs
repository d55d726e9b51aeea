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
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
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

/// Serves `router` on `listener` until `shutdown` resolves, then lets requests in flight
/// finish (for at most `SHUTDOWN_GRACE`).
pub async fn serve_router(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
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

async fn serve_connection(
    stream: TcpStream,
    remote: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    watch: hyper_util::server::graceful::Watcher,
) {
    let activity = Arc::new(Mutex::new(Activity::Idle(Instant::now())));
    let io = TokioIo::new(Watched {
        stream,
        activity: activity.clone(),
    });
    let in_service = activity.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(remote));
        let (router, activity) = (router.clone(), in_service.clone());
        Activity::request_started(&activity);
        async move {
            let response = router.oneshot(request).await;
            Activity::request_finished(&activity);
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
async fn watchdog(activity: &Mutex<Activity>, limits: ConnectionLimits) {
    loop {
        tokio::time::sleep(WATCH_INTERVAL).await;
        let expired = match *activity.lock().expect("never poisoned") {
            Activity::Idle(since) => since.elapsed() >= limits.idle_timeout,
            Activity::ReadingHead(since) => since.elapsed() >= limits.header_read_timeout,
            Activity::Busy(_) => false,
        };
        if expired {
            return;
        }
    }
}

/// What a connection is doing, as far as its limits care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Activity {
    /// Nothing in flight and no byte of a next request since then.
    Idle(Instant),
    /// The first bytes of a request head arrived then; the whole head has not.
    ReadingHead(Instant),
    /// This many requests in flight (more than one only with pipelining).
    Busy(usize),
}

impl Activity {
    fn bytes_arrived(activity: &Mutex<Activity>) {
        let mut activity = activity.lock().expect("never poisoned");
        if let Activity::Idle(_) = *activity {
            *activity = Activity::ReadingHead(Instant::now());
        }
    }

    fn request_started(activity: &Mutex<Activity>) {
        let mut activity = activity.lock().expect("never poisoned");
        *activity = match *activity {
            Activity::Busy(n) => Activity::Busy(n + 1),
            Activity::Idle(_) | Activity::ReadingHead(_) => Activity::Busy(1),
        };
    }

    fn request_finished(activity: &Mutex<Activity>) {
        let mut activity = activity.lock().expect("never poisoned");
        *activity = match *activity {
            Activity::Busy(n) if n > 1 => Activity::Busy(n - 1),
            _ => Activity::Idle(Instant::now()),
        };
    }
}

/// The socket, reporting arriving bytes to the watchdog.
struct Watched {
    stream: TcpStream,
    activity: Arc<Mutex<Activity>>,
}

impl AsyncRead for Watched {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            Activity::bytes_arrived(&this.activity);
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
        let activity = Mutex::new(Activity::Idle(Instant::now()));
        Activity::bytes_arrived(&activity);
        assert!(matches!(*activity.lock().unwrap(), Activity::ReadingHead(_)));
        Activity::request_started(&activity);
        // Body bytes of a request in flight change nothing.
        Activity::bytes_arrived(&activity);
        assert_eq!(*activity.lock().unwrap(), Activity::Busy(1));
        Activity::request_started(&activity);
        Activity::request_finished(&activity);
        assert_eq!(*activity.lock().unwrap(), Activity::Busy(1));
        Activity::request_finished(&activity);
        assert!(matches!(*activity.lock().unwrap(), Activity::Idle(_)));
    }
}
