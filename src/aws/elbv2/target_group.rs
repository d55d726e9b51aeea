//! Target groups: where the load balancer sends requests (instances or task IPs).

use aws_sdk_elasticloadbalancingv2::types::{Matcher, ProtocolEnum, TargetTypeEnum};

use super::{Elbv2, sdk_tags};
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::retry::delete_with_retry;
use crate::aws::tags::sync_tags;
use crate::model::{Spec, TargetGroupSpec};

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
            .matcher(Matcher::builder().http_code("200").build())
            .set_tags(Some(sdk_tags(request.tags)))
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

    async fn update(&self, request: Update<'_, TargetGroupSpec>) -> Result<(), AwsError> {
        if request.changed("health_check_path") {
            self.0
                .client
                .modify_target_group()
                .target_group_arn(request.physical_id)
                .health_check_path(&request.spec.health_check_path)
                .send()
                .await
                .op("ModifyTargetGroup")?;
        }
        sync_tags(self.0, request.physical_id, request.tags, request.current_tags).await
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
}
