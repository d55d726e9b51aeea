//! Target groups: where the load balancer sends requests (instances or task IPs).

use aws_sdk_elasticloadbalancingv2::types::{Matcher, ProtocolEnum, TargetGroupAttribute, TargetTypeEnum};

use super::{Elbv2, sdk_tags};
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::resource::Read;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::retry::delete_with_retry;
use crate::aws::status::Health;
use crate::aws::tags::sync_tags;
use crate::model::{HealthCheck, Spec, TargetGroupSpec};

/// The target group attribute holding the deregistration delay.
const DEREGISTRATION_DELAY: &str = "deregistration_delay.timeout_seconds";

pub(crate) struct TargetGroups<'a>(pub(crate) &'a Elbv2);

impl Resource for TargetGroups<'_> {
    type Spec = TargetGroupSpec;

    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let mut found = Vec::new();
        let groups: Vec<_> = all_pages!(self.0.client.describe_target_groups(), "DescribeTargetGroups")?;
        let arns: Vec<String> = groups
            .iter()
            .filter_map(|g| g.target_group_arn().map(str::to_owned))
            .collect();
        let mut tags = self.0.environment_tags(&arns, environment).await?;
        for group in groups {
            let arn = group.target_group_arn().unwrap_or_default().to_owned();
            let Some(tags) = tags.remove(&arn) else {
                continue;
            };
            let name = group.target_group_name().unwrap_or_default().to_owned();
            let vpc = group.vpc_id().unwrap_or_default().to_owned();
            let port = group.port().unwrap_or_default() as u16;
            let target_type = group.target_type().map_or("instance", |t| t.as_str()).to_owned();
            let health_check_path = group.health_check_path().unwrap_or("/").to_owned();
            let seconds = |value: Option<i32>| value.map_or(0, |v| v.clamp(0, i32::from(u16::MAX)) as u16);
            let health_check = HealthCheck {
                interval_seconds: seconds(group.health_check_interval_seconds()),
                timeout_seconds: seconds(group.health_check_timeout_seconds()),
                healthy_threshold: seconds(group.healthy_threshold_count()),
                unhealthy_threshold: seconds(group.unhealthy_threshold_count()),
            };
            let deregistration_delay = self.deregistration_delay(&arn).await?;
            found.push(Found::new(arn, tags, move |lookup| {
                Spec::TargetGroup(TargetGroupSpec {
                    name,
                    vpc: lookup(&vpc),
                    port,
                    target_type,
                    health_check_path,
                    health_check,
                    deregistration_delay,
                })
            }));
        }

        Ok(found)
    }

    async fn create(&self, request: Create<'_, TargetGroupSpec>) -> Result<String, AwsError> {
        let spec = request.spec;
        let output = self
            .0
            .client
            .create_target_group()
            .name(&spec.name)
            .protocol(ProtocolEnum::Http)
            .port(i32::from(spec.port))
            .vpc_id(request.resolved.physical(&spec.vpc)?)
            .target_type(TargetTypeEnum::from(spec.target_type.as_str()))
            .health_check_protocol(ProtocolEnum::Http)
            .health_check_path(&spec.health_check_path)
            .health_check_interval_seconds(i32::from(spec.health_check.interval_seconds))
            .health_check_timeout_seconds(i32::from(spec.health_check.timeout_seconds))
            .healthy_threshold_count(i32::from(spec.health_check.healthy_threshold))
            .unhealthy_threshold_count(i32::from(spec.health_check.unhealthy_threshold))
            .matcher(Matcher::builder().http_code("200").build())
            .set_tags(Some(sdk_tags(request.tags)))
            .send()
            .await
            .op("CreateTargetGroup")?;
        let arn = output
            .target_groups()
            .first()
            .and_then(|g| g.target_group_arn())
            .unwrap_or_default()
            .to_owned();
        self.set_deregistration_delay(&arn, spec.deregistration_delay).await?;
        Ok(arn)
    }

    async fn update(&self, request: Update<'_, TargetGroupSpec>) -> Result<(), AwsError> {
        let (arn, spec) = (request.physical_id, request.spec);
        if request.changed_any(&[TargetGroupSpec::HEALTH_CHECK_PATH, TargetGroupSpec::HEALTH_CHECK]) {
            let check = spec.health_check;
            self.0
                .client
                .modify_target_group()
                .target_group_arn(arn)
                .health_check_path(&spec.health_check_path)
                .health_check_interval_seconds(i32::from(check.interval_seconds))
                .health_check_timeout_seconds(i32::from(check.timeout_seconds))
                .healthy_threshold_count(i32::from(check.healthy_threshold))
                .unhealthy_threshold_count(i32::from(check.unhealthy_threshold))
                .send()
                .await
                .op("ModifyTargetGroup")?;
        }
        if request.changed(TargetGroupSpec::DEREGISTRATION_DELAY) {
            self.set_deregistration_delay(arn, spec.deregistration_delay).await?;
        }
        sync_tags(self.0, arn, request.tags, request.current_tags).await
    }

    async fn delete(&self, request: Delete<'_, TargetGroupSpec>) -> Result<(), AwsError> {
        let arn = request.physical_id;
        delete_with_retry(arn, request.progress, || async {
            self.0
                .client
                .delete_target_group()
                .target_group_arn(arn)
                .send()
                .await
                .op("DeleteTargetGroup")
                .map(drop)
        })
        .await
    }

    async fn health(&self, read: &Read<'_, Self::Spec>) -> Result<Option<Health>, AwsError> {
        Ok(Some(Health::Targets(
            self.0.target_health(&read.resource.physical_id).await?,
        )))
    }
}

impl TargetGroups<'_> {
    async fn deregistration_delay(&self, arn: &str) -> Result<u16, AwsError> {
        let output = self
            .0
            .client
            .describe_target_group_attributes()
            .target_group_arn(arn)
            .send()
            .await
            .op("DescribeTargetGroupAttributes")?;
        Ok(output
            .attributes()
            .iter()
            .find(|a| a.key() == Some(DEREGISTRATION_DELAY))
            .and_then(|a| a.value()?.parse().ok())
            .unwrap_or(300))
    }

    async fn set_deregistration_delay(&self, arn: &str, seconds: u16) -> Result<(), AwsError> {
        let attribute = TargetGroupAttribute::builder()
            .key(DEREGISTRATION_DELAY)
            .value(seconds.to_string())
            .build();
        self.0
            .client
            .modify_target_group_attributes()
            .target_group_arn(arn)
            .attributes(attribute)
            .send()
            .await
            .op("ModifyTargetGroupAttributes")
            .map(drop)
    }
}
