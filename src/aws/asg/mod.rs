//! The Auto Scaling adapter: groups over a launch template, attached to a classic ELB or a
//! target group. Rolling to a new template version uses an instance refresh.

use std::time::Duration;

use aws_sdk_autoscaling::Client;
use aws_sdk_autoscaling::types::{Filter, LaunchTemplateSpecification, Tag};

use super::error::{AwsError, Classify};
use super::found::Found;
use super::permissions::{Arn, Call, LIST, On, read, write};
use super::resource::{Create, Delete, Resource, Update};
use super::tags::{TagApi, sync_tags};
use super::wait::{Check, Wait, poll};
use crate::apply::Resolved;
use crate::aws::resource::Read;
use crate::aws::status::Health;
use crate::model::{AutoScalingGroupSpec, Spec, TAG_DIGEST, TAG_ENVIRONMENT, TAG_ID, TAG_SPEC, Tags};

mod group;
mod group_scaling;

pub(crate) use group::AutoScalingGroups;
pub(crate) use group_scaling::GroupScalings;

/// A refresh launches each replacement before it terminates the instance it replaces (100 %
/// healthy throughout, up to 200 % while rolling): at 90 % a one-instance group would
/// terminate its only instance first, an outage. AWS allows max - min up to 100.
const REFRESH_MIN_HEALTHY_PERCENT: i32 = 100;
const REFRESH_MAX_HEALTHY_PERCENT: i32 = 200;
/// What AWS calls a group in its tag calls.
const GROUP_RESOURCE_TYPE: &str = "auto-scaling-group";

#[derive(Debug, Clone)]
pub struct Asg {
    pub(super) client: Client,
}

impl Asg {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: crate::aws::classifier::client!(aws_sdk_autoscaling, config),
        }
    }
}

/// Group tags carry whether they propagate to the instances the group launches.
impl TagApi for Asg {
    async fn tag(&self, group: &str, tags: &Tags) -> Result<(), AwsError> {
        self.client
            .create_or_update_tags()
            .set_tags(Some(sdk_tags(group, tags)))
            .send()
            .await
            .op("CreateOrUpdateTags")
            .map(drop)
    }

    async fn untag(&self, group: &str, keys: &[String]) -> Result<(), AwsError> {
        let tags = keys
            .iter()
            .map(|k| {
                Tag::builder()
                    .key(k)
                    .resource_id(group)
                    .resource_type(GROUP_RESOURCE_TYPE)
                    .build()
            })
            .collect();
        self.client
            .delete_tags()
            .set_tags(Some(tags))
            .send()
            .await
            .op("DeleteTags")
            .map(drop)
    }
}

/// Tags propagate to the instances the group launches, so they are found by tag too.
fn sdk_tags(group: &str, tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .resource_id(group)
                .resource_type(GROUP_RESOURCE_TYPE)
                .propagate_at_launch(![TAG_DIGEST, TAG_SPEC, TAG_ID].contains(&k.as_str()))
                .build()
        })
        .collect()
}

/// What the Auto Scaling adapters call (see `aws::permissions`).
pub(crate) const CALLS: &[Call] = &[
    read("autoscaling:DescribeAutoScalingGroups", On::Anything(LIST)),
    read("autoscaling:DescribeInstanceRefreshes", On::Anything(LIST)),
    read("autoscaling:DescribePolicies", On::Anything(LIST)),
    read("autoscaling:DescribeScalingActivities", On::Anything(LIST)),
    write(
        "autoscaling:CreateAutoScalingGroup",
        On::Creating(&[Arn::AutoScalingGroup]),
    ),
    write("autoscaling:UpdateAutoScalingGroup", On::Own(&[Arn::AutoScalingGroup])),
    write("autoscaling:DeleteAutoScalingGroup", On::Own(&[Arn::AutoScalingGroup])),
    write("autoscaling:CreateOrUpdateTags", On::Own(&[Arn::AutoScalingGroup])),
    write("autoscaling:DeleteTags", On::Own(&[Arn::AutoScalingGroup])),
    write("autoscaling:AttachLoadBalancers", On::Own(&[Arn::AutoScalingGroup])),
    write("autoscaling:DetachLoadBalancers", On::Own(&[Arn::AutoScalingGroup])),
    write(
        "autoscaling:AttachLoadBalancerTargetGroups",
        On::Own(&[Arn::AutoScalingGroup]),
    ),
    write(
        "autoscaling:DetachLoadBalancerTargetGroups",
        On::Own(&[Arn::AutoScalingGroup]),
    ),
    write("autoscaling:StartInstanceRefresh", On::Own(&[Arn::AutoScalingGroup])),
    write("autoscaling:PutScalingPolicy", On::Own(&[Arn::AutoScalingGroup])),
    write("autoscaling:DeletePolicy", On::Own(&[Arn::AutoScalingGroup])),
];

/// What AWS checks on deployer's behalf when a group is created or updated with a launch
/// template (the Auto Scaling guide, "Permissions to use launch templates"): that the caller
/// could launch it, and pass its instance profile's role to EC2. The group's own service-linked
/// role launches the instances.
pub(crate) const IMPLIED: &[Call] = &[
    write(
        "ec2:RunInstances",
        On::Tagged(&[
            Arn::Ec2("launch-template"),
            Arn::Ec2("subnet"),
            Arn::Ec2("security-group"),
        ]),
    ),
    write(
        "ec2:RunInstances",
        On::Own(&[
            Arn::Ec2("instance"),
            Arn::Ec2("volume"),
            Arn::Ec2("network-interface"),
            Arn::Ec2Image,
        ]),
    ),
    write("ec2:CreateTags", On::TaggingOnCreate(&["RunInstances"])),
    write("iam:PassRole", On::PassedTo(&["ec2.amazonaws.com"])),
    // A target tracking policy has Auto Scaling make and remove its alarms as the caller.
    write("cloudwatch:PutMetricAlarm", On::Own(&[Arn::TargetTrackingAlarms])),
    write("cloudwatch:DeleteAlarms", On::Own(&[Arn::TargetTrackingAlarms])),
    write(
        "iam:CreateServiceLinkedRole",
        On::ServiceLinked(&["autoscaling.amazonaws.com"]),
    ),
];
