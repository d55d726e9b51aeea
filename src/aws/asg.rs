//! The Auto Scaling adapter: groups over a launch template, attached to a classic ELB or a
//! target group. Rolling to a new template version uses an instance refresh.

use std::time::{Duration, Instant};

use aws_sdk_autoscaling::Client;
use aws_sdk_autoscaling::types::{Filter, LaunchTemplateSpecification, Tag};

use super::elb::physical_all;
use super::error::{AwsError, Classify};
use super::found::Found;
use crate::apply::{Progress, Resolved};
use crate::model::{AutoScalingGroupSpec, Spec, TAG_DIGEST, TAG_ENVIRONMENT, Tags};

/// New instances boot, install Docker and pull the image before the load balancer sees them
/// healthy; allow that long before health checks count.
const HEALTH_CHECK_GRACE_SECONDS: i32 = 300;
/// How long to wait for the desired count of instances to be in service, and for deletion.
const CAPACITY_TIMEOUT: Duration = Duration::from_secs(20 * 60);
const POLL_INTERVAL: Duration = Duration::from_secs(5);
/// Keep most of the fleet serving while it rolls.
const REFRESH_MIN_HEALTHY_PERCENT: i32 = 90;

#[derive(Debug, Clone)]
pub struct Asg {
    client: Client,
}

impl Asg {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: Client::new(config),
        }
    }

    pub(crate) async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let groups: Vec<_> = self
            .client
            .describe_auto_scaling_groups()
            .filters(
                Filter::builder()
                    .name(format!("tag:{TAG_ENVIRONMENT}"))
                    .values(environment)
                    .build(),
            )
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .op("DescribeAutoScalingGroups")?;
        let mut found = Vec::new();
        for group in groups {
            let name = group.auto_scaling_group_name().unwrap_or_default().to_owned();
            let tags: Tags = group
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned())))
                .collect();
            let template = group
                .launch_template()
                .and_then(|t| t.launch_template_id())
                .unwrap_or_default()
                .to_owned();
            let template_version = tags.get(TAG_DIGEST).cloned().unwrap_or_default();
            let (min, max, desired) = (
                group.min_size().unwrap_or_default() as u32,
                group.max_size().unwrap_or_default() as u32,
                group.desired_capacity().unwrap_or_default() as u32,
            );
            let subnets: Vec<String> = group
                .vpc_zone_identifier()
                .unwrap_or_default()
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            let target_groups: Vec<String> = group.target_group_arns().to_vec();
            let balancers: Vec<String> = group.load_balancer_names().to_vec();
            let spec_name = name.clone();
            found.push(Found::new(name, tags, move |lookup| {
                Spec::AutoScalingGroup(AutoScalingGroupSpec {
                    name: spec_name,
                    launch_template: lookup(&template),
                    template_version,
                    min,
                    max,
                    desired,
                    subnets: subnets.iter().map(|s| lookup(s)).collect(),
                    target_groups: target_groups.iter().map(|t| lookup(t)).collect(),
                    classic_load_balancers: balancers.iter().map(|b| lookup(b)).collect(),
                })
            }));
        }
        Ok(found)
    }

    pub async fn create(
        &self,
        spec: &AutoScalingGroupSpec,
        tags: &Tags,
        resolved: &Resolved,
        progress: Progress<'_>,
    ) -> Result<String, AwsError> {
        self.client
            .create_auto_scaling_group()
            .auto_scaling_group_name(&spec.name)
            .launch_template(template(spec, resolved)?)
            .min_size(spec.min as i32)
            .max_size(spec.max as i32)
            .desired_capacity(spec.desired as i32)
            .vpc_zone_identifier(physical_all(&spec.subnets, resolved)?.join(","))
            .set_target_group_arns(Some(physical_all(&spec.target_groups, resolved)?))
            .set_load_balancer_names(Some(physical_all(&spec.classic_load_balancers, resolved)?))
            .health_check_type("ELB")
            .health_check_grace_period(HEALTH_CHECK_GRACE_SECONDS)
            .set_tags(Some(sdk_tags(&spec.name, tags)))
            .send()
            .await
            .op("CreateAutoScalingGroup")?;
        self.wait_in_service(&spec.name, spec.desired, progress).await?;
        Ok(spec.name.clone())
    }

    /// Waits until `desired` instances are InService (on real AWS: booted and passing the
    /// load balancer's health check).
    async fn wait_in_service(&self, name: &str, desired: u32, progress: Progress<'_>) -> Result<(), AwsError> {
        let started = Instant::now();
        loop {
            let output = self
                .client
                .describe_auto_scaling_groups()
                .auto_scaling_group_names(name)
                .send()
                .await
                .op("DescribeAutoScalingGroups")?;
            let in_service = output
                .auto_scaling_groups()
                .first()
                .map(|g| {
                    g.instances()
                        .iter()
                        .filter(|i| i.lifecycle_state().is_some_and(|s| s.as_str() == "InService"))
                        .count()
                })
                .unwrap_or_default();
            if in_service >= desired as usize {
                return Ok(());
            }
            if started.elapsed() > CAPACITY_TIMEOUT {
                return Err(AwsError::WaitTimeout {
                    what: format!("{desired} instances of {name} to be in service ({in_service} are)"),
                    waited: CAPACITY_TIMEOUT,
                });
            }
            progress.waiting(format!("{desired} instances in service ({in_service} so far)"));
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    pub async fn update(
        &self,
        spec: &AutoScalingGroupSpec,
        observed: &AutoScalingGroupSpec,
        tags: &Tags,
        current_tags: &Tags,
        resolved: &Resolved,
        progress: Progress<'_>,
    ) -> Result<(), AwsError> {
        let name = &spec.name;
        self.client
            .update_auto_scaling_group()
            .auto_scaling_group_name(name)
            .launch_template(template(spec, resolved)?)
            .min_size(spec.min as i32)
            .max_size(spec.max as i32)
            .desired_capacity(spec.desired as i32)
            .vpc_zone_identifier(physical_all(&spec.subnets, resolved)?.join(","))
            .send()
            .await
            .op("UpdateAutoScalingGroup")?;
        let attach: Vec<String> = physical_all(&spec.target_groups, resolved)?;
        let detach: Vec<String> = physical_all(&observed.target_groups, resolved)?
            .into_iter()
            .filter(|t| !attach.contains(t))
            .collect();
        if !detach.is_empty() {
            self.client
                .detach_load_balancer_target_groups()
                .auto_scaling_group_name(name)
                .set_target_group_arns(Some(detach))
                .send()
                .await
                .op("DetachLoadBalancerTargetGroups")?;
        }
        if spec.target_groups != observed.target_groups && !attach.is_empty() {
            self.client
                .attach_load_balancer_target_groups()
                .auto_scaling_group_name(name)
                .set_target_group_arns(Some(attach))
                .send()
                .await
                .op("AttachLoadBalancerTargetGroups")?;
        }
        let attach: Vec<String> = physical_all(&spec.classic_load_balancers, resolved)?;
        let detach: Vec<String> = physical_all(&observed.classic_load_balancers, resolved)?
            .into_iter()
            .filter(|b| !attach.contains(b))
            .collect();
        if !detach.is_empty() {
            self.client
                .detach_load_balancers()
                .auto_scaling_group_name(name)
                .set_load_balancer_names(Some(detach))
                .send()
                .await
                .op("DetachLoadBalancers")?;
        }
        if spec.classic_load_balancers != observed.classic_load_balancers && !attach.is_empty() {
            self.client
                .attach_load_balancers()
                .auto_scaling_group_name(name)
                .set_load_balancer_names(Some(attach))
                .send()
                .await
                .op("AttachLoadBalancers")?;
        }
        self.sync_tags(name, tags, current_tags).await?;
        if spec.template_version != observed.template_version {
            self.refresh(name, progress).await?;
        }
        Ok(())
    }

    /// Replaces the group's instances with ones from the new template version, a few at a time.
    async fn refresh(&self, name: &str, progress: Progress<'_>) -> Result<(), AwsError> {
        let preferences = aws_sdk_autoscaling::types::RefreshPreferences::builder()
            .min_healthy_percentage(REFRESH_MIN_HEALTHY_PERCENT)
            .build();
        match self
            .client
            .start_instance_refresh()
            .auto_scaling_group_name(name)
            .preferences(preferences)
            .send()
            .await
            .op("StartInstanceRefresh")
        {
            Ok(_) => {
                progress.waiting(format!(
                    "instance refresh of {name} to roll the new launch template version"
                ));
                Ok(())
            }
            // The local emulator does not implement instance refreshes (HTTP 500 without a
            // code): new instances still launch from the new version; say so and go on.
            Err(AwsError::Unrecognized { status: 500, .. }) => {
                tracing::warn!(
                    "{name}: this endpoint cannot start an instance refresh; existing instances keep the old version until replaced"
                );
                progress.waiting("nothing: instance refresh is not supported by this endpoint");
                Ok(())
            }
            // One already rolling will pick up the latest version on its own.
            Err(error) if error.code() == Some("InstanceRefreshInProgress") => Ok(()),
            Err(error) => Err(error),
        }
    }

    async fn sync_tags(&self, name: &str, wanted: &Tags, current: &Tags) -> Result<(), AwsError> {
        let stale: Vec<Tag> = super::stale_tag_keys(wanted, current)
            .into_iter()
            .map(|k| {
                Tag::builder()
                    .key(k)
                    .resource_id(name)
                    .resource_type("auto-scaling-group")
                    .build()
            })
            .collect();
        if !stale.is_empty() {
            self.client
                .delete_tags()
                .set_tags(Some(stale))
                .send()
                .await
                .op("DeleteTags")?;
        }
        if wanted != current {
            self.client
                .create_or_update_tags()
                .set_tags(Some(sdk_tags(name, wanted)))
                .send()
                .await
                .op("CreateOrUpdateTags")?;
        }
        Ok(())
    }

    /// Force-deletes the group (terminating its instances) and waits until it is gone.
    pub async fn delete(&self, name: &str, progress: Progress<'_>) -> Result<(), AwsError> {
        match self
            .client
            .delete_auto_scaling_group()
            .auto_scaling_group_name(name)
            .force_delete(true)
            .send()
            .await
            .op("DeleteAutoScalingGroup")
        {
            Err(error) if error.code() == Some("ValidationError") && error.to_string().contains("not found") => {
                return Ok(());
            }
            other => other?,
        };
        let started = Instant::now();
        loop {
            let output = self
                .client
                .describe_auto_scaling_groups()
                .auto_scaling_group_names(name)
                .send()
                .await
                .op("DescribeAutoScalingGroups")?;
            if output.auto_scaling_groups().is_empty() {
                return Ok(());
            }
            if started.elapsed() > CAPACITY_TIMEOUT {
                return Err(AwsError::WaitTimeout {
                    what: format!("auto scaling group {name} to be deleted"),
                    waited: CAPACITY_TIMEOUT,
                });
            }
            progress.waiting(format!("{name} to terminate its instances"));
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

fn template(spec: &AutoScalingGroupSpec, resolved: &Resolved) -> Result<LaunchTemplateSpecification, AwsError> {
    Ok(LaunchTemplateSpecification::builder()
        .launch_template_id(resolved.physical(&spec.launch_template)?)
        .version("$Default")
        .build())
}

/// Tags propagate to the instances the group launches, so they are found by tag too.
fn sdk_tags(group: &str, tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .resource_id(group)
                .resource_type("auto-scaling-group")
                .propagate_at_launch(k != TAG_DIGEST && k != crate::model::TAG_SPEC && k != crate::model::TAG_ID)
                .build()
        })
        .collect()
}
