//! Autoscaling: the ECS service's Application Auto Scaling target and policies, and the EC2
//! Auto Scaling group's policies. Both are target tracking: AWS adds capacity when the metric
//! runs above the target and removes it below, within min and max, and owns the desired count
//! from then on (deployer sets it at creation only).
//!
//! Neither scalable targets nor policies carry tags in every implementation (the emulator keeps
//! none), so they are found by deployer's names: the environment's own service
//! (`service/<env>/api`) or group (`<env>-app`), and policies called `deployer-cpu` and
//! `deployer-requests`.

use aws_sdk_applicationautoscaling::Client;
use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ServiceNamespace,
    TargetTrackingScalingPolicyConfiguration,
};

use super::asg::Asg;
use super::error::{AwsError, Classify};
use super::found::Found;
use super::resource::{Create, Delete, Resource, Update};
use crate::apply::Resolved;
use crate::model::{
    DimensionValue, GroupScalingSpec, Ref, RequestScaling, ScalingPolicies, ServiceScalingSpec, Spec, TAG_ENVIRONMENT,
    TAG_ID, Tags,
};

const CPU_POLICY: &str = "deployer-cpu";
const REQUESTS_POLICY: &str = "deployer-requests";
/// Scale out after a minute of high load, in only after five of low: capacity comes fast and
/// goes slowly.
const SCALE_OUT_COOLDOWN: i32 = 60;
const SCALE_IN_COOLDOWN: i32 = 300;

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

/// The tags discovery gives a resource it finds by name: its environment and logical id.
fn owned(environment: &str, id: &str) -> Tags {
    Tags::from([
        (TAG_ENVIRONMENT.to_owned(), environment.to_owned()),
        (TAG_ID.to_owned(), id.to_owned()),
    ])
}

/// `app/<lb>/<id>/targetgroup/<tg>/<id>`: how both scalers name the target group whose
/// requests they count, from the two ARNs.
fn resource_label(requests: &RequestScaling, resolved: &Resolved) -> Result<String, AwsError> {
    let balancer = resolved.physical(&requests.load_balancer)?;
    let group = resolved.physical(&requests.target_group)?;
    // Each by the end of its ARN, as CloudWatch names them in metrics (and the alarms do).
    let (balancer_name, group_name) = (
        DimensionValue::of_physical(&balancer),
        DimensionValue::of_physical(&group),
    );
    if balancer_name != balancer && group_name != group && group_name.starts_with("targetgroup/") {
        Ok(format!("{balancer_name}/{group_name}"))
    } else {
        Err(AwsError::Other {
            operation: "PutScalingPolicy",
            detail: format!("cannot name the target group {group} behind {balancer} for request counting"),
        })
    }
}

/// The requests policy read back: the environment's own load balancer and target group by
/// their names, anything else as it is.
fn requests_from(per_target: f64, label: &str, environment: &str) -> RequestScaling {
    let parts: Vec<&str> = label.split('/').collect();
    let ours = parts.len() == 6
        && parts[1] == crate::model::names::load_balancer(environment)
        && crate::model::is_target_group_name(environment, parts[4]);
    let (load_balancer, target_group) = if ours {
        (Ref::to("load-balancer"), Ref::to("target-group"))
    } else {
        (Ref::External(label.to_owned()), Ref::External(label.to_owned()))
    };
    RequestScaling {
        per_target: per_target.round().max(0.0) as u32,
        load_balancer,
        target_group,
    }
}

/// What a policy tracks and at which value, read back.
struct Tracked {
    name: String,
    target: f64,
    label: Option<String>,
}

fn policies_from(tracked: &[Tracked], environment: &str) -> ScalingPolicies {
    let cpu = tracked.iter().find(|t| t.name == CPU_POLICY);
    let requests = tracked.iter().find(|t| t.name == REQUESTS_POLICY);
    ScalingPolicies {
        cpu_percent: cpu.map_or(0, |t| t.target.round().max(0.0) as u16),
        requests: requests.map(|t| requests_from(t.target, t.label.as_deref().unwrap_or_default(), environment)),
    }
}

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
        if request.changed_any(&["min", "max"]) {
            self.register(spec).await?;
        }
        if request.changed_any(&["cpu_percent", "requests_per_target", "requests_counted_at"]) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_label_names_the_load_balancer_and_target_group_by_their_arns() {
        let resolved = Resolved::new(
            [
                (
                    "load-balancer",
                    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/staging-lb/50dc6c495c0c9188",
                ),
                (
                    "target-group",
                    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/staging-app-0a1b2c/943f017f100becff",
                ),
            ]
            .into_iter()
            .map(|(id, arn)| (crate::model::Id::from(id), arn.to_owned()))
            .collect(),
        );
        let requests = RequestScaling {
            per_target: 1000,
            load_balancer: Ref::to("load-balancer"),
            target_group: Ref::to("target-group"),
        };
        let label = resource_label(&requests, &resolved).unwrap();
        assert_eq!(
            label,
            "app/staging-lb/50dc6c495c0c9188/targetgroup/staging-app-0a1b2c/943f017f100becff"
        );
        assert_eq!(requests_from(1000.0, &label, "staging"), requests);
        let foreign = requests_from(5.0, &label, "production");
        assert_eq!(foreign.target_group, Ref::External(label.clone()));
    }
}
