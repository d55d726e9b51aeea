//! Routes, middleware (auth, access log, metrics, timeout) and the cache in front of AWS.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, MatchedPath, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use moka::future::Cache;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::auth::Credentials;
use crate::balancers::{Balancers, LookupError};
use crate::client::TrustedProxies;
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
    /// The answer to `GET /elb/{name}` (`{"message": [members]}`, serialized once), by load
    /// balancer name. `try_get_with` runs one load per name at a time and hands its result to
    /// every concurrent caller, so a burst makes one AWS call.
    cache: Cache<String, Bytes>,
    /// The same answers while fresh, read without moka's bookkeeping (a read recorded for its
    /// eviction policy, and now and then housekeeping, on every hit): only load balancers of
    /// the environment that answered, so a handful of entries.
    fresh: std::sync::RwLock<std::collections::HashMap<String, (Instant, Bytes)>>,
    cache_ttl: std::time::Duration,
    metrics: Metrics,
    log_format: LogFormat,
    request_timeout: std::time::Duration,
    limits: ConnectionLimits,
    max_concurrent_requests: usize,
    /// `/elb/*` requests in flight, one count for every method.
    in_flight: Arc<Semaphore>,
    throttle: Throttle,
    trusted_proxies: TrustedProxies,
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
                fresh: std::sync::RwLock::default(),
                cache_ttl: config.cache_ttl,
                metrics,
                log_format: config.log_format,
                request_timeout: config.request_timeout,
                limits: config.limits,
                max_concurrent_requests: config.max_concurrent_requests,
                in_flight: Arc::new(Semaphore::new(config.max_concurrent_requests)),
                throttle: Throttle::new(config.throttle),
                trusted_proxies: config.trusted_proxies.clone(),
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
    Router::new()
        .route("/healthcheck", get(healthcheck))
        .route("/openapi.json", get(openapi))
        .route("/elb/{name}", get(list_members).post(register).delete(deregister))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(AccessLogLayer { state: state.clone() })
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
    _: Authorized,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, AppError> {
    check_name(&name)?;
    let inner = &state.inner;
    if let Some(body) = inner.fresh_answer(&name) {
        return Ok(([(header::CONTENT_TYPE, "application/json")], body));
    }
    let body = inner
        .cache
        .try_get_with(name.clone(), async {
            let members = inner.balancers.members(&name).await?;
            let body = serde_json::to_vec(&json!({ "message": members })).expect("members serialize");
            Ok(Bytes::from(body))
        })
        .await
        .map_err(|error: Arc<LookupError>| AppError::from((*error).clone()))?;
    inner.remember(&name, &body);
    Ok(([(header::CONTENT_TYPE, "application/json")], body))
}

impl Inner {
    fn fresh_answer(&self, name: &str) -> Option<Bytes> {
        let fresh = self.fresh.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (until, body) = fresh.get(name)?;
        (Instant::now() < *until).then(|| body.clone())
    }

    fn remember(&self, name: &str, body: &Bytes) {
        let now = Instant::now();
        let mut fresh = self.fresh.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        fresh.retain(|_, (until, _)| *until > now);
        fresh.insert(name.to_owned(), (now + self.cache_ttl, body.clone()));
    }

    /// After a write: the next read asks AWS.
    async fn forget(&self, name: &str) {
        self.cache.invalidate(name).await;
        self.fresh
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(name);
    }
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
    _: Authorized,
    Path(name): Path<String>,
    body: Result<Json<InstanceBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    check_name(&name)?;
    let Json(body) = body?;
    check_instance_id(&body.instance_id)?;
    state.inner.balancers.register(&name, &body.instance_id).await?;
    state.inner.forget(&name).await;
    Ok((
        StatusCode::CREATED,
        Json(json!({"message": format!("{} registered with {name}", body.instance_id)})),
    ))
}

async fn deregister(
    State(state): State<AppState>,
    _: Authorized,
    Path(name): Path<String>,
    body: Result<Json<InstanceBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    check_name(&name)?;
    let Json(body) = body?;
    check_instance_id(&body.instance_id)?;
    state.inner.balancers.deregister(&name, &body.instance_id).await?;
    state.inner.forget(&name).await;
    Ok(Json(
        json!({"message": format!("{} deregistered from {name}", body.instance_id)}),
    ))
}

/// What `/elb/*` handlers take first: a place within `MAX_CONCURRENT_REQUESTS` (one count for
/// every method), held until the handler is done, then basic auth with password guessing
/// throttled per client address. An extractor rather than middleware: no boxed future, no
/// copy of the headers, per request.
struct Authorized {
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl axum::extract::FromRequestParts<AppState> for Authorized {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &AppState) -> Result<Self, AppError> {
        let inner = &state.inner;
        // Past the limit, a clear 503 at once: a queue would only add latency to every
        // request while the load balancer keeps sending more.
        let permit = inner
            .in_flight
            .clone()
            .try_acquire_owned()
            .map_err(|_| AppError::overloaded(inner.max_concurrent_requests))?;
        let Some(credentials) = &inner.credentials else {
            return Ok(Self { _permit: permit });
        };
        let client = parts.extensions.get::<Client>().and_then(|c| c.0);
        let throttle = &inner.throttle;
        // A locked-out address gets 429 without a comparison; others at full speed.
        if let Some(client) = client
            && let Some(left) = throttle.locked_out(client).await
        {
            inner.metrics.auth_throttled();
            return Err(AppError::TooManyFailures(left));
        }
        if credentials.accepts(parts.headers.get(header::AUTHORIZATION)) {
            if let Some(client) = client {
                throttle.succeeded(client).await;
            }
            return Ok(Self { _permit: permit });
        }
        if let Some(client) = client {
            throttle.failed(client).await;
        }
        Err(AppError::Unauthorized)
    }
}

/// The request's client address, found once by the access log.
#[derive(Debug, Clone, Copy)]
struct Client(Option<IpAddr>);

/// The client's address: the connection's peer, or behind a trusted proxy what its
/// `X-Forwarded-For` says (see `client::TrustedProxies`). None for a request that came through
/// no socket (a test driving the router).
fn client_address(state: &AppState, request: &Request) -> Option<IpAddr> {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>()?.0.ip();
    Some(state.inner.trusted_proxies.client(peer, request.headers()))
}

/// Around every route: the request id, the client address, the request timeout, the metrics
/// and one access log line (`200 GET /elb/web (10.0.1.7) 0.84ms`). A service of its own, not
/// `middleware::from_fn` and tower-http's timeout: one boxed future per request instead of
/// one per layer, with a clone of the rest of the stack each.
#[derive(Clone)]
struct AccessLogLayer {
    state: AppState,
}

impl<S> tower::Layer<S> for AccessLogLayer {
    type Service = AccessLog<S>;

    fn layer(&self, inner: S) -> AccessLog<S> {
        AccessLog {
            inner,
            state: self.state.clone(),
        }
    }
}

#[derive(Clone)]
struct AccessLog<S> {
    inner: S,
    state: AppState,
}

impl<S> tower::Service<Request> for AccessLog<S>
where
    S: tower::Service<Request, Response = Response, Error = std::convert::Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let started = Instant::now();
        let state = self.state.clone();
        // The service that was made ready answers this request; its clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let method = request.method().clone();
        let uri = request.uri().clone();
        let route = request.extensions().get::<MatchedPath>().cloned();
        let client = client_address(&state, &request);
        request.extensions_mut().insert(Client(client));
        Box::pin(async move {
            let id = new_request_id();
            // The request timeout, from the request's start. Its timer is made only for a
            // request not answered at the first poll (a cached answer never needs one), and on
            // the heap: a timer in this future made every request copy a far larger future.
            let deadline = tokio::time::Instant::from_std(started + state.inner.request_timeout);
            let mut call = std::pin::pin!(inner.call(request));
            let mut timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
            let answer = std::future::poll_fn(|cx| {
                if let std::task::Poll::Ready(answer) = call.as_mut().poll(cx) {
                    return std::task::Poll::Ready(Some(answer));
                }
                let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                timer.as_mut().poll(cx).map(|()| None)
            });
            let mut response = match REQUEST_ID.scope(id.clone(), answer).await {
                Some(Ok(response)) => response,
                Some(Err(never)) => match never {},
                // As tower-http's timeout answered: the status, no body.
                None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
            };
            if let Ok(value) = axum::http::HeaderValue::from_str(&id) {
                response.headers_mut().insert("x-request-id", value);
            }
            let elapsed = started.elapsed();
            let status = response.status().as_u16();
            let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
            state.inner.metrics.observe(route, &method, status, elapsed);
            let millis = elapsed.as_secs_f64() * 1000.0;
            let path = uri.path();
            // Hundredths of a millisecond, rounded, printed without float formatting.
            let hundredths = (elapsed.as_micros() + 5) / 10;
            let (whole, part) = (hundredths / 100, hundredths % 100);
            let line = match state.inner.log_format {
                LogFormat::Text => text_line(status, &method, path, client, whole, part),
                LogFormat::Json => {
                    let client = client.map_or_else(|| "-".to_owned(), |ip| ip.to_string());
                    json!({"status": status, "method": method.as_str(), "path": path, "client": client, "ms": (millis * 100.0).round() / 100.0, "requestId": id}).to_string()
                }
            };
            crate::access_log::line(&line);
            Ok(response)
        })
    }
}

/// `200 GET /elb/web (10.0.1.7) 0.84ms`, put together piece by piece: `format!` with its
/// arguments' `Display` was the largest single cost of answering a cached request.
fn text_line(
    status: u16,
    method: &axum::http::Method,
    path: &str,
    client: Option<IpAddr>,
    whole: u128,
    part: u128,
) -> String {
    use std::fmt::Write;
    let mut line = String::with_capacity(48 + path.len());
    push_number(&mut line, u128::from(status));
    line.push(' ');
    line.push_str(method.as_str());
    line.push(' ');
    line.push_str(path);
    line.push_str(" (");
    match client {
        Some(client) => {
            let _ = write!(line, "{client}");
        }
        None => line.push('-'),
    }
    line.push_str(") ");
    push_number(&mut line, whole);
    line.push('.');
    line.push(char::from(b'0' + (part / 10) as u8));
    line.push(char::from(b'0' + (part % 10) as u8));
    line.push_str("ms");
    line
}

fn push_number(line: &mut String, mut n: u128) {
    let mut digits = [0u8; 40];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    line.push_str(std::str::from_utf8(&digits[at..]).expect("ASCII digits"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_line_reads_as_before() {
        let client = Some("10.0.1.7".parse().unwrap());
        assert_eq!(
            text_line(200, &axum::http::Method::GET, "/elb/web", client, 0, 84),
            "200 GET /elb/web (10.0.1.7) 0.84ms"
        );
        assert_eq!(
            text_line(503, &axum::http::Method::POST, "/x", None, 10_250, 5),
            "503 POST /x (-) 10250.05ms"
        );
    }
}
