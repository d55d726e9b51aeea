//! Routes, middleware (auth, access log, metrics, timeout) and the cache in front of AWS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::error_handling::HandleErrorLayer;
use axum::extract::{ConnectInfo, MatchedPath, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{BoxError, Json, Router};
use moka::future::Cache;
use serde::Deserialize;
use serde_json::json;
use tower::ServiceBuilder;
use tower::limit::ConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;

use crate::auth::Credentials;
use crate::balancers::{Balancers, LookupError, Member};
use crate::config::{Config, LogFormat};
use crate::error::{AppError, REQUEST_ID, new_request_id};
use crate::metrics::Metrics;
use crate::server::ConnectionLimits;
use crate::throttle::Throttle;

/// Everything handlers share.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    balancers: Balancers,
    credentials: Option<Credentials>,
    /// Members by load balancer name. `try_get_with` runs one load per name at a time and
    /// hands its result to every concurrent caller, so a burst makes one AWS call.
    cache: Cache<String, Arc<Vec<Member>>>,
    metrics: Metrics,
    log_format: LogFormat,
    request_timeout: std::time::Duration,
    limits: ConnectionLimits,
    max_concurrent_requests: usize,
    throttle: Throttle,
}

impl AppState {
    pub fn new(config: &Config, aws: &aws_config::SdkConfig) -> Self {
        let metrics = Metrics::new();
        Self {
            inner: Arc::new(Inner {
                balancers: Balancers::new(aws, metrics.clone(), config.environment.clone()),
                credentials: config.credentials.clone(),
                cache: Cache::builder()
                    .time_to_live(config.cache_ttl)
                    .max_capacity(10_000)
                    .build(),
                metrics,
                log_format: config.log_format,
                request_timeout: config.request_timeout,
                limits: config.limits,
                max_concurrent_requests: config.max_concurrent_requests,
                throttle: Throttle::new(config.throttle),
            }),
        }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn limits(&self) -> ConnectionLimits {
        self.inner.limits
    }
}

pub fn router(state: AppState) -> Router {
    let timeout = state.inner.request_timeout;
    let limit = state.inner.max_concurrent_requests;
    // Past the limit, a clear 503 at once: a queue would only add latency to every request
    // while the load balancer keeps sending more.
    let shed = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(move |_: BoxError| async move {
            AppError::overloaded(limit)
        }))
        .layer(LoadShedLayer::new())
        .layer(ConcurrencyLimitLayer::new(limit));
    let protected = Router::new()
        .route("/elb/{name}", get(list_members).post(register).delete(deregister))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_auth))
        .layer(shed);
    Router::new()
        .route("/healthcheck", get(healthcheck))
        .route("/openapi.json", get(openapi))
        .merge(protected)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), access_log))
        .with_state(state)
}

/// `/metrics` alone, for the metrics port.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .with_state(state)
}

async fn healthcheck() -> Json<serde_json::Value> {
    Json(json!({"message": "ok"}))
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.inner.metrics.render(),
    )
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], crate::OPENAPI)
}

async fn not_found(request: Request) -> AppError {
    AppError::new(
        StatusCode::NOT_FOUND,
        format!("no route for {} {}", request.method(), request.uri().path()),
    )
}

async fn method_not_allowed(request: Request) -> AppError {
    AppError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{} is not allowed on {}", request.method(), request.uri().path()),
    )
}

/// Load balancer names: 1 to 32 letters, digits and hyphens (the same rule for ELB and ALB).
fn check_name(name: &str) -> Result<(), AppError> {
    let valid = (1..=32).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(AppError::new(
            StatusCode::BAD_REQUEST,
            "invalid load balancer name: use 1 to 32 letters, digits and `-`",
        ))
    }
}

async fn list_members(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    check_name(&name)?;
    let inner = &state.inner;
    let members = inner
        .cache
        .try_get_with(name.clone(), async {
            inner.balancers.members(&name).await.map(Arc::new)
        })
        .await
        .map_err(|error: Arc<LookupError>| AppError::from((*error).clone()))?;
    Ok(Json(json!({ "message": members.as_ref() })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InstanceBody {
    instance_id: String,
}

fn check_instance_id(id: &str) -> Result<(), AppError> {
    let hex = id.strip_prefix("i-").unwrap_or_default();
    if (8..=17).contains(&hex.len()) && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("`{id}` is not an instance id (i- followed by 8 to 17 hex digits)"),
        ))
    }
}

async fn register(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Result<Json<InstanceBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    check_name(&name)?;
    let Json(body) = body?;
    check_instance_id(&body.instance_id)?;
    state.inner.balancers.register(&name, &body.instance_id).await?;
    state.inner.cache.invalidate(&name).await;
    Ok((
        StatusCode::CREATED,
        Json(json!({"message": format!("{} registered with {name}", body.instance_id)})),
    ))
}

async fn deregister(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Result<Json<InstanceBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    check_name(&name)?;
    let Json(body) = body?;
    check_instance_id(&body.instance_id)?;
    state.inner.balancers.deregister(&name, &body.instance_id).await?;
    state.inner.cache.invalidate(&name).await;
    Ok(Json(
        json!({"message": format!("{} deregistered from {name}", body.instance_id)}),
    ))
}

/// Basic auth, with password guessing throttled per client address: a locked-out address
/// gets 429 without a comparison; others are answered at full speed.
async fn require_auth(State(state): State<AppState>, headers: HeaderMap, request: Request, next: Next) -> Response {
    let Some(credentials) = &state.inner.credentials else {
        return next.run(request).await;
    };
    let client = client_address(&request);
    let throttle = &state.inner.throttle;
    if let Some(client) = client
        && let Some(left) = throttle.locked_out(client).await
    {
        state.inner.metrics.auth_throttled();
        return AppError::TooManyFailures(left).into_response();
    }
    if credentials.accepts(headers.get(header::AUTHORIZATION)) {
        if let Some(client) = client {
            throttle.succeeded(client).await;
        }
        return next.run(request).await;
    }
    if let Some(client) = client {
        throttle.failed(client).await;
    }
    AppError::Unauthorized.into_response()
}

/// The client's address: behind a load balancer, the last `X-Forwarded-For` entry, which the
/// load balancer appended itself (entries before it come from the client and prove nothing);
/// otherwise the connection's peer.
fn client_address(request: &Request) -> Option<std::net::IpAddr> {
    let forwarded = request
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .next_back()
        .and_then(|v| v.trim().parse().ok());
    forwarded.or_else(|| request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()))
}

/// One line per request (`200 GET /elb/web (10.0.1.7) 0.84ms`) and the request metrics.
async fn access_log(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let client = client_address(&request).map_or_else(|| "-".to_owned(), |ip| ip.to_string());
    let id = new_request_id();
    let mut response = REQUEST_ID.scope(id.clone(), next.run(request)).await;
    if let Ok(value) = axum::http::HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    state.inner.metrics.observe(&route, &method, status, elapsed);
    let millis = elapsed.as_secs_f64() * 1000.0;
    let line = match state.inner.log_format {
        LogFormat::Text => format!("{status} {method} {path} ({client}) {millis:.2}ms"),
        LogFormat::Json => json!({"status": status, "method": method.as_str(), "path": path, "client": client, "ms": (millis * 100.0).round() / 100.0, "requestId": id}).to_string(),
    };
    // The access log is what the API writes to stdout, one line per request.
    #[allow(clippy::print_stdout)]
    {
        println!("{line}");
    }
    response
}
