//! The EC2 adapter: the network layer (VPC, subnets, gateways, routes, security groups).
//! Translates between model specs and aws-sdk-ec2 calls; the only module that imports it.

mod discover;
mod launch_templates;
mod network;
mod security_groups;

pub(crate) use super::retry::delete_with_retry;

use std::time::Duration;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

use super::error::AwsError;
use crate::model::Tags;

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
