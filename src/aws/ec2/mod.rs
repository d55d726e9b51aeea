//! The EC2 adapter: the network layer (VPC, subnets, gateways, routes, security groups).
//! Translates between model specs and aws-sdk-ec2 calls; the only module that imports it.

mod discover;
mod launch_templates;
mod network;
mod security_groups;

use std::time::Duration;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

use super::error::AwsError;
use crate::apply::Progress;
use crate::model::Tags;

/// Real AWS releases the network interfaces of deleted load balancers and NAT gateways minutes
/// after the delete call returns; dependants fail with DependencyViolation until then.
const DEPENDENCY_RELEASE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// First retry delay for DependencyViolation; doubles up to `MAX_RETRY_DELAY`.
const FIRST_RETRY_DELAY: Duration = Duration::from_secs(2);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(20);
/// NAT gateways take one to five minutes to become available on real AWS.
const NAT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone)]
pub struct Ec2 {
    client: Client,
}

impl Ec2 {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: Client::new(config),
        }
    }

    /// The region's availability zones that accept new resources, sorted by name.
    pub async fn availability_zones(&self) -> Result<Vec<String>, AwsError> {
        use super::error::Classify;
        let output = self
            .client
            .describe_availability_zones()
            .filters(filter("state", "available"))
            .filters(filter("zone-type", "availability-zone"))
            .send()
            .await
            .op("DescribeAvailabilityZones")?;
        let mut zones: Vec<String> = output
            .availability_zones()
            .iter()
            .filter_map(|z| z.zone_name().map(str::to_owned))
            .collect();
        zones.sort();
        Ok(zones)
    }
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

fn tag_specification(resource_type: ResourceType, tags: &Tags) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource_type)
        .set_tags(Some(to_sdk_tags(tags)))
        .build()
}

fn to_sdk_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn from_sdk_tags(tags: &[Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned())))
        .filter(|(k, _)| !k.starts_with("aws:"))
        .collect()
}

/// Runs a delete, treating "already gone" as done and retrying while dependants drain.
pub(crate) async fn delete_with_retry<F, Fut>(
    what: &str,
    progress: Progress<'_>,
    mut attempt: F,
) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), AwsError>>,
{
    let started = std::time::Instant::now();
    let mut delay = FIRST_RETRY_DELAY;
    loop {
        match attempt().await {
            Ok(()) => return Ok(()),
            Err(error) if error.is_not_found() => return Ok(()),
            Err(error) if error.is_dependency_violation() => {
                if started.elapsed() >= DEPENDENCY_RELEASE_TIMEOUT {
                    return Err(error);
                }
                progress.waiting(format!(
                    "dependants of {what} to be released ({})",
                    error.code().unwrap_or("in use")
                ));
                let jitter = Duration::from_millis(fastrand::u64(0..500));
                tokio::time::sleep(delay + jitter).await;
                delay = (delay * 2).min(MAX_RETRY_DELAY);
            }
            Err(error) => return Err(error),
        }
    }
}
