//! The API deployer ships: `GET /elb/{name}` lists the instances (or ECS task IPs) behind a load
//! balancer, `POST`/`DELETE` register and deregister instances, all behind HTTP basic auth;
//! `/healthcheck` and `/openapi.json` around them, and `/metrics` on a port of its own.
//! `router` builds the service (the routes inside the access log) without a socket;
//! `serve` runs it and the metrics router on their listeners until the shutdown signal.

pub mod access_log;
pub mod auth;
pub mod balancers;
pub mod client;
pub mod config;
pub mod error;
pub mod metrics;
pub mod request;
mod routes;
pub mod server;
pub mod throttle;

pub use routes::{AppState, metrics_router, router};

use std::future::Future;

/// The HTTPS client for AWS calls: the SDK's own (hyper, rustls, the system's root
/// certificates) on ring rather than aws-lc-rs, whose C build is the slowest of the workspace.
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The OpenAPI 3 description of every route, served at /openapi.json.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Serves the API on `api` and `/metrics` on `metrics` until `shutdown` resolves, then lets
/// in-flight requests finish.
pub async fn serve(
    api: tokio::net::TcpListener,
    metrics: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.limits();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let when_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let (stop_api, stop_metrics) = (when_stopped(stopped.clone()), when_stopped(stopped));
    let api = server::serve_router(api, router(state), limits, stop_api);
    let metrics = server::serve_router(metrics, metrics_router(state), limits, stop_metrics);
    let served = tokio::try_join!(api, metrics).map(|_| ());
    // The last requests' lines, before the process exits.
    let _ = tokio::task::spawn_blocking(access_log::flush).await;
    served
}
