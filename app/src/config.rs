//! Configuration, only from the environment (12-factor; the container image sets nothing else).

use std::time::Duration;

use crate::auth::Credentials;
use crate::client::TrustedProxies;
use crate::server::ConnectionLimits;
use crate::throttle::ThrottleSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `200 GET /elb/web (10.0.1.7) 0.84ms`
    Text,
    /// One JSON object per request.
    Json,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub port: u16,
    /// `/metrics` is served here only: a port the load balancer does not forward, open to the
    /// VPC alone, so request counts and latencies never reach the internet.
    pub metrics_port: u16,
    /// `None` only when API_ALLOW_ANONYMOUS=true said so explicitly.
    pub credentials: Option<Credentials>,
    pub cache_ttl: Duration,
    pub request_timeout: Duration,
    pub log_format: LogFormat,
    pub limits: ConnectionLimits,
    /// Requests to /elb/* handled at once; past it, 503 at once rather than a queue.
    pub max_concurrent_requests: usize,
    /// The deployer environment whose load balancers this API may change (API_ENVIRONMENT);
    /// without one it changes none.
    pub environment: Option<String>,
    pub throttle: ThrottleSettings,
    /// Peers whose `X-Forwarded-For` is believed (TRUSTED_PROXY_CIDRS); none by default.
    pub trusted_proxies: TrustedProxies,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error(
        "no credentials configured: set API_TOKEN (base64 of user:password) or API_USER and API_PASSWORD; API_ALLOW_ANONYMOUS=true runs without authentication"
    )]
    NoCredentials,
    #[error("{variable}: {problem}")]
    Invalid { variable: &'static str, problem: String },
}

/// Defaults: a few seconds of cache keeps load on the API from becoming load on AWS while the
/// answer stays fresh; requests give AWS a generous moment before answering 503.
const DEFAULT_CACHE_TTL_SECONDS: u64 = 5;
const DEFAULT_REQUEST_TIMEOUT_SECONDS: u64 = 10;
const DEFAULT_METRICS_PORT: u64 = 9100;
/// A whole request head, from its first byte; slow-header clients are cut off after this.
const DEFAULT_HEADER_READ_TIMEOUT_SECONDS: u64 = 10;
/// Longer than the load balancers keep idle connections (60 s for ALB and classic ELB), so
/// the load balancer always closes first and never sends a request into a closing socket.
const DEFAULT_IDLE_TIMEOUT_SECONDS: u64 = 75;
const DEFAULT_MAX_CONNECTIONS: u64 = 4096;
const DEFAULT_MAX_CONCURRENT_REQUESTS: u64 = 512;
/// Ten wrong passwords a minute from one address, then five minutes of 429s: a person who
/// mistyped is never stopped, a guesser gets 10 tries per 6 minutes instead of thousands.
const DEFAULT_AUTH_FAILURE_LIMIT: u64 = 10;
const DEFAULT_AUTH_FAILURE_WINDOW_SECONDS: u64 = 60;
const DEFAULT_AUTH_LOCKOUT_SECONDS: u64 = 300;

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let number = |variable: &'static str, default: u64| -> Result<u64, ConfigError> {
            match lookup(variable) {
                None => Ok(default),
                Some(text) => text.trim().parse().map_err(|_| ConfigError::Invalid {
                    variable,
                    problem: format!("`{text}` is not a whole number"),
                }),
            }
        };
        let port_number = |variable: &'static str, default: u64| {
            u16::try_from(number(variable, default)?).map_err(|_| ConfigError::Invalid {
                variable,
                problem: "must be at most 65535".into(),
            })
        };
        let port = port_number("PORT", 8000)?;
        let metrics_port = port_number("METRICS_PORT", DEFAULT_METRICS_PORT)?;
        if metrics_port == port && port != 0 {
            return Err(ConfigError::Invalid {
                variable: "METRICS_PORT",
                problem: format!("must differ from PORT ({port}): /metrics is never served on the public port"),
            });
        }
        let positive = |variable: &'static str, default: u64| -> Result<u64, ConfigError> {
            match number(variable, default)? {
                0 => Err(ConfigError::Invalid {
                    variable,
                    problem: "must be at least 1".into(),
                }),
                n => Ok(n),
            }
        };
        let limits = ConnectionLimits {
            header_read_timeout: Duration::from_secs(positive(
                "HEADER_READ_TIMEOUT_SECONDS",
                DEFAULT_HEADER_READ_TIMEOUT_SECONDS,
            )?),
            idle_timeout: Duration::from_secs(positive("IDLE_TIMEOUT_SECONDS", DEFAULT_IDLE_TIMEOUT_SECONDS)?),
            max_connections: positive("MAX_CONNECTIONS", DEFAULT_MAX_CONNECTIONS)? as usize,
        };
        let max_concurrent_requests = positive("MAX_CONCURRENT_REQUESTS", DEFAULT_MAX_CONCURRENT_REQUESTS)? as usize;
        let throttle = ThrottleSettings {
            limit: u32::try_from(positive("AUTH_FAILURE_LIMIT", DEFAULT_AUTH_FAILURE_LIMIT)?).unwrap_or(u32::MAX),
            window: Duration::from_secs(positive(
                "AUTH_FAILURE_WINDOW_SECONDS",
                DEFAULT_AUTH_FAILURE_WINDOW_SECONDS,
            )?),
            lockout: Duration::from_secs(positive("AUTH_LOCKOUT_SECONDS", DEFAULT_AUTH_LOCKOUT_SECONDS)?),
        };
        let trusted_proxies =
            TrustedProxies::parse(&lookup("TRUSTED_PROXY_CIDRS").unwrap_or_default()).map_err(|problem| {
                ConfigError::Invalid {
                    variable: "TRUSTED_PROXY_CIDRS",
                    problem,
                }
            })?;
        let environment = lookup("API_ENVIRONMENT").filter(|e| !e.trim().is_empty());
        let credentials = match (lookup("API_TOKEN"), lookup("API_USER"), lookup("API_PASSWORD")) {
            (Some(token), None, None) => {
                Some(Credentials::from_token(&token).map_err(|problem| ConfigError::Invalid {
                    variable: "API_TOKEN",
                    problem,
                })?)
            }
            (None, Some(user), Some(password)) => Some(Credentials::from_user_password(&user, &password).map_err(
                |problem| ConfigError::Invalid {
                    variable: "API_USER",
                    problem,
                },
            )?),
            (None, None, None) => None,
            _ => {
                return Err(ConfigError::Invalid {
                    variable: "API_TOKEN",
                    problem: "set either API_TOKEN, or both API_USER and API_PASSWORD, not a mix".into(),
                });
            }
        };
        let anonymous = lookup("API_ALLOW_ANONYMOUS").is_some_and(|v| v == "true" || v == "1");
        if credentials.is_none() && !anonymous {
            return Err(ConfigError::NoCredentials);
        }
        let log_format = match lookup("LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    variable: "LOG_FORMAT",
                    problem: format!("`{other}`: use text or json"),
                });
            }
        };
        Ok(Self {
            port,
            metrics_port,
            credentials,
            cache_ttl: Duration::from_secs(number("CACHE_TTL_SECONDS", DEFAULT_CACHE_TTL_SECONDS)?),
            request_timeout: Duration::from_secs(
                number("REQUEST_TIMEOUT_SECONDS", DEFAULT_REQUEST_TIMEOUT_SECONDS)?.max(1),
            ),
            log_format,
            limits,
            max_concurrent_requests,
            environment,
            throttle,
            trusted_proxies,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Config::from_lookup(|name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn refuses_to_start_without_credentials() {
        assert_eq!(config(&[]).unwrap_err(), ConfigError::NoCredentials);
        assert!(
            config(&[("API_ALLOW_ANONYMOUS", "true")])
                .unwrap()
                .credentials
                .is_none()
        );
    }

    #[test]
    fn token_and_user_password_are_both_accepted() {
        // base64("admin:s3cret")
        assert!(
            config(&[("API_TOKEN", "YWRtaW46czNjcmV0")])
                .unwrap()
                .credentials
                .is_some()
        );
        assert!(
            config(&[("API_USER", "admin"), ("API_PASSWORD", "s3cret")])
                .unwrap()
                .credentials
                .is_some()
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        let error = config(&[("API_TOKEN", "not base64!")]).unwrap_err();
        assert!(error.to_string().starts_with("API_TOKEN: "), "{error}");
        let error = config(&[("API_USER", "a"), ("API_PASSWORD", "b"), ("PORT", "80000")]).unwrap_err();
        assert_eq!(error.to_string(), "PORT: must be at most 65535");
        let error = config(&[("API_USER", "a"), ("API_PASSWORD", "b"), ("LOG_FORMAT", "xml")]).unwrap_err();
        assert_eq!(error.to_string(), "LOG_FORMAT: `xml`: use text or json");
        let error = config(&[("API_USER", "a"), ("API_PASSWORD", "b"), ("METRICS_PORT", "8000")]).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("METRICS_PORT: must differ from PORT (8000)"),
            "{error}"
        );
        let error = config(&[("API_USER", "a"), ("API_PASSWORD", "b"), ("MAX_CONNECTIONS", "0")]).unwrap_err();
        assert_eq!(error.to_string(), "MAX_CONNECTIONS: must be at least 1");
        let error = config(&[
            ("API_USER", "a"),
            ("API_PASSWORD", "b"),
            ("TRUSTED_PROXY_CIDRS", "10.0.0.0/16,vpc"),
        ])
        .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("TRUSTED_PROXY_CIDRS: `vpc` is not a CIDR"),
            "{error}"
        );
    }

    #[test]
    fn limits_default_to_what_a_load_balanced_api_needs() {
        let config = config(&[("API_USER", "a"), ("API_PASSWORD", "b")]).unwrap();
        assert_eq!(config.limits.header_read_timeout, Duration::from_secs(10));
        // Above the load balancers' 60 s, so they always close idle connections first.
        assert!(config.limits.idle_timeout > Duration::from_secs(60));
        assert_eq!((config.port, config.metrics_port), (8000, 9100));
        // No proxy is trusted unless named: X-Forwarded-For is then never believed.
        assert!(config.trusted_proxies.is_empty());
    }

    #[test]
    fn trusted_proxies_are_comma_separated_cidrs() {
        let config = config(&[
            ("API_USER", "a"),
            ("API_PASSWORD", "b"),
            ("TRUSTED_PROXY_CIDRS", "10.0.0.0/16, 10.1.0.0/16"),
        ])
        .unwrap();
        assert!(config.trusted_proxies.contains("10.1.2.3".parse().unwrap()));
        assert!(!config.trusted_proxies.contains("10.2.0.1".parse().unwrap()));
    }
}
