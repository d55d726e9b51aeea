//! Everything that talks to AWS: one adapter per service, SDK configuration, error
//! classification, and the operator that carries out plan steps. No other module imports an
//! SDK crate.

/// Every item of a paginated list call, all pages, with AWS's error kept under the
/// operation's name. Defined before the adapters so all of them can use it.
macro_rules! all_pages {
    ($request:expr, $operation:literal) => {
        $request
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .op($operation)
    };
}

mod acm;
mod asg;
mod classifier;
mod cloudwatch;
mod ec2;
mod ecr;
mod ecs;
mod elb;
mod elbv2;
mod error;
mod found;
mod iam;
mod lock;
mod logs;
mod rds;
mod registry;
mod resource;
mod retry;
mod s3;
mod scaling;
mod sns;
mod status;
mod sts;
mod tags;
mod wait;

pub use acm::Acm;
pub use asg::Asg;
pub use cloudwatch::{ALARM_STATE, CloudWatch};
pub use ec2::Ec2;
pub use ecr::{Ecr, PushedImage, RegistryLogin};
pub use ecs::Ecs;
pub use elb::Elb;
pub use elbv2::Elbv2;
pub use error::AwsError;
pub use iam::Iam;
pub use lock::{Acquired, Hold, LOCK_TABLE, LockHolder, Locks};
pub use logs::{LogLine, Logs};
pub use rds::Rds;
pub use s3::S3;
pub use scaling::AppScaling;
pub use sns::Sns;
pub use status::{ComputeStatus, DatabaseStatus, Revision, TargetsStatus};
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
#[error("no AWS region is configured\n  help: set `region:` in the environment file, pass --region, or set AWS_REGION")]
pub struct NoRegion;

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
    pub async fn connect(settings: &Settings) -> Result<Self, NoRegion> {
        let config = load_config(settings).await;
        let Some(region) = config.region() else {
            return Err(NoRegion);
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
