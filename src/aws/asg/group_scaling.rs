//! The Auto Scaling group's target tracking policies (CPU, and requests per target behind an
//! ALB), on the Auto Scaling client.

use super::Asg;
use crate::apply::Resolved;
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::target_tracking::*;
use crate::model::{GroupScalingSpec, Ref, ScalingPolicies, Spec};

pub(crate) struct GroupScalings<'a>(pub(crate) &'a Asg);

impl Resource for GroupScalings<'_> {
    type Spec = GroupScalingSpec;

    /// The policies of the environment's group, if it has any of deployer's.
    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let group = crate::model::names::app(environment);
        let policies: Vec<_> = all_pages!(
            self.0.client.describe_policies().auto_scaling_group_name(&group),
            "DescribePolicies"
        )?;
        let tracked: Vec<Tracked> = policies
            .iter()
            .filter(|p| p.auto_scaling_group_name() == Some(group.as_str()))
            .filter_map(|p| {
                let configuration = p.target_tracking_configuration()?;
                Some(Tracked {
                    name: p.policy_name()?.to_owned(),
                    target: configuration.target_value()?,
                    label: configuration
                        .predefined_metric_specification()
                        .and_then(|m| m.resource_label())
                        .map(str::to_owned),
                })
            })
            .filter(|t| t.name == CPU_POLICY || t.name == REQUESTS_POLICY)
            .collect();
        if tracked.is_empty() {
            return Ok(Vec::new());
        }
        let spec = GroupScalingSpec {
            group_name: group.clone(),
            group: Ref::to("auto-scaling-group"),
            policies: policies_from(&tracked, environment),
        };
        // The group's name is the group's id too: the policies are a part of it.
        Ok(vec![
            Found::new(group, owned(environment, "group-scaling"), move |_| {
                Spec::GroupScaling(spec)
            })
            .part_of_another(),
        ])
    }

    async fn create(&self, request: Create<'_, GroupScalingSpec>) -> Result<String, AwsError> {
        self.put_policies(request.spec, None, request.resolved).await?;
        Ok(request.spec.group_name.clone())
    }

    async fn update(&self, request: Update<'_, GroupScalingSpec>) -> Result<(), AwsError> {
        self.put_policies(request.spec, Some(&request.observed.policies), request.resolved)
            .await
    }

    async fn delete(&self, request: Delete<'_, GroupScalingSpec>) -> Result<(), AwsError> {
        let observed = &request.observed.policies;
        let names = std::iter::once(CPU_POLICY).chain(observed.requests.as_ref().map(|_| REQUESTS_POLICY));
        for name in names {
            self.delete_policy(request.physical_id, name).await?;
        }
        Ok(())
    }
}

impl GroupScalings<'_> {
    async fn put_policies(
        &self,
        spec: &GroupScalingSpec,
        observed: Option<&ScalingPolicies>,
        resolved: &Resolved,
    ) -> Result<(), AwsError> {
        use aws_sdk_autoscaling::types::{MetricType, PredefinedMetricSpecification};
        let cpu = PredefinedMetricSpecification::builder()
            .predefined_metric_type(MetricType::AsgAverageCpuUtilization)
            .build();
        self.put_policy(&spec.group_name, CPU_POLICY, f64::from(spec.policies.cpu_percent), cpu)
            .await?;
        match &spec.policies.requests {
            Some(requests) => {
                let metric = PredefinedMetricSpecification::builder()
                    .predefined_metric_type(MetricType::AlbRequestCountPerTarget)
                    .resource_label(resource_label(requests, resolved)?)
                    .build();
                self.put_policy(
                    &spec.group_name,
                    REQUESTS_POLICY,
                    f64::from(requests.per_target),
                    metric,
                )
                .await
            }
            None if observed.is_some_and(|o| o.requests.is_some()) => {
                self.delete_policy(&spec.group_name, REQUESTS_POLICY).await
            }
            None => Ok(()),
        }
    }

    async fn put_policy(
        &self,
        group: &str,
        name: &str,
        target: f64,
        metric: aws_sdk_autoscaling::types::PredefinedMetricSpecification,
    ) -> Result<(), AwsError> {
        let configuration = aws_sdk_autoscaling::types::TargetTrackingConfiguration::builder()
            .target_value(target)
            .predefined_metric_specification(metric)
            .build();
        self.0
            .client
            .put_scaling_policy()
            .auto_scaling_group_name(group)
            .policy_name(name)
            .policy_type("TargetTrackingScaling")
            .target_tracking_configuration(configuration)
            .send()
            .await
            .op("PutScalingPolicy")
            .map(drop)
    }

    /// A policy, or its group, already gone is deleted.
    async fn delete_policy(&self, group: &str, name: &str) -> Result<(), AwsError> {
        match self
            .0
            .client
            .delete_policy()
            .auto_scaling_group_name(group)
            .policy_name(name)
            .send()
            .await
            .op("DeletePolicy")
        {
            Err(error) if error.code() == Some("ValidationError") || error.is_not_found() => Ok(()),
            other => other.map(drop),
        }
    }
}
