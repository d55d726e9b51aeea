//! Routes, middleware (auth, access log, metrics, timeout) and the cache in front of AWS.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use moka::future::Cache;
use serde::Deserialize;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::access_log::Line;
use crate::auth::Credentials;
use crate::balancers::{Balancers, LookupError};
use crate::client::TrustedProxies;
use crate::config::Config;
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::request::{Current, RequestId};
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
    /// the environment that answered, so a handful of entries, scanned rather than hashed, in
    /// a snapshot that a read takes without writing to memory the other core reads (a lock's
    /// count would be written by every read on both cores).
    fresh: ArcSwap<Vec<Fresh>>,
    cache_ttl: std::time::Duration,
    metrics: Metrics,
    log_format: crate::config::LogFormat,
    request_timeout: std::time::Duration,
    limits: ConnectionLimits,
    max_concurrent_requests: usize,
    /// `/elb/*` requests in flight, one count for every method. A counter rather than a
    /// semaphore: nothing waits for a place (past the limit the answer is 503 at once), and a
    /// semaphore's release takes a lock that both cores wrote on every request.
    in_flight: AtomicUsize,
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
                fresh: ArcSwap::default(),
                cache_ttl: config.cache_ttl,
                metrics,
                log_format: config.log_format,
                request_timeout: config.request_timeout,
                limits: config.limits,
                max_concurrent_requests: config.max_concurrent_requests,
                in_flight: AtomicUsize::new(0),
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

/// The API: its routes inside the access log.
pub fn router(state: AppState) -> AccessLog {
    AccessLog {
        inner: routes().with_state(state.clone()),
        state,
    }
}

/// Every route of the API port. `route_template` names them for the metrics and must follow
/// this table (a test holds the two together).
fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthcheck", get(healthcheck))
        .route("/openapi.json", get(openapi))
        .route(ELB_ROUTE, get(list_members).post(register).delete(deregister))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

/// The route of `/elb/{name}`, the one with a limit on requests in flight.
const ELB_ROUTE: &str = "/elb/{name}";

/// The route template a path matches, as axum's `MatchedPath` names it (`unmatched` for the
/// fallback): the access log wraps the whole router, before routing, so that a request pays
/// for one service and one boxed future around it rather than a clone of a per-route stack.
fn route_template(path: &str) -> &'static str {
    match path {
        "/healthcheck" => "/healthcheck",
        "/openapi.json" => "/openapi.json",
        _ => match path.strip_prefix("/elb/") {
            Some(name) if !name.is_empty() && !name.contains('/') => ELB_ROUTE,
            _ => "unmatched",
        },
    }
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
    let valid = (1..=32).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(AppError::new(
            StatusCode::BAD_REQUEST,
            "invalid load balancer name: use 1 to 32 letters, digits and `-`",
        ))
    }
}

/// The `{name}` of `/elb/{name}`, percent-decoded and checked, held inline (a name has at
/// most 32 bytes): axum's `Path<String>` deserialized it into an allocation per request.
struct LbName {
    bytes: [u8; 32],
    len: usize,
}

impl LbName {
    fn as_str(&self) -> &str {
        // Only ASCII letters, digits and `-` are ever stored (see `from_request_parts`).
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl<S: Sync> axum::extract::FromRequestParts<S> for LbName {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, AppError> {
        let raw = parts.uri.path().strip_prefix("/elb/").unwrap_or_default();
        // Decoded only when encoded: decoding walks the name byte by byte.
        let name = if raw.contains('%') {
            percent_encoding::percent_decode_str(raw).decode_utf8_lossy()
        } else {
            std::borrow::Cow::Borrowed(raw)
        };
        check_name(&name)?;
        let mut bytes = [0; 32];
        bytes[..name.len()].copy_from_slice(name.as_bytes());
        Ok(Self { bytes, len: name.len() })
    }
}

async fn list_members(
    State(state): State<AppState>,
    _: Authorized,
    name: LbName,
) -> Result<impl IntoResponse, AppError> {
    let name = name.as_str();
    let inner = &state.inner;
    if let Some(body) = inner.fresh_answer(name) {
        return Ok(([(header::CONTENT_TYPE, "application/json")], body));
    }
    // A miss on the heap: moka's load is a large future, and inline it made every request,
    // hits too, move it into the route's box.
    let body = Box::pin(inner.load(name.to_owned())).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body))
}

/// A place among `MAX_CONCURRENT_REQUESTS`, given back when dropped.
struct Place<'a>(&'a AtomicUsize);

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Inner {
    /// A place for one more `/elb/*` request, or None at the limit.
    fn enter(&self) -> Option<Place<'_>> {
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        let place = Place(&self.in_flight);
        (before < self.max_concurrent_requests).then_some(place)
    }

    /// The answer for `name` from the cache, or from AWS.
    async fn load(&self, name: String) -> Result<Bytes, AppError> {
        let body = self
            .cache
            .try_get_with(name.clone(), async {
                let members = self.balancers.members(&name).await?;
                let body = serde_json::to_vec(&json!({ "message": members })).expect("members serialize");
                Ok(Bytes::from(body))
            })
            .await
            .map_err(|error: Arc<LookupError>| AppError::from((*error).clone()))?;
        self.remember(&name, &body);
        Ok(body)
    }

    /// The answer for `name` if still fresh when the request arrived.
    fn fresh_answer(&self, name: &str) -> Option<Bytes> {
        let started = crate::request::started();
        let fresh = self.fresh.load();
        let entry = fresh.iter().find(|entry| *entry.name == *name)?;
        (started < entry.until).then(|| entry.body.clone())
    }

    fn remember(&self, name: &str, body: &Bytes) {
        let now = Instant::now();
        let entry = Fresh {
            name: name.into(),
            until: now + self.cache_ttl,
            body: body.clone(),
        };
        self.fresh.rcu(|fresh| {
            let mut kept: Vec<Fresh> = fresh
                .iter()
                .filter(|old| old.until > now && *old.name != *name)
                .cloned()
                .collect();
            kept.push(entry.clone());
            kept
        });
    }

    /// After a write: the next read asks AWS.
    async fn forget(&self, name: &str) {
        self.cache.invalidate(name).await;
        self.fresh.rcu(|fresh| {
            fresh
                .iter()
                .filter(|old| *old.name != *name)
                .cloned()
                .collect::<Vec<_>>()
        });
    }
}

/// One fresh answer of `GET /elb/{name}`.
#[derive(Clone)]
struct Fresh {
    name: Box<str>,
    until: Instant,
    body: Bytes,
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
    name: LbName,
    body: Result<Json<InstanceBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    let name = name.as_str();
    let Json(body) = body?;
    check_instance_id(&body.instance_id)?;
    state.inner.balancers.register(name, &body.instance_id).await?;
    state.inner.forget(name).await;
    Ok((
        StatusCode::CREATED,
        Json(json!({"message": format!("{} registered with {name}", body.instance_id)})),
    ))
}

async fn deregister(
    State(state): State<AppState>,
    _: Authorized,
    name: LbName,
    body: Result<Json<InstanceBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    let name = name.as_str();
    let Json(body) = body?;
    check_instance_id(&body.instance_id)?;
    state.inner.balancers.deregister(name, &body.instance_id).await?;
    state.inner.forget(name).await;
    Ok(Json(
        json!({"message": format!("{} deregistered from {name}", body.instance_id)}),
    ))
}

/// What `/elb/*` handlers take first: basic auth with password guessing throttled per client
/// address (the access log has given the request its place within `MAX_CONCURRENT_REQUESTS`).
/// An extractor rather than middleware: no boxed future, no copy of the headers, per request.
struct Authorized;

impl axum::extract::FromRequestParts<AppState> for Authorized {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &AppState) -> Result<Self, AppError> {
        let inner = &state.inner;
        let Some(credentials) = &inner.credentials else {
            return Ok(Self);
        };
        let client = crate::request::client();
        let throttle = &inner.throttle;
        // A locked-out address gets 429 without a comparison; others at full speed.
        if let Some(client) = client
            && let Some(left) = throttle.locked_out(client)
        {
            inner.metrics.auth_throttled();
            return Err(AppError::TooManyFailures(left));
        }
        if credentials.accepts(parts.headers.get(header::AUTHORIZATION)) {
            if let Some(client) = client {
                throttle.succeeded(client);
            }
            return Ok(Self);
        }
        if let Some(client) = client {
            throttle.failed(client);
        }
        Err(AppError::Unauthorized)
    }
}

/// The client's address: the connection's peer, or behind a trusted proxy what its
/// `X-Forwarded-For` says (see `client::TrustedProxies`). None for a request that came through
/// no socket (a test driving the router).
fn client_address(state: &AppState, request: &Request) -> Option<IpAddr> {
    let peer = crate::request::peer()?.ip();
    Some(state.inner.trusted_proxies.client(peer, request.headers()))
}

/// The response header naming the request.
const REQUEST_ID_HEADER: axum::http::HeaderName = axum::http::HeaderName::from_static("x-request-id");

/// Around the router: the request id, the client address, the request timeout, the metrics
/// and one access log line (`200 GET /elb/web (10.0.1.7) 0.84ms`). A service of its own, not
/// `middleware::from_fn` and tower-http's timeout: one boxed future per request instead of
/// one per layer, with a clone of the rest of the stack each.
#[derive(Clone)]
pub struct AccessLog {
    inner: Router,
    state: AppState,
}

impl tower::Service<Request> for AccessLog {
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        tower::Service::<Request>::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let started = Instant::now();
        let state = self.state.clone();
        let method = request.method().clone();
        let route = route_template(request.uri().path());
        let client = client_address(&state, &request);
        let id = RequestId::next();
        // All but the status and the time, now: no copy of the path to keep for later.
        let line = Line::begin(state.inner.log_format, &method, request.uri().path(), client, id);
        // A router is always ready (axum's `poll_ready` is always `Ready`), and its future
        // borrows nothing: it answers from here, without a clone of it per request.
        let call = tower::Service::<Request>::call(&mut self.inner, request);
        Box::pin(async move {
            // Past the limit, a clear 503 at once: a queue would only add latency to every
            // request while the load balancer keeps sending more.
            let place = (route == ELB_ROUTE).then(|| state.inner.enter());
            let mut refusal =
                matches!(place, Some(None)).then(|| AppError::overloaded(state.inner.max_concurrent_requests));
            // The request timeout, from the request's start. Its timer is made only for a
            // request not answered at the first poll (a cached answer never needs one), and on
            // the heap: a timer in this future made every request copy a far larger future.
            let deadline = tokio::time::Instant::from_std(started + state.inner.request_timeout);
            let mut call = std::pin::pin!(call);
            let mut timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
            let answer = std::future::poll_fn(|cx| {
                if let Some(refusal) = refusal.take() {
                    return std::task::Poll::Ready(Some(Ok(refusal.into_response())));
                }
                if let std::task::Poll::Ready(answer) = call.as_mut().poll(cx) {
                    return std::task::Poll::Ready(Some(answer));
                }
                let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                timer.as_mut().poll(cx).map(|()| None)
            });
            let mut response = match crate::request::scope(Current { id, client, started }, answer).await {
                Some(Ok(response)) => response,
                Some(Err(never)) => match never {},
                // As tower-http's timeout answered: the status, no body.
                None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
            };
            drop(place);
            if let Ok(value) = axum::http::HeaderValue::from_str(id.encode(&mut [0; 33])) {
                response.headers_mut().insert(REQUEST_ID_HEADER, value);
            }
            let elapsed = started.elapsed();
            let status = response.status();
            state.inner.metrics.observe(route, &method, status, elapsed);
            crate::access_log::line(&line.end(status.as_u16(), elapsed));
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `route_template` against what axum itself matches, for paths in and around every route.
    #[tokio::test]
    async fn the_route_template_is_the_one_axum_matches() {
        use axum::extract::MatchedPath;
        use tower::ServiceExt;
        let config = Config::from_lookup(|name| match name {
            "API_USER" => Some("u".into()),
            "API_PASSWORD" => Some("p".into()),
            _ => None,
        })
        .unwrap();
        let aws = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let matched = routes()
            .layer(axum::middleware::from_fn(
                |request: Request, next: axum::middleware::Next| async move {
                    let matched = request.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned());
                    let mut response = next.run(request).await;
                    let value = matched.unwrap_or_else(|| "unmatched".into());
                    response.headers_mut().insert("x-matched", value.parse().unwrap());
                    response
                },
            ))
            .with_state(AppState::new(&config, &aws));
        let paths = [
            "/",
            "/healthcheck",
            "/healthcheck/",
            "/healthchecks",
            "/openapi.json",
            "/openapi",
            "/elb",
            "/elb/",
            "/elb/web",
            "/elb/a%2Fb",
            "/elb/web/",
            "/elb/web/x",
            "/elb//x",
            "/ELB/web",
            "/x/elb/web",
        ];
        for path in paths {
            // PUT: no route serves it, so nothing runs past routing and AWS is never asked.
            let request = Request::put(path).body(axum::body::Body::empty()).unwrap();
            let response = matched.clone().oneshot(request).await.unwrap();
            let axum_says = response.headers()["x-matched"].to_str().unwrap().to_owned();
            assert_eq!(route_template(path), axum_says, "{path}");
        }
    }
}
