//! Application Auto Scaling: the client, and the ECS service's scalable target and policies
//! (`service_scaling.rs`).

use super::permissions::{Arn, Call, LIST, On, read, write};
use aws_sdk_applicationautoscaling::Client;

mod service_scaling;

pub(crate) use service_scaling::ServiceScalings;

#[derive(Debug, Clone)]
pub struct AppScaling {
    client: Client,
}

impl AppScaling {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: crate::aws::classifier::client!(aws_sdk_applicationautoscaling, config),
        }
    }
}

/// What the ECS service's scaling calls (see `aws::permissions`). Scalable targets and their
/// policies are named by ids AWS gives, and deployer cannot tag them on every endpoint, so they
/// stay on `*`.
pub(crate) const CALLS: &[Call] = &[
    read("application-autoscaling:DescribeScalableTargets", On::Anything(LIST)),
    read("application-autoscaling:DescribeScalingPolicies", On::Anything(LIST)),
    write(
        "application-autoscaling:RegisterScalableTarget",
        On::Anything("a scalable target's ARN holds an id AWS gives it"),
    ),
    write(
        "application-autoscaling:DeregisterScalableTarget",
        On::Anything("a scalable target's ARN holds an id AWS gives it"),
    ),
    write(
        "application-autoscaling:PutScalingPolicy",
        On::Anything("a scalable target's ARN holds an id AWS gives it"),
    ),
    write(
        "application-autoscaling:DeleteScalingPolicy",
        On::Anything("a scalable target's ARN holds an id AWS gives it"),
    ),
    // A target tracking policy has Application Auto Scaling make and remove its alarms as the
    // caller (the guide's identity-based policy examples).
    write("cloudwatch:PutMetricAlarm", On::Own(&[Arn::TargetTrackingAlarms])),
    write("cloudwatch:DeleteAlarms", On::Own(&[Arn::TargetTrackingAlarms])),
    write(
        "iam:CreateServiceLinkedRole",
        On::ServiceLinked(&["ecs.application-autoscaling.amazonaws.com"]),
    ),
];
