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

/// Everything handlers share, for the rest of the process: a reference rather than an `Arc`,
/// because every request copies it (axum hands each handler its own), and an `Arc`'s count is
/// one word that both cores wrote twice per request.
#[derive(Clone, Copy)]
pub struct AppState {
    inner: &'static Inner,
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
    /// `/elb/*` requests in flight, one count for every method, but for the cache's answers
    /// (`cached_answer`), which never wait (and are refused at the limit all the same). A
    /// counter rather than a semaphore: nothing waits for a place (past the limit the answer is 503 at once), and a
    /// semaphore's release takes a lock that both cores wrote on every request.
    in_flight: AtomicUsize,
    throttle: Throttle,
    trusted_proxies: TrustedProxies,
}

impl AppState {
    pub fn new(config: &Config, aws: &aws_config::SdkConfig) -> Self {
        let metrics = Metrics::new();
        Self {
            inner: Box::leak(Box::new(Inner {
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
            })),
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
        inner: routes().with_state(state),
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
        Self::from_path(parts.uri.path())
    }
}

impl LbName {
    /// The name in `/elb/{name}`.
    fn from_path(path: &str) -> Result<Self, AppError> {
        let raw = path.strip_prefix("/elb/").unwrap_or_default();
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

/// The `Content-Type` of a JSON body, made at compile time: from a `&str`, every response
/// checked the text and copied it into an allocation of its own.
const APPLICATION_JSON: axum::http::HeaderValue = axum::http::HeaderValue::from_static("application/json");

/// The whole request rather than the `Authorized` and `LbName` extractors (the same checks,
/// in the same order): each extractor is a future of its own and a `Result` moved out of it.
async fn list_members(State(state): State<AppState>, request: Request) -> Result<Response, AppError> {
    let inner = state.inner;
    inner.authorize(request.headers(), crate::request::client())?;
    let name = LbName::from_path(request.uri().path())?;
    let name = name.as_str();
    if let Some(body) = inner.fresh_answer(name, crate::request::started()) {
        return Ok(members_answer(body));
    }
    // A miss on the heap: moka's load is a large future, and inline it made every request,
    // hits too, move it into the route's box.
    let body = Box::pin(inner.load(name.to_owned())).await?;
    Ok(members_answer(body))
}

/// What `GET /elb/{name}` answers, from the router or from `Inner::cached_answer`.
fn members_answer(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, APPLICATION_JSON)], body).into_response()
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

    /// The answer for `name` if still fresh at `started` (when the request arrived).
    fn fresh_answer(&self, name: &str, started: Instant) -> Option<Bytes> {
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
        state
            .inner
            .authorize(&parts.headers, crate::request::client())
            .map(|()| Self)
    }
}

/// What basic auth found, before any effect of a failure.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Allowed,
    LockedOut(std::time::Duration),
    Refused,
}

impl Inner {
    /// Basic auth, with password guessing throttled per client address (None: a request that
    /// came through no socket, a test driving the router).
    fn authorize(&self, headers: &axum::http::HeaderMap, client: Option<IpAddr>) -> Result<(), AppError> {
        match self.verdict(headers, client) {
            Verdict::Allowed => Ok(()),
            Verdict::LockedOut(left) => {
                self.metrics.auth_throttled();
                Err(AppError::TooManyFailures(left))
            }
            Verdict::Refused => {
                if let Some(client) = client {
                    self.throttle.failed(client);
                }
                Err(AppError::Unauthorized)
            }
        }
    }

    /// The verdict on a request's credentials. Only a success has an effect (it forgets the
    /// address's failures), so a request the cache would answer can be judged here first and,
    /// unless allowed, go through the router to be judged again and refused there, once.
    fn verdict(&self, headers: &axum::http::HeaderMap, client: Option<IpAddr>) -> Verdict {
        let Some(credentials) = &self.credentials else {
            return Verdict::Allowed;
        };
        // A locked-out address gets 429 without a comparison; others at full speed.
        if let Some(left) = client.and_then(|client| self.throttle.locked_out(client)) {
            return Verdict::LockedOut(left);
        }
        if !credentials.accepts(headers.get(header::AUTHORIZATION)) {
            return Verdict::Refused;
        }
        if let Some(client) = client {
            self.throttle.succeeded(client);
        }
        Verdict::Allowed
    }

    /// `GET /elb/{name}` answered from the cache without the router, or None for the router to
    /// answer: the one request a load balancer's clients make over and over, and routing it
    /// (matching, extensions, path parameters, a boxed handler) cost as much as the rest of
    /// its answer. The same checks as `list_members`, the same answer (a test compares the two
    /// on every kind of request); a name that is percent-encoded, not fresh, or refused is left
    /// to the router. It never waits, so it takes no place among `MAX_CONCURRENT_REQUESTS`
    /// (a count both cores would write twice per request), but at the limit it is refused as
    /// every request is: left to the router, which answers 503.
    fn cached_answer(&self, request: &Request, client: IpAddr, started: Instant) -> Option<Response> {
        if request.method() != axum::http::Method::GET
            || self.in_flight.load(Ordering::Acquire) >= self.max_concurrent_requests
        {
            return None;
        }
        let name = request.uri().path().strip_prefix("/elb/")?;
        check_name(name).ok()?;
        let body = self.fresh_answer(name, started)?;
        (self.verdict(request.headers(), Some(client)) == Verdict::Allowed).then(|| members_answer(body))
    }
}

/// The response header naming the request.
const REQUEST_ID_HEADER: axum::http::HeaderName = axum::http::HeaderName::from_static("x-request-id");

/// Around the router: the request id, the client address, the request timeout, the metrics
/// and one access log line (`200 GET /elb/web (10.0.1.7) 0.84ms`). A service of its own, not
/// `middleware::from_fn` and tower-http's timeout: one future per request instead of a boxed
/// one per layer, with a clone of the rest of the stack each.
#[derive(Clone)]
pub struct AccessLog {
    inner: Router,
    state: AppState,
}

impl crate::server::Routes for AccessLog {
    fn answer(
        &mut self,
        request: Request,
        peer: std::net::SocketAddr,
    ) -> impl std::future::Future<Output = Response> + Send + 'static + use<> {
        let started = Instant::now();
        let state = self.state;
        let method = request.method().clone();
        let route = route_template(request.uri().path());
        let client = state.inner.trusted_proxies.client(peer.ip(), request.headers());
        let id = RequestId::next();
        // All but the status, the time and the id, now: no copy of the path to keep for later.
        let line = Line::begin(state.inner.log_format, &method, request.uri().path(), Some(client));
        let cached = if route == ELB_ROUTE {
            state.inner.cached_answer(&request, client, started)
        } else {
            None
        };
        // A router is always ready (axum's `poll_ready` is always `Ready`), and its future
        // borrows nothing: it answers from here, without a clone of it per request.
        let answer = cached.ok_or_else(|| tower::Service::<Request>::call(&mut self.inner, request));
        async move {
            let mut response = match answer {
                Ok(cached) => cached,
                Err(call) => state.inner.routed(call, route, id, client, started).await,
            };
            let mut id_text = [0; 33];
            let id_text = id.encode(&mut id_text);
            if let Ok(value) = axum::http::HeaderValue::from_str(id_text) {
                response.headers_mut().insert(REQUEST_ID_HEADER, value);
            }
            let elapsed = started.elapsed();
            let status = response.status();
            state.inner.metrics.observe(route, &method, status, elapsed);
            line.end(status.as_u16(), elapsed, id_text);
            response
        }
    }
}

impl Inner {
    /// The router's answer, within the limit on requests in flight and the request timeout.
    async fn routed(
        &self,
        call: axum::routing::future::RouteFuture<std::convert::Infallible>,
        route: &str,
        id: RequestId,
        client: IpAddr,
        started: Instant,
    ) -> Response {
        // Past the limit, a clear 503 at once: a queue would only add latency to every
        // request while the load balancer keeps sending more.
        let place = (route == ELB_ROUTE).then(|| self.enter());
        let mut refusal = matches!(place, Some(None)).then(|| AppError::overloaded(self.max_concurrent_requests));
        // The request timeout, from the request's start. Its timer is made only for a
        // request not answered at the first poll, and on the heap: a timer in this future
        // made every request copy a far larger future.
        let deadline = tokio::time::Instant::from_std(started + self.request_timeout);
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
        let current = Current {
            id,
            client: Some(client),
            started,
        };
        let response = match crate::request::scope(current, answer).await {
            Some(Ok(response)) => response,
            Some(Err(never)) => match never {},
            // As tower-http's timeout answered: the status, no body.
            None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        };
        drop(place);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_with(settings: &[(&str, &str)]) -> AppState {
        let config = Config::from_lookup(|name| {
            settings
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
        .unwrap();
        let aws = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        AppState::new(&config, &aws)
    }

    fn get(path: &str, authorization: Option<&str>) -> Request {
        let mut request = Request::get(path);
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        request.body(axum::body::Body::empty()).unwrap()
    }

    /// What a response says, all of it: status, headers and body.
    async fn said(response: Response) -> (StatusCode, axum::http::HeaderMap, Bytes) {
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        (parts.status, parts.headers, body)
    }

    /// The router's answer to `request` from `client`, as the access log runs it.
    async fn routed(state: AppState, request: Request, client: IpAddr) -> (StatusCode, axum::http::HeaderMap, Bytes) {
        use tower::ServiceExt;
        let current = Current {
            id: RequestId::next(),
            client: Some(client),
            started: Instant::now(),
        };
        let router = routes().with_state(state);
        said(crate::request::scope(current, router.oneshot(request)).await.unwrap()).await
    }

    /// `Inner::cached_answer` answers exactly what the router answers, or leaves the request
    /// to the router without any effect of its own (a refused guess is counted once).
    #[tokio::test]
    async fn the_cached_answer_is_the_router_s_answer() {
        let right = "Basic dTpw"; // u:p
        let wrong = "Basic dTp4"; // u:x
        for settings in [
            &[
                ("API_USER", "u"),
                ("API_PASSWORD", "p"),
                ("AUTH_FAILURE_LIMIT", "3"),
                ("MAX_CONCURRENT_REQUESTS", "2"),
            ][..],
            &[("API_ALLOW_ANONYMOUS", "true")][..],
        ] {
            let state = state_with(settings);
            let inner = state.inner;
            let body = Bytes::from_static(br#"{"message":[{"instanceId":"i-0123456789abcdef0"}]}"#);
            inner.remember("web", &body);
            let client: IpAddr = "10.0.1.7".parse().unwrap();
            let cached = |request: &Request| inner.cached_answer(request, client, Instant::now());

            let answer = cached(&get("/elb/web", Some(right))).expect("a fresh name, allowed");
            let mut from_router = routed(state, get("/elb/web", Some(right)), client).await;
            assert_eq!(from_router.0, StatusCode::OK);
            // axum's router writes the length of a body of known size; hyper writes it for
            // any such body it sends, so on the wire both answers carry it.
            let length = from_router
                .1
                .remove(header::CONTENT_LENGTH)
                .expect("the router gives the length");
            assert_eq!(length, from_router.2.len().to_string().as_str());
            assert_eq!(said(answer).await, from_router, "the same answer either way");

            // Left to the router: not fresh, encoded, another method, another path.
            for request in [
                get("/elb/other", Some(right)),
                get("/elb/w%65b", Some(right)),
                get("/elb/web/", Some(right)),
                Request::post("/elb/web")
                    .header(header::AUTHORIZATION, right)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            ] {
                assert!(cached(&request).is_none(), "{} {}", request.method(), request.uri());
            }
            if inner.credentials.is_none() {
                continue;
            }

            // At `MAX_CONCURRENT_REQUESTS`, the router's 503 for a cached name too.
            let places = [inner.enter(), inner.enter()];
            assert!(places.iter().all(Option::is_some));
            assert!(cached(&get("/elb/web", Some(right))).is_none());
            let request = get("/elb/web", Some(right));
            let peer = std::net::SocketAddr::from((client, 4242));
            let refused = said(crate::server::Routes::answer(&mut router(state), request, peer).await).await;
            assert_eq!(refused.0, StatusCode::SERVICE_UNAVAILABLE);
            drop(places);
            assert!(cached(&get("/elb/web", Some(right))).is_some());

            // Refused guesses are the router's to answer and count, once each.
            for _ in 0..5 {
                assert!(cached(&get("/elb/web", Some(wrong))).is_none());
                assert!(cached(&get("/elb/web", None)).is_none());
            }
            assert_eq!(inner.throttle.locked_out(client), None, "the cache counted no failure");
            for _ in 0..3 {
                assert_eq!(
                    routed(state, get("/elb/web", Some(wrong)), client).await.0,
                    StatusCode::UNAUTHORIZED
                );
            }
            // Locked out: even the right password goes to the router, which answers 429.
            assert!(cached(&get("/elb/web", Some(right))).is_none());
            let locked = routed(state, get("/elb/web", Some(right)), client).await;
            assert_eq!(locked.0, StatusCode::TOO_MANY_REQUESTS);
            let elsewhere: IpAddr = "10.0.2.9".parse().unwrap();
            assert!(
                inner
                    .cached_answer(&get("/elb/web", Some(right)), elsewhere, Instant::now())
                    .is_some()
            );
        }
    }

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
