//! The Application Load Balancer adapter (aws-sdk-elasticloadbalancingv2): load balancers,
//! target groups and listeners.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::client::Waiters;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, LoadBalancerSchemeEnum, LoadBalancerTypeEnum, Matcher, ProtocolEnum, Tag, TargetTypeEnum,
};

use super::elb::physical_all;
use super::error::{AwsError, Classify};
use super::found::Found;
use crate::apply::{Progress, Resolved};
use crate::model::{ListenerSpec, LoadBalancerSpec, Spec, TAG_ENVIRONMENT, Tags, TargetGroupSpec};

/// DescribeTags takes at most 20 ARNs per call.
const TAG_BATCH: usize = 20;
/// ALBs usually become active in two to four minutes.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

#[derive(Debug, Clone)]
pub struct Elbv2 {
    client: Client,
}

impl Elbv2 {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: Client::new(config),
        }
    }

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

    pub(crate) async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let ours = |tags: &Tags| tags.get(TAG_ENVIRONMENT).is_some_and(|e| e == environment);
        let balancers: Vec<_> = self
            .client
            .describe_load_balancers()
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .op("DescribeLoadBalancers")?;
        let arns: Vec<String> = balancers
            .iter()
            .filter_map(|b| b.load_balancer_arn().map(str::to_owned))
            .collect();
        let mut tags = self.tags(&arns).await?;
        let mut found = Vec::new();
        let mut our_balancers = Vec::new();
        for balancer in balancers {
            let arn = balancer.load_balancer_arn().unwrap_or_default().to_owned();
            let Some(tags) = tags.remove(&arn).filter(ours) else {
                continue;
            };
            our_balancers.push(arn.clone());
            let name = balancer.load_balancer_name().unwrap_or_default().to_owned();
            let subnets: Vec<String> = balancer
                .availability_zones()
                .iter()
                .filter_map(|z| z.subnet_id().map(str::to_owned))
                .collect();
            let groups: Vec<String> = balancer.security_groups().to_vec();
            let dns = balancer.dns_name().map(str::to_owned);
            found.push(
                Found::new(arn, tags, move |lookup| {
                    Spec::LoadBalancer(LoadBalancerSpec {
                        name,
                        subnets: subnets.iter().map(|s| lookup(s)).collect(),
                        security_groups: groups.iter().map(|g| lookup(g)).collect(),
                    })
                })
                .with_info("dns_name", dns.as_deref()),
            );
        }

        let groups: Vec<_> = self
            .client
            .describe_target_groups()
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .op("DescribeTargetGroups")?;
        let arns: Vec<String> = groups
            .iter()
            .filter_map(|g| g.target_group_arn().map(str::to_owned))
            .collect();
        let mut tags = self.tags(&arns).await?;
        for group in groups {
            let arn = group.target_group_arn().unwrap_or_default().to_owned();
            let Some(tags) = tags.remove(&arn).filter(ours) else {
                continue;
            };
            let name = group.target_group_name().unwrap_or_default().to_owned();
            let vpc = group.vpc_id().unwrap_or_default().to_owned();
            let port = group.port().unwrap_or_default() as u16;
            let target_type = group.target_type().map_or("instance", |t| t.as_str()).to_owned();
            let health_check_path = group.health_check_path().unwrap_or("/").to_owned();
            found.push(Found::new(arn, tags, move |lookup| {
                Spec::TargetGroup(TargetGroupSpec {
                    name,
                    vpc: lookup(&vpc),
                    port,
                    target_type,
                    health_check_path,
                })
            }));
        }

        for balancer in our_balancers {
            let listeners = self
                .client
                .describe_listeners()
                .load_balancer_arn(&balancer)
                .send()
                .await
                .op("DescribeListeners")?;
            let arns: Vec<String> = listeners
                .listeners()
                .iter()
                .filter_map(|l| l.listener_arn().map(str::to_owned))
                .collect();
            let mut tags = self.tags(&arns).await?;
            for listener in listeners.listeners() {
                let arn = listener.listener_arn().unwrap_or_default().to_owned();
                let Some(tags) = tags.remove(&arn).filter(ours) else {
                    continue;
                };
                let port = listener.port().unwrap_or_default() as u16;
                let target = listener
                    .default_actions()
                    .first()
                    .and_then(|a| a.target_group_arn())
                    .unwrap_or_default()
                    .to_owned();
                let balancer = balancer.clone();
                found.push(Found::new(arn, tags, move |lookup| {
                    Spec::Listener(ListenerSpec {
                        load_balancer: lookup(&balancer),
                        port,
                        target_group: lookup(&target),
                    })
                }));
            }
        }
        Ok(found)
    }

    pub async fn create_load_balancer(
        &self,
        spec: &LoadBalancerSpec,
        tags: &Tags,
        resolved: &Resolved,
        progress: Progress<'_>,
    ) -> Result<String, AwsError> {
        let output = self
            .client
            .create_load_balancer()
            .name(&spec.name)
            .r#type(LoadBalancerTypeEnum::Application)
            .scheme(LoadBalancerSchemeEnum::InternetFacing)
            .set_subnets(Some(physical_all(&spec.subnets, resolved)?))
            .set_security_groups(Some(physical_all(&spec.security_groups, resolved)?))
            .set_tags(Some(sdk_tags(tags)))
            .send()
            .await
            .op("CreateLoadBalancer")?;
        let arn = output
            .load_balancers()
            .first()
            .and_then(|b| b.load_balancer_arn())
            .unwrap_or_default()
            .to_owned();
        progress.waiting(format!(
            "load balancer {} to become active (usually 2 to 4 minutes)",
            spec.name
        ));
        self.client
            .wait_until_load_balancer_available()
            .load_balancer_arns(&arn)
            .wait(ACTIVE_TIMEOUT)
            .await
            .map_err(|_| AwsError::WaitTimeout {
                what: format!("load balancer {} to become active", spec.name),
                waited: ACTIVE_TIMEOUT,
            })?;
        Ok(arn)
    }

    pub async fn update_load_balancer(
        &self,
        arn: &str,
        spec: &LoadBalancerSpec,
        resolved: &Resolved,
    ) -> Result<(), AwsError> {
        self.client
            .set_subnets()
            .load_balancer_arn(arn)
            .set_subnets(Some(physical_all(&spec.subnets, resolved)?))
            .send()
            .await
            .op("SetSubnets")?;
        self.client
            .set_security_groups()
            .load_balancer_arn(arn)
            .set_security_groups(Some(physical_all(&spec.security_groups, resolved)?))
            .send()
            .await
            .op("SetSecurityGroups")?;
        Ok(())
    }

    pub async fn delete_load_balancer(&self, arn: &str, progress: Progress<'_>) -> Result<(), AwsError> {
        match self
            .client
            .delete_load_balancer()
            .load_balancer_arn(arn)
            .send()
            .await
            .op("DeleteLoadBalancer")
        {
            Err(error) if error.is_not_found() => return Ok(()),
            other => other?,
        };
        progress.waiting("the load balancer to be deleted");
        self.client
            .wait_until_load_balancers_deleted()
            .load_balancer_arns(arn)
            .wait(ACTIVE_TIMEOUT)
            .await
            .map_err(|_| AwsError::WaitTimeout {
                what: format!("load balancer {arn} to be deleted"),
                waited: ACTIVE_TIMEOUT,
            })?;
        Ok(())
    }

    pub async fn create_target_group(
        &self,
        spec: &TargetGroupSpec,
        tags: &Tags,
        resolved: &Resolved,
    ) -> Result<String, AwsError> {
        let output = self
            .client
            .create_target_group()
            .name(&spec.name)
            .protocol(ProtocolEnum::Http)
            .port(i32::from(spec.port))
            .vpc_id(resolved.physical(&spec.vpc)?)
            .target_type(TargetTypeEnum::from(spec.target_type.as_str()))
            .health_check_protocol(ProtocolEnum::Http)
            .health_check_path(&spec.health_check_path)
            .matcher(Matcher::builder().http_code("200").build())
            .set_tags(Some(sdk_tags(tags)))
            .send()
            .await
            .op("CreateTargetGroup")?;
        Ok(output
            .target_groups()
            .first()
            .and_then(|g| g.target_group_arn())
            .unwrap_or_default()
            .to_owned())
    }

    pub async fn update_target_group(&self, arn: &str, spec: &TargetGroupSpec) -> Result<(), AwsError> {
        self.client
            .modify_target_group()
            .target_group_arn(arn)
            .health_check_path(&spec.health_check_path)
            .send()
            .await
            .op("ModifyTargetGroup")?;
        Ok(())
    }

    pub async fn delete_target_group(&self, arn: &str, progress: Progress<'_>) -> Result<(), AwsError> {
        super::retry::delete_with_retry(arn, progress, || async {
            self.client
                .delete_target_group()
                .target_group_arn(arn)
                .send()
                .await
                .op("DeleteTargetGroup")
                .map(drop)
        })
        .await
    }

    pub async fn create_listener(
        &self,
        spec: &ListenerSpec,
        tags: &Tags,
        resolved: &Resolved,
    ) -> Result<String, AwsError> {
        let output = self
            .client
            .create_listener()
            .load_balancer_arn(resolved.physical(&spec.load_balancer)?)
            .protocol(ProtocolEnum::Http)
            .port(i32::from(spec.port))
            .default_actions(forward(resolved.physical(&spec.target_group)?))
            .set_tags(Some(sdk_tags(tags)))
            .send()
            .await
            .op("CreateListener")?;
        Ok(output
            .listeners()
            .first()
            .and_then(|l| l.listener_arn())
            .unwrap_or_default()
            .to_owned())
    }

    pub async fn update_listener(&self, arn: &str, spec: &ListenerSpec, resolved: &Resolved) -> Result<(), AwsError> {
        self.client
            .modify_listener()
            .listener_arn(arn)
            .port(i32::from(spec.port))
            .default_actions(forward(resolved.physical(&spec.target_group)?))
            .send()
            .await
            .op("ModifyListener")?;
        Ok(())
    }

    pub async fn delete_listener(&self, arn: &str) -> Result<(), AwsError> {
        match self
            .client
            .delete_listener()
            .listener_arn(arn)
            .send()
            .await
            .op("DeleteListener")
        {
            Err(error) if error.is_not_found() => Ok(()),
            other => other.map(drop),
        }
    }

    /// Rewrites a resource's tags to exactly `wanted`.
    pub async fn sync_tags(&self, arn: &str, wanted: &Tags, current: &Tags) -> Result<(), AwsError> {
        let stale: Vec<String> = super::stale_tag_keys(wanted, current).into_iter().cloned().collect();
        if !stale.is_empty() {
            self.client
                .remove_tags()
                .resource_arns(arn)
                .set_tag_keys(Some(stale))
                .send()
                .await
                .op("RemoveTags")?;
        }
        if wanted != current {
            self.client
                .add_tags()
                .resource_arns(arn)
                .set_tags(Some(sdk_tags(wanted)))
                .send()
                .await
                .op("AddTags")?;
        }
        Ok(())
    }
}

fn forward(target_group: String) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(target_group)
        .build()
}

fn sdk_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}
