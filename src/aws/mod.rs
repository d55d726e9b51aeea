//! Everything that talks to AWS: one folder per service (its client, `TagApi` and live
//! readers in `mod.rs`, one file per kind), the SDK helpers they share (`sdk/`), deployer's own
//! state (`state/`), SDK configuration, and the operator that carries out plan steps. No
//! other module imports an SDK crate.

#[macro_use]
mod sdk;

mod acm;
mod app_scaling;
mod asg;
mod cloudwatch;
mod ec2;
mod ecr;
mod ecs;
mod elb;
mod elbv2;
mod found;
mod iam;
mod logs;
mod permissions;
mod rds;
mod registry;
mod resource;
mod s3;
mod sns;
mod state;
mod status;
mod sts;
mod target_tracking;

// The shared SDK helpers under the paths every adapter uses (`super::error::AwsError`).
use sdk::{classifier, error, retry, tags, wait};

pub use acm::Acm;
pub use app_scaling::AppScaling;
pub use asg::Asg;
pub use cloudwatch::CloudWatch;
pub use ec2::Ec2;
pub use ecr::{Ecr, PushedImage, RegistryLogin};
pub use ecs::Ecs;
pub use elb::Elb;
pub use elbv2::Elbv2;
pub use error::AwsError;
pub use iam::Iam;
pub use logs::{LogLine, Logs};
pub use permissions::{
    POLICY_SIZE_LIMIT, Permissions, PolicyDocument, Role as OperatorRole, Scope as PermissionScope, Unscoped,
    permissions, size as policy_size,
};
pub use rds::Rds;
pub use s3::S3;
pub use sns::Sns;
pub use state::{Acquired, Hold, LOCK_TABLE, LockHolder, Locks};
pub use status::{AlarmStatus, ComputeStatus, DatabaseStatus, Health, Revision, TargetsStatus};
pub use sts::Sts;
pub use wait::Timeouts;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::apply::{Operator, Progress, Resolved, Step};
use crate::model::{Facts, ObservedResource};

/// Where and as whom to talk to AWS; unset fields fall back to the standard AWS chain
/// (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ~/.aws/config).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "no AWS region is configured\n  help: set `region:` in the environment file, pass --region, or set AWS_REGION"
    )]
    NoRegion,
    #[error(
        "the AWS endpoint {url} is plain http to another machine: the access key id, the session token and every request would cross the network in clear\n  help: use https://, or http:// only for an emulator on this machine (127.0.0.1, ::1, localhost)"
    )]
    PlainHttp { url: String },
    #[error(
        "the AWS endpoint `{url}` is not an http(s) URL\n  help: use https://HOST[:PORT] (or http://127.0.0.1:PORT for a local emulator)"
    )]
    NotUrl { url: String },
}

/// The host of `host[:port]` or `[v6]:port`.
fn host_of(host_port: &str) -> &str {
    match host_port.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => host_port.rsplit_once(':').map_or(host_port, |(host, _)| host),
    }
}

/// Whether `host[:port]` is this machine (localhost, 127.0.0.0/8, ::1): where plain http
/// carries credentials across no network.
pub fn is_loopback(host_port: &str) -> bool {
    let host = host_of(host_port);
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The endpoint (--endpoint-url, AWS_ENDPOINT_URL or the profile's) may be anything: refuse
/// what would send credentials in clear, and say when requests go to a host not AWS's own.
fn check_endpoint(url: &str) -> Result<(), ConnectError> {
    let (plain, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (false, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (true, rest)
    } else {
        return Err(ConnectError::NotUrl { url: url.to_owned() });
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = host_of(authority);
    if host.is_empty() {
        return Err(ConnectError::NotUrl { url: url.to_owned() });
    }
    let loopback = is_loopback(authority);
    if plain && !loopback {
        return Err(ConnectError::PlainHttp { url: url.to_owned() });
    }
    let aws = [".amazonaws.com", ".amazonaws.com.cn", ".api.aws"]
        .iter()
        .any(|suffix| host.ends_with(suffix));
    if !aws && !loopback {
        tracing::warn!(
            "requests go to {host}, which is not an AWS endpoint: it receives signed requests from these credentials"
        );
    }
    Ok(())
}

/// The service clients for one region.
#[derive(Debug, Clone)]
pub struct Aws {
    pub region: String,
    pub ec2: Ec2,
    pub elb: Elb,
    pub elbv2: Elbv2,
    pub iam: Iam,
    pub asg: Asg,
    pub ecr: Ecr,
    pub ecs: Ecs,
    pub rds: Rds,
    pub sts: Sts,
    pub locks: Locks,
    pub logs: Logs,
    pub s3: S3,
    pub scaling: AppScaling,
    pub acm: Acm,
    pub cloudwatch: CloudWatch,
    pub sns: Sns,
}

impl Aws {
    pub async fn connect(settings: &Settings) -> Result<Self, ConnectError> {
        let from_environment = std::env::var("AWS_ENDPOINT_URL").ok().filter(|url| !url.is_empty());
        if let Some(url) = settings.endpoint_url.as_ref().or(from_environment.as_ref()) {
            check_endpoint(url)?;
        }
        let config = load_config(settings).await;
        if let Some(url) = config.endpoint_url() {
            check_endpoint(url)?;
        }
        let Some(region) = config.region() else {
            return Err(ConnectError::NoRegion);
        };
        Ok(Self {
            region: region.to_string(),
            ec2: Ec2::new(&config),
            elb: Elb::new(&config),
            elbv2: Elbv2::new(&config),
            iam: Iam::new(&config),
            asg: Asg::new(&config),
            ecr: Ecr::new(&config),
            ecs: Ecs::new(&config),
            rds: Rds::new(&config),
            sts: Sts::new(&config),
            locks: Locks::new(&config),
            logs: Logs::new(&config),
            s3: S3::new(&config),
            scaling: AppScaling::new(&config),
            acm: Acm::new(&config),
            cloudwatch: CloudWatch::new(&config),
            sns: Sns::new(&config),
        })
    }

    /// Everything tagged as part of `environment`, across services, all at once.
    pub async fn discover(&self, environment: &str) -> Result<Vec<ObservedResource>, AwsError> {
        let found = registry::discover_all(self, environment).await?;
        Ok(found::resolve(found, environment))
    }

    /// The environment's resources of one kind.
    pub async fn discover_kind(
        &self,
        environment: &str,
        kind: crate::model::Kind,
    ) -> Result<Vec<ObservedResource>, AwsError> {
        let found = registry::discover_kind(self, environment, kind).await?;
        Ok(found::resolve(found, environment))
    }

    /// The outputs of an environment, from what discovery found.
    pub fn outputs(&self, environment: &str, observed: &[ObservedResource]) -> crate::model::Outputs {
        registry::outputs(self, environment, observed)
    }

    /// What every deployed resource says about how the environment runs.
    pub async fn health(&self, observed: &[ObservedResource]) -> Result<Vec<Health>, AwsError> {
        registry::health(self, observed).await
    }

    /// The revisions of what runs the API, newest first; None when nothing runs it.
    pub async fn revisions(&self, observed: &[ObservedResource]) -> Result<Option<Vec<Revision>>, AwsError> {
        registry::revisions(self, observed).await
    }

    /// What the model needs to know about the account and region.
    /// `default_image`: the architecture of the Amazon Linux AMI to look up, when EC2 compute
    /// names no AMI of its own.
    pub async fn facts(&self, default_image: Option<crate::config::Architecture>) -> Result<Facts, AwsError> {
        let image = async {
            match default_image {
                Some(architecture) => self.ec2.latest_amazon_linux(architecture).await,
                None => Ok(None),
            }
        };
        let (availability_zones, account_id, default_image_id) =
            tokio::try_join!(self.ec2.availability_zones(), self.sts.account_id(), image)?;
        Ok(Facts {
            availability_zones,
            region: self.region.clone(),
            account_id,
            default_image_id,
            pushed_image: None,
        })
    }
}

/// Attempts per AWS call. Control-plane APIs throttle and fail transiently far more than data
/// planes; the SDK's default of 3 gives up on a busy account (Terraform's provider uses 25).
/// At 20% injected faults the tests need at most a handful.
pub const MAX_ATTEMPTS: u32 = 15;
/// Backoff between attempts: full jitter, doubling from 1 s, never above this.
const MAX_BACKOFF: Duration = Duration::from_secs(20);

/// Retries for throttling, 5xx, resets and timeouts, with jittered exponential backoff. Not
/// adaptive mode: its client-side rate limiter cut the send rate so hard after each injected
/// throttle that `apply staging` at 20% faults took 7 times as long (measured: ~150 s
/// against 22 s) with the same number of calls; AWS's own throttling answers already slow
/// deployer down through the backoff.
fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_secs(1))
        .with_max_backoff(MAX_BACKOFF)
}

/// A connection that hangs is an attempt that failed, and is retried; no single attempt may
/// stall an apply.
fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(10))
        .operation_attempt_timeout(Duration::from_secs(60))
        .build()
}

/// The SDK's own HTTPS client (hyper, rustls, the system's root certificates), on ring rather
/// than aws-lc-rs: same protocol and certificates, without aws-lc's C build.
fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

async fn load_config(settings: &Settings) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .retry_config(retry_config())
        .timeout_config(timeout_config());
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(endpoint) = &settings.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

/// Carries out plan steps.
pub struct Provider<'a> {
    pub aws: &'a Aws,
    pub timeouts: &'a Timeouts,
}

impl Operator for Provider<'_> {
    type Error = AwsError;

    async fn execute<'a>(
        &'a self,
        step: &'a Step<'a>,
        resolved: Resolved,
        progress: Progress<'a>,
    ) -> Result<Option<String>, AwsError> {
        registry::execute(self.aws, self.timeouts, step, (&resolved, progress)).await
    }
}

#[cfg(test)]
mod endpoint_tests {
    use super::*;

    #[test]
    fn credentials_never_go_in_clear_to_another_machine() {
        for ok in [
            "http://127.0.0.1:5000",
            "http://localhost:4566/",
            "http://[::1]:5000",
            "https://ec2.us-east-1.amazonaws.com",
            "https://vpce-1.ec2.us-east-1.vpce.amazonaws.com",
            "https://proxy.example.com",
        ] {
            assert!(check_endpoint(ok).is_ok(), "{ok}");
        }
        for refused in [
            "http://10.0.0.5:5000",
            "http://moto.example.com",
            "http://127.0.0.1.example.com",
        ] {
            assert!(
                matches!(check_endpoint(refused), Err(ConnectError::PlainHttp { .. })),
                "{refused}"
            );
        }
        for bad in ["127.0.0.1:5000", "ftp://x", "https://"] {
            assert!(matches!(check_endpoint(bad), Err(ConnectError::NotUrl { .. })), "{bad}");
        }
    }
}
