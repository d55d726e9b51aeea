//! The API deployer ships: `GET /elb/{name}` lists the instances (or ECS task IPs) behind a load
//! balancer, `POST`/`DELETE` register and deregister instances, all behind HTTP basic auth;
//! `/healthcheck`, `/metrics` and `/openapi.json` around them. `router` builds the service
//! without a socket so tests can drive it; `serve` runs it until the shutdown signal.

pub mod auth;
pub mod balancers;
pub mod config;
pub mod error;
pub mod metrics;
mod routes;

pub use routes::{AppState, router};

use std::future::Future;
use std::net::SocketAddr;

/// The OpenAPI 3 description of every route, served at /openapi.json.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Serves until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
