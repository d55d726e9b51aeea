//! The ECS service's scalable target and its target tracking policies (CPU, and requests per
//! target behind an ALB).

use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ServiceNamespace,
    TargetTrackingScalingPolicyConfiguration,
};

use super::AppScaling;
use crate::apply::Resolved;
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::target_tracking::*;
use crate::model::{Ref, ScalingPolicies, ServiceScalingSpec, Spec};

pub(crate) struct ServiceScalings<'a>(pub(crate) &'a AppScaling);

impl Resource for ServiceScalings<'_> {
    type Spec = ServiceScalingSpec;

    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let prefix = crate::model::names::scalable_service_prefix(environment);
        let targets: Vec<_> = all_pages!(
            self.0
                .client
                .describe_scalable_targets()
                .service_namespace(ServiceNamespace::Ecs),
            "DescribeScalableTargets"
        )?;
        let mut found = Vec::new();
        for target in targets.iter().filter(|t| t.resource_id().starts_with(&prefix)) {
            let resource_id = target.resource_id().to_owned();
            let policies: Vec<_> = all_pages!(
                self.0
                    .client
                    .describe_scaling_policies()
                    .service_namespace(ServiceNamespace::Ecs)
                    .resource_id(&resource_id),
                "DescribeScalingPolicies"
            )?;
            let tracked: Vec<Tracked> = policies
                .iter()
                .filter_map(|p| {
                    let configuration = p.target_tracking_scaling_policy_configuration()?;
                    Some(Tracked {
                        name: p.policy_name().to_owned(),
                        target: configuration.target_value(),
                        label: configuration
                            .predefined_metric_specification()
                            .and_then(|m| m.resource_label())
                            .map(str::to_owned),
                    })
                })
                .collect();
            let spec = ServiceScalingSpec {
                resource_id: resource_id.clone(),
                service: Ref::to("ecs-service"),
                min: target.min_capacity().max(0) as u32,
                max: target.max_capacity().max(0) as u32,
                policies: policies_from(&tracked, environment),
            };
            found.push(Found::new(
                resource_id,
                owned(environment, "service-scaling"),
                move |_| Spec::ServiceScaling(spec),
            ));
        }
        Ok(found)
    }

    async fn create(&self, request: Create<'_, ServiceScalingSpec>) -> Result<String, AwsError> {
        let spec = request.spec;
        self.register(spec).await?;
        self.put_policies(spec, None, request.resolved).await?;
        Ok(spec.resource_id.clone())
    }

    async fn update(&self, request: Update<'_, ServiceScalingSpec>) -> Result<(), AwsError> {
        let spec = request.spec;
        if request.changed_any(&[ServiceScalingSpec::MIN, ServiceScalingSpec::MAX]) {
            self.register(spec).await?;
        }
        if request.changed_any(&[
            ServiceScalingSpec::CPU_PERCENT,
            ServiceScalingSpec::REQUESTS_PER_TARGET,
            ServiceScalingSpec::REQUESTS_COUNTED_AT,
        ]) {
            self.put_policies(spec, Some(&request.observed.policies), request.resolved)
                .await?;
        }
        Ok(())
    }

    /// Deregistering the target deletes its policies with it.
    async fn delete(&self, request: Delete<'_, ServiceScalingSpec>) -> Result<(), AwsError> {
        match self
            .0
            .client
            .deregister_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(request.physical_id)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .send()
            .await
            .op("DeregisterScalableTarget")
        {
            Err(error) if error.code() == Some("ObjectNotFoundException") => Ok(()),
            other => other.map(drop),
        }
    }
}

impl ServiceScalings<'_> {
    /// Registering again updates min and max in place.
    async fn register(&self, spec: &ServiceScalingSpec) -> Result<(), AwsError> {
        self.0
            .client
            .register_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(&spec.resource_id)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .min_capacity(spec.min as i32)
            .max_capacity(spec.max as i32)
            .send()
            .await
            .op("RegisterScalableTarget")
            .map(drop)
    }

    /// Puts each wanted policy (a put replaces a policy of the same name), and deletes the
    /// requests policy when it is no longer wanted.
    async fn put_policies(
        &self,
        spec: &ServiceScalingSpec,
        observed: Option<&ScalingPolicies>,
        resolved: &Resolved,
    ) -> Result<(), AwsError> {
        let cpu = PredefinedMetricSpecification::builder()
            .predefined_metric_type(MetricType::EcsServiceAverageCpuUtilization)
            .build()
            .map_err(|e| AwsError::unbuilt("PutScalingPolicy", e))?;
        self.put_policy(spec, CPU_POLICY, f64::from(spec.policies.cpu_percent), cpu)
            .await?;
        match &spec.policies.requests {
            Some(requests) => {
                let metric = PredefinedMetricSpecification::builder()
                    .predefined_metric_type(MetricType::AlbRequestCountPerTarget)
                    .resource_label(resource_label(requests, resolved)?)
                    .build()
                    .map_err(|e| AwsError::unbuilt("PutScalingPolicy", e))?;
                self.put_policy(spec, REQUESTS_POLICY, f64::from(requests.per_target), metric)
                    .await?;
            }
            None if observed.is_some_and(|o| o.requests.is_some()) => {
                match self
                    .0
                    .client
                    .delete_scaling_policy()
                    .policy_name(REQUESTS_POLICY)
                    .service_namespace(ServiceNamespace::Ecs)
                    .resource_id(&spec.resource_id)
                    .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                    .send()
                    .await
                    .op("DeleteScalingPolicy")
                {
                    Err(error) if error.code() == Some("ObjectNotFoundException") => {}
                    other => other.map(drop)?,
                }
            }
            None => {}
        }
        Ok(())
    }

    async fn put_policy(
        &self,
        spec: &ServiceScalingSpec,
        name: &str,
        target: f64,
        metric: PredefinedMetricSpecification,
    ) -> Result<(), AwsError> {
        let configuration = TargetTrackingScalingPolicyConfiguration::builder()
            .target_value(target)
            .predefined_metric_specification(metric)
            .scale_out_cooldown(SCALE_OUT_COOLDOWN)
            .scale_in_cooldown(SCALE_IN_COOLDOWN)
            .build()
            .map_err(|e| AwsError::unbuilt("PutScalingPolicy", e))?;
        self.0
            .client
            .put_scaling_policy()
            .policy_name(name)
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(&spec.resource_id)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .policy_type(PolicyType::TargetTrackingScaling)
            .target_tracking_scaling_policy_configuration(configuration)
            .send()
            .await
            .op("PutScalingPolicy")
            .map(drop)
    }
}
