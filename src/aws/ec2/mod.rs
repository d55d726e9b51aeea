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
use super::permissions::{Arn, Call, LIST, On, read, write};
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

/// What the EC2 adapters call (see `aws::permissions`).
pub(crate) const CALLS: &[Call] = &[
    read("ec2:DescribeAccountAttributes", On::Anything(LIST)),
    read("ec2:DescribeAddresses", On::Anything(LIST)),
    read("ec2:DescribeAvailabilityZones", On::Anything(LIST)),
    read("ec2:DescribeImages", On::Anything(LIST)),
    read("ec2:DescribeInternetGateways", On::Anything(LIST)),
    read("ec2:DescribeLaunchTemplateVersions", On::Anything(LIST)),
    read("ec2:DescribeLaunchTemplates", On::Anything(LIST)),
    read("ec2:DescribeNatGateways", On::Anything(LIST)),
    read("ec2:DescribeRouteTables", On::Anything(LIST)),
    read("ec2:DescribeSecurityGroups", On::Anything(LIST)),
    read("ec2:DescribeSubnets", On::Anything(LIST)),
    read("ec2:DescribeTags", On::Anything(LIST)),
    read("ec2:DescribeVpcAttribute", On::Tagged(&[Arn::Ec2("vpc")])),
    read("ec2:DescribeVpcs", On::Anything(LIST)),
    write("ec2:CreateVpc", On::Creating(&[Arn::Ec2("vpc")])),
    write("ec2:ModifyVpcAttribute", On::Tagged(&[Arn::Ec2("vpc")])),
    write("ec2:DeleteVpc", On::Tagged(&[Arn::Ec2("vpc")])),
    write("ec2:CreateSubnet", On::Creating(&[Arn::Ec2("subnet")])),
    write("ec2:CreateSubnet", On::Tagged(&[Arn::Ec2("vpc")])),
    write("ec2:DeleteSubnet", On::Tagged(&[Arn::Ec2("subnet")])),
    write(
        "ec2:CreateInternetGateway",
        On::Creating(&[Arn::Ec2("internet-gateway")]),
    ),
    write(
        "ec2:AttachInternetGateway",
        On::Tagged(&[Arn::Ec2("internet-gateway"), Arn::Ec2("vpc")]),
    ),
    write(
        "ec2:DetachInternetGateway",
        On::Tagged(&[Arn::Ec2("internet-gateway"), Arn::Ec2("vpc")]),
    ),
    write("ec2:DeleteInternetGateway", On::Tagged(&[Arn::Ec2("internet-gateway")])),
    write("ec2:AllocateAddress", On::Creating(&[Arn::Ec2("elastic-ip")])),
    write("ec2:ReleaseAddress", On::Tagged(&[Arn::Ec2("elastic-ip")])),
    write("ec2:CreateNatGateway", On::Creating(&[Arn::Ec2("natgateway")])),
    write(
        "ec2:CreateNatGateway",
        On::Tagged(&[Arn::Ec2("subnet"), Arn::Ec2("elastic-ip")]),
    ),
    write("ec2:DeleteNatGateway", On::Tagged(&[Arn::Ec2("natgateway")])),
    write("ec2:CreateRouteTable", On::Creating(&[Arn::Ec2("route-table")])),
    write("ec2:CreateRouteTable", On::Tagged(&[Arn::Ec2("vpc")])),
    write("ec2:DeleteRouteTable", On::Tagged(&[Arn::Ec2("route-table")])),
    write("ec2:CreateRoute", On::Tagged(&[Arn::Ec2("route-table")])),
    write("ec2:ReplaceRoute", On::Tagged(&[Arn::Ec2("route-table")])),
    write("ec2:DeleteRoute", On::Tagged(&[Arn::Ec2("route-table")])),
    write(
        "ec2:AssociateRouteTable",
        On::Tagged(&[Arn::Ec2("route-table"), Arn::Ec2("subnet")]),
    ),
    write(
        "ec2:DisassociateRouteTable",
        On::Tagged(&[Arn::Ec2("route-table"), Arn::Ec2("subnet")]),
    ),
    write("ec2:CreateSecurityGroup", On::Creating(&[Arn::Ec2("security-group")])),
    write("ec2:CreateSecurityGroup", On::Tagged(&[Arn::Ec2("vpc")])),
    write("ec2:DeleteSecurityGroup", On::Tagged(&[Arn::Ec2("security-group")])),
    write(
        "ec2:AuthorizeSecurityGroupIngress",
        On::Tagged(&[Arn::Ec2("security-group")]),
    ),
    write(
        "ec2:AuthorizeSecurityGroupEgress",
        On::Tagged(&[Arn::Ec2("security-group")]),
    ),
    write(
        "ec2:RevokeSecurityGroupIngress",
        On::Tagged(&[Arn::Ec2("security-group")]),
    ),
    write(
        "ec2:RevokeSecurityGroupEgress",
        On::Tagged(&[Arn::Ec2("security-group")]),
    ),
    // The rules an authorize call creates are new, so carry no tag yet; the group's tag scopes.
    write(
        "ec2:AuthorizeSecurityGroupIngress",
        On::Own(&[Arn::Ec2("security-group-rule")]),
    ),
    write(
        "ec2:AuthorizeSecurityGroupEgress",
        On::Own(&[Arn::Ec2("security-group-rule")]),
    ),
    write("ec2:CreateLaunchTemplate", On::Creating(&[Arn::Ec2("launch-template")])),
    write(
        "ec2:CreateLaunchTemplateVersion",
        On::Tagged(&[Arn::Ec2("launch-template")]),
    ),
    write("ec2:ModifyLaunchTemplate", On::Tagged(&[Arn::Ec2("launch-template")])),
    write("ec2:DeleteLaunchTemplate", On::Tagged(&[Arn::Ec2("launch-template")])),
    write(
        "ec2:CreateTags",
        On::TaggingOnCreate(&[
            "AllocateAddress",
            "CreateInternetGateway",
            "CreateLaunchTemplate",
            "CreateNatGateway",
            "CreateRouteTable",
            "CreateSecurityGroup",
            "CreateSubnet",
            "CreateVpc",
        ]),
    ),
    write("ec2:CreateTags", On::Tagged(&[Arn::Ec2("*")])),
    write("ec2:DeleteTags", On::Tagged(&[Arn::Ec2("*")])),
];
