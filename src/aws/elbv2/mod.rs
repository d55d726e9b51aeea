//! The Application Load Balancer adapter (aws-sdk-elasticloadbalancingv2): load balancers,
//! target groups and listeners, one file each, all named by ARN.

mod listener;
mod load_balancer;
mod target_group;

pub(crate) use listener::Listeners;
pub(crate) use load_balancer::LoadBalancers;
pub(crate) use target_group::TargetGroups;

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::Tag;

use super::error::{AwsError, Classify};
use super::permissions::{Arn, Call, LIST, On, read, write};
use crate::model::{TAG_ENVIRONMENT, Tags};

/// DescribeTags takes at most 20 ARNs per call.
const TAG_BATCH: usize = 20;

#[derive(Debug, Clone)]
pub struct Elbv2 {
    client: Client,
}

impl Elbv2 {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: crate::aws::classifier::client!(aws_sdk_elasticloadbalancingv2, config),
        }
    }

    /// Healthy targets of the group, and each other target with AWS's reason code.
    pub async fn target_health(&self, group: &str) -> Result<super::TargetsStatus, AwsError> {
        let output = self
            .client
            .describe_target_health()
            .target_group_arn(group)
            .send()
            .await
            .op("DescribeTargetHealth")?;
        let mut status = super::TargetsStatus {
            healthy: 0,
            unhealthy: Vec::new(),
        };
        for description in output.target_health_descriptions() {
            let health = description.target_health();
            match health.and_then(|h| h.state()).map(|s| s.as_str()) {
                Some("healthy") => status.healthy += 1,
                state => status.unhealthy.push(format!(
                    "{} {} ({})",
                    description.target().and_then(|t| t.id()).unwrap_or("?"),
                    state.unwrap_or("unknown"),
                    health.and_then(|h| h.reason()).map_or("no reason", |r| r.as_str())
                )),
            }
        }
        Ok(status)
    }

    /// The tags of the resources named, by ARN (ELBv2 cannot filter a describe by tag).
    async fn tags(&self, arns: &[String]) -> Result<BTreeMap<String, Tags>, AwsError> {
        let mut tags = BTreeMap::new();
        for batch in arns.chunks(TAG_BATCH) {
            let output = self
                .client
                .describe_tags()
                .set_resource_arns(Some(batch.to_vec()))
                .send()
                .await
                .op("DescribeTags")?;
            for description in output.tag_descriptions() {
                let map: Tags = description
                    .tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned())))
                    .collect();
                tags.insert(description.resource_arn().unwrap_or_default().to_owned(), map);
            }
        }
        Ok(tags)
    }

    /// The tags of `arns` that belong to `environment`, by ARN.
    async fn environment_tags(&self, arns: &[String], environment: &str) -> Result<BTreeMap<String, Tags>, AwsError> {
        let mut tags = self.tags(arns).await?;
        tags.retain(|_, tags| tags.get(TAG_ENVIRONMENT).is_some_and(|e| e == environment));
        Ok(tags)
    }
}

crate::aws::tags::tag_api!(
    Elbv2,
    resource_arns,
    add_tags("AddTags", tags => sdk_tags(tags)),
    remove_tags("RemoveTags")
);

fn sdk_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// What the ALB adapters call (see `aws::permissions`).
pub(crate) const CALLS: &[Call] = &[
    read("elasticloadbalancing:DescribeLoadBalancers", On::Anything(LIST)),
    read(
        "elasticloadbalancing:DescribeLoadBalancerAttributes",
        On::Anything(LIST),
    ),
    read("elasticloadbalancing:DescribeListeners", On::Anything(LIST)),
    read("elasticloadbalancing:DescribeTags", On::Anything(LIST)),
    read("elasticloadbalancing:DescribeTargetGroups", On::Anything(LIST)),
    read("elasticloadbalancing:DescribeTargetGroupAttributes", On::Anything(LIST)),
    read("elasticloadbalancing:DescribeTargetHealth", On::Anything(LIST)),
    write(
        "elasticloadbalancing:CreateLoadBalancer",
        On::Creating(&[Arn::LoadBalancer]),
    ),
    write(
        "elasticloadbalancing:CreateTargetGroup",
        On::Creating(&[Arn::TargetGroup]),
    ),
    write(
        "elasticloadbalancing:CreateListener",
        On::Own(&[Arn::LoadBalancer, Arn::Listener]),
    ),
    write(
        "elasticloadbalancing:AddTags",
        On::Own(&[Arn::LoadBalancer, Arn::TargetGroup, Arn::Listener]),
    ),
    write(
        "elasticloadbalancing:RemoveTags",
        On::Own(&[Arn::LoadBalancer, Arn::TargetGroup, Arn::Listener]),
    ),
    write("elasticloadbalancing:ModifyListener", On::Own(&[Arn::Listener])),
    write("elasticloadbalancing:DeleteListener", On::Own(&[Arn::Listener])),
    write(
        "elasticloadbalancing:ModifyLoadBalancerAttributes",
        On::Own(&[Arn::LoadBalancer]),
    ),
    write("elasticloadbalancing:SetSecurityGroups", On::Own(&[Arn::LoadBalancer])),
    write("elasticloadbalancing:SetSubnets", On::Own(&[Arn::LoadBalancer])),
    write("elasticloadbalancing:DeleteLoadBalancer", On::Own(&[Arn::LoadBalancer])),
    write("elasticloadbalancing:ModifyTargetGroup", On::Own(&[Arn::TargetGroup])),
    write(
        "elasticloadbalancing:ModifyTargetGroupAttributes",
        On::Own(&[Arn::TargetGroup]),
    ),
    write("elasticloadbalancing:DeleteTargetGroup", On::Own(&[Arn::TargetGroup])),
    // The first load balancer of an account has ELB create its service-linked role.
    write(
        "iam:CreateServiceLinkedRole",
        On::ServiceLinked(&["elasticloadbalancing.amazonaws.com"]),
    ),
];
