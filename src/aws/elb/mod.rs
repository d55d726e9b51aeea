//! The classic Elastic Load Balancing adapter (aws-sdk-elasticloadbalancing): one kind, the
//! classic load balancer, named by its name.

use aws_sdk_elasticloadbalancing::Client;
use aws_sdk_elasticloadbalancing::types::{
    AccessLog, ConnectionDraining, CrossZoneLoadBalancing, HealthCheck, Listener, LoadBalancerAttributes,
    PolicyAttribute, Tag, TagKeyOnly,
};

use super::error::{AwsError, Classify};
use super::found::Found;
use super::permissions::{Arn, Call, LIST, On, read, write};
use super::resource::{Create, Delete, Resource, Update};
use super::tags::{TagApi, sync_tags};
use crate::apply::Resolved;
use crate::aws::resource::Read;
use crate::aws::status::Health;
use crate::model::HealthCheck as Check;
use crate::model::Outputs;
use crate::model::{ClassicLoadBalancerSpec, Spec, TAG_ENVIRONMENT, Tags};

mod load_balancer;

pub(crate) use load_balancer::ClassicLoadBalancers;

/// DescribeTags takes at most 20 load balancer names per call.
const TAG_BATCH: usize = 20;

#[derive(Debug, Clone)]
pub struct Elb {
    client: Client,
}

impl Elb {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: crate::aws::classifier::client!(aws_sdk_elasticloadbalancing, config),
        }
    }

    /// Instances in service behind the load balancer, and each other with AWS's reason code.
    pub async fn instance_health(&self, name: &str) -> Result<super::TargetsStatus, AwsError> {
        let output = self
            .client
            .describe_instance_health()
            .load_balancer_name(name)
            .send()
            .await
            .op("DescribeInstanceHealth")?;
        let mut status = super::TargetsStatus {
            healthy: 0,
            unhealthy: Vec::new(),
        };
        for instance in output.instance_states() {
            match instance.state() {
                Some("InService") => status.healthy += 1,
                state => status.unhealthy.push(format!(
                    "{} {} ({})",
                    instance.instance_id().unwrap_or("?"),
                    state.unwrap_or("unknown"),
                    instance.reason_code().unwrap_or("no reason")
                )),
            }
        }
        Ok(status)
    }
}

impl TagApi for Elb {
    async fn tag(&self, name: &str, tags: &Tags) -> Result<(), AwsError> {
        self.client
            .add_tags()
            .load_balancer_names(name)
            .set_tags(Some(sdk_tags(tags)))
            .send()
            .await
            .op("AddTags")
            .map(drop)
    }

    async fn untag(&self, name: &str, keys: &[String]) -> Result<(), AwsError> {
        let keys = keys.iter().map(|k| TagKeyOnly::builder().key(k).build()).collect();
        self.client
            .remove_tags()
            .load_balancer_names(name)
            .set_tags(Some(keys))
            .send()
            .await
            .op("RemoveTags")
            .map(drop)
    }
}

fn sdk_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().expect("key is set"))
        .collect()
}

/// What the classic ELB adapter calls (see `aws::permissions`).
pub(crate) const CALLS: &[Call] = &[
    read("elasticloadbalancing:DescribeLoadBalancers", On::Anything(LIST)),
    read("elasticloadbalancing:DescribeTags", On::Anything(LIST)),
    read(
        "elasticloadbalancing:DescribeLoadBalancerAttributes",
        On::Anything(LIST),
    ),
    read("elasticloadbalancing:DescribeInstanceHealth", On::Anything(LIST)),
    write(
        "elasticloadbalancing:CreateLoadBalancer",
        On::Creating(&[Arn::ClassicLoadBalancer]),
    ),
    write("elasticloadbalancing:AddTags", On::Own(&[Arn::ClassicLoadBalancer])),
    write("elasticloadbalancing:RemoveTags", On::Own(&[Arn::ClassicLoadBalancer])),
    write(
        "elasticloadbalancing:ApplySecurityGroupsToLoadBalancer",
        On::Own(&[Arn::ClassicLoadBalancer]),
    ),
    write(
        "elasticloadbalancing:AttachLoadBalancerToSubnets",
        On::Own(&[Arn::ClassicLoadBalancer]),
    ),
    write(
        "elasticloadbalancing:DetachLoadBalancerFromSubnets",
        On::Own(&[Arn::ClassicLoadBalancer]),
    ),
    write(
        "elasticloadbalancing:ConfigureHealthCheck",
        On::Own(&[Arn::ClassicLoadBalancer]),
    ),
    write(
        "elasticloadbalancing:CreateLoadBalancerListeners",
        On::Own(&[Arn::ClassicLoadBalancer]),
    ),
    write(
        "elasticloadbalancing:DeleteLoadBalancerListeners",
        On::Own(&[Arn::ClassicLoadBalancer]),
    ),
    write(
        "elasticloadbalancing:CreateLoadBalancerPolicy",
        On::Own(&[Arn::ClassicLoadBalancer]),
    ),
    write(
        "elasticloadbalancing:SetLoadBalancerPoliciesOfListener",
        On::Own(&[Arn::ClassicLoadBalancer]),
    ),
    write(
        "elasticloadbalancing:ModifyLoadBalancerAttributes",
        On::Own(&[Arn::ClassicLoadBalancer]),
    ),
    write(
        "elasticloadbalancing:DeleteLoadBalancer",
        On::Own(&[Arn::ClassicLoadBalancer]),
    ),
];
