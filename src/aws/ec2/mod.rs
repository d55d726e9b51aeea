//! The EC2 adapter: the network layer (VPC, subnets, gateways, routes, security groups) and
//! launch templates, one file per kind; the account's zones and which environments it holds;
//! the quotas a plan is checked against (`quotas.rs`).

mod elastic_ip;
mod internet_gateway;
mod launch_template;
mod nat_gateway;
mod quotas;
mod route_table;
mod security_group;
mod security_group_rules;
mod subnet;
mod vpc;

pub(crate) use elastic_ip::ElasticIps;
pub(crate) use internet_gateway::InternetGateways;
pub(crate) use launch_template::LaunchTemplates;
pub(crate) use nat_gateway::NatGateways;
pub(crate) use route_table::RouteTables;
pub(crate) use security_group::SecurityGroups;
pub(crate) use security_group_rules::SecurityGroupRules;
pub(crate) use subnet::Subnets;
pub(crate) use vpc::Vpcs;

use std::collections::BTreeSet;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

use super::error::{AwsError, Classify};
use super::tags::TagApi;
use crate::model::{TAG_ENVIRONMENT, Tags};

#[derive(Debug, Clone)]
pub struct Ec2 {
    client: Client,
}

impl Ec2 {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: crate::aws::classifier::client!(aws_sdk_ec2, config),
        }
    }

    /// The region's availability zones that accept new resources, sorted by name.
    pub async fn availability_zones(&self) -> Result<Vec<String>, AwsError> {
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

    /// The environments deployed here: those with a VPC or an Elastic IP, the resources a
    /// destroy deletes last. (DescribeTags would also list deleted NAT gateways, which keep
    /// their tags for an hour.)
    pub async fn deployed_environments(&self) -> Result<BTreeSet<String>, AwsError> {
        let tagged = filter("tag-key", TAG_ENVIRONMENT);
        let vpcs = self
            .client
            .describe_vpcs()
            .filters(tagged.clone())
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>();
        let addresses = self.client.describe_addresses().filters(tagged).send();
        let (vpcs, addresses) = tokio::join!(vpcs, addresses);
        let vpc_tags = vpcs
            .op("DescribeVpcs")?
            .into_iter()
            .flat_map(|v| v.tags.unwrap_or_default());
        let address_tags = addresses
            .op("DescribeAddresses")?
            .addresses
            .unwrap_or_default()
            .into_iter()
            .flat_map(|a| a.tags.unwrap_or_default());
        Ok(vpc_tags
            .chain(address_tags)
            .filter(|t| t.key() == Some(TAG_ENVIRONMENT))
            .filter_map(|t| t.value)
            .collect())
    }
}

/// EC2 tags any of its resources by id, with one pair of calls.
impl TagApi for Ec2 {
    async fn tag(&self, resource: &str, tags: &Tags) -> Result<(), AwsError> {
        self.client
            .create_tags()
            .resources(resource)
            .set_tags(Some(to_sdk_tags(tags)))
            .send()
            .await
            .op("CreateTags")
            .map(drop)
    }

    async fn untag(&self, resource: &str, keys: &[String]) -> Result<(), AwsError> {
        self.client
            .delete_tags()
            .resources(resource)
            .set_tags(Some(keys.iter().map(|k| Tag::builder().key(k).build()).collect()))
            .send()
            .await
            .op("DeleteTags")
            .map(drop)
    }
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// The filter every discovery uses: tagged for this environment.
fn env_filter(environment: &str) -> Filter {
    filter(&format!("tag:{TAG_ENVIRONMENT}"), environment)
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
