//! Prometheus metrics: requests by route, method and status; a latency histogram whose
//! buckets make "% of requests under 250 ms" and p50/p90/p99 computable; AWS calls made.

use std::sync::Arc;

use arc_swap::ArcSwap;
use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

/// Seconds. Dense below 250 ms, where a healthy API lives, with 0.25 itself a bucket edge.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    aws_calls: IntCounterVec,
    auth_throttled: prometheus::IntCounter,
    /// Series already resolved: prometheus's own lookup hashes every label on every call,
    /// which showed in the profile of a cached answer. A handful of entries (the routes and
    /// statuses in use), searched in order; past `MAX_HOT`, lookups go to prometheus. In a
    /// snapshot that a read takes without writing to memory the other core reads (a lock's
    /// count of readers was written twice per request, by both cores).
    hot: Arc<ArcSwap<Vec<Hot>>>,
}

#[derive(Clone)]
struct Hot {
    route: Box<str>,
    method: &'static str,
    status: axum::http::StatusCode,
    requests: IntCounter,
    latency: Histogram,
}

const MAX_HOT: usize = 32;

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by route template, method and status",
            ),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "Time to answer, by route template")
                .buckets(LATENCY_BUCKETS.to_vec()),
            &["route"],
        )
        .expect("valid metric");
        let aws_calls = IntCounterVec::new(
            Opts::new("aws_calls_total", "Calls made to AWS APIs, by operation"),
            &["operation"],
        )
        .expect("valid metric");
        let auth_throttled = prometheus::IntCounter::new(
            "auth_throttled_total",
            "Requests answered 429 because their address failed authentication too often",
        )
        .expect("valid metric");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(aws_calls.clone()),
            Box::new(auth_throttled.clone()),
        ] {
            registry.register(collector).expect("metric registered once");
        }
        Self {
            registry,
            requests,
            latency,
            aws_calls,
            auth_throttled,
            hot: Arc::default(),
        }
    }

    /// Every label has a bounded set of values: the route template (or `unmatched`), one of
    /// the methods the API serves (or `other`), and the status code the server chose.
    pub fn observe(&self, route: &str, method: &axum::http::Method, status: axum::http::StatusCode, elapsed: Duration) {
        let method = method_label(method);
        let seconds = elapsed.as_secs_f64();
        let is = |h: &Hot| h.status == status && h.method == method && *h.route == *route;
        if let Some(found) = self.hot.load().iter().find(|h| is(h)) {
            found.requests.inc();
            found.latency.observe(seconds);
            return;
        }
        let requests = self.requests.with_label_values(&[route, method, status.as_str()]);
        let latency = self.latency.with_label_values(&[route]);
        requests.inc();
        latency.observe(seconds);
        let found = Hot {
            route: route.into(),
            method,
            status,
            requests,
            latency,
        };
        self.hot.rcu(|hot| {
            let mut hot = Vec::clone(hot);
            if hot.len() < MAX_HOT && !hot.iter().any(is) {
                hot.push(found.clone());
            }
            hot
        });
    }

    pub fn auth_throttled(&self) {
        self.auth_throttled.inc();
    }

    pub fn aws_call(&self, operation: &str) {
        self.aws_calls.with_label_values(&[operation]).inc();
    }

    /// All AWS calls so far, for tests and benchmarks.
    pub fn aws_calls_total(&self) -> u64 {
        self.registry
            .gather()
            .iter()
            .filter(|family| family.name() == "aws_calls_total")
            .flat_map(|family| family.get_metric())
            .map(|metric| metric.get_counter().get_value() as u64)
            .sum()
    }

    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding cannot fail");
        String::from_utf8(buffer).expect("the text format is UTF-8")
    }
}

/// The methods the API serves, by name; any other (clients may send any token) is `other`,
/// so made-up methods cannot grow the metrics without bound.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        _ => "other",
    }
}

/// Shared handle.
pub type SharedMetrics = Arc<Metrics>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_methods_share_one_label() {
        let metrics = Metrics::new();
        for i in 0..1000 {
            let method = axum::http::Method::from_bytes(format!("M{i}").as_bytes()).unwrap();
            metrics.observe(
                "unmatched",
                &method,
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                Duration::from_millis(1),
            );
        }
        let text = metrics.render();
        assert!(
            text.contains(r#"http_requests_total{method="other",route="unmatched",status="405"} 1000"#),
            "{text}"
        );
        assert!(text.len() < 4096, "{} bytes", text.len());
    }
}
