//! ECS services on Fargate, behind the load balancer, rolled back by the circuit breaker when
//! a deployment fails.

use std::time::Duration;

use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, DeploymentCircuitBreaker, DeploymentConfiguration, LaunchType, LoadBalancer,
    NetworkConfiguration, PropagateTags, ServiceField,
};

use super::{Ecs, sdk_tags, tags_of};
use crate::apply::Resolved;
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::tags::sync_tags;
use crate::aws::wait::{Check, Goal, Wait, poll};
use crate::model::{EcsServiceSpec, Spec, TAG_ENVIRONMENT, Tags};

/// DescribeServices takes at most 10 services per call.
const SERVICE_BATCH: usize = 10;

pub(crate) struct Services<'a>(pub(crate) &'a Ecs);

impl Resource for Services<'_> {
    type Spec = EcsServiceSpec;
    /// Rolling a service on real AWS: tasks start, pass health checks, old ones drain.
    const TIMEOUT: Duration = Duration::from_secs(20 * 60);

    /// Found with their cluster, by `Clusters::discover` (AWS lists services per cluster).
    async fn discover(&self, _environment: &str) -> Result<Vec<Found>, AwsError> {
        Ok(Vec::new())
    }

    async fn create(&self, request: Create<'_, EcsServiceSpec>) -> Result<String, AwsError> {
        let (spec, tags, resolved, progress) = (request.spec, request.tags, request.resolved, request.progress);

        let cluster = resolved.physical(&spec.cluster)?;
        let mut load_balancer = LoadBalancer::builder()
            .container_name(&spec.container_name)
            .container_port(i32::from(spec.container_port));
        if let Some(group) = &spec.target_group {
            load_balancer = load_balancer.target_group_arn(resolved.physical(group)?);
        }
        if let Some(classic) = &spec.classic_load_balancer {
            load_balancer = load_balancer.load_balancer_name(resolved.physical(classic)?);
        }
        let load_balancer = load_balancer.build();
        // ECS checks at once that it can assume its roles, which may be seconds old.
        let output = crate::aws::retry::create_after_iam(&spec.name, progress, || async {
            self.0
                .client
                .create_service()
                .client_token(&request.client_token)
                .cluster(&cluster)
                .service_name(&spec.name)
                .task_definition(resolved.physical(&spec.task_definition)?)
                .desired_count(spec.desired as i32)
                .launch_type(LaunchType::Fargate)
                .network_configuration(network(spec, resolved)?)
                .load_balancers(load_balancer.clone())
                .set_health_check_grace_period_seconds(spec.health_check_grace_seconds.map(i32::from))
                .deployment_configuration(rollback_on_failure())
                .propagate_tags(PropagateTags::Service)
                .set_tags(Some(sdk_tags(tags)))
                .send()
                .await
                .op("CreateService")
        })
        .await?;
        let arn = output
            .service()
            .and_then(|s| s.service_arn())
            .unwrap_or_default()
            .to_owned();
        let wait = request.wait(format!("{} tasks running and the deployment to settle", spec.desired));
        self.wait(&cluster, &arn, Goal::Ready, wait).await?;
        Ok(arn)
    }

    async fn update(&self, request: Update<'_, EcsServiceSpec>) -> Result<(), AwsError> {
        let (arn, spec, resolved) = (request.physical_id, request.spec, request.resolved);
        let cluster = resolved.physical(&spec.cluster)?;
        let rolls = request.changed_any(&["task_definition", "desired", "subnets", "security_groups"]);
        if request.changed("health_check_grace_seconds") && !rolls {
            self.0
                .client
                .update_service()
                .cluster(&cluster)
                .service(arn)
                .set_health_check_grace_period_seconds(spec.health_check_grace_seconds.map(i32::from))
                .send()
                .await
                .op("UpdateService")?;
        }
        if rolls {
            self.0
                .client
                .update_service()
                .cluster(&cluster)
                .service(arn)
                .task_definition(resolved.physical(&spec.task_definition)?)
                .desired_count(spec.desired as i32)
                .network_configuration(network(spec, resolved)?)
                .set_health_check_grace_period_seconds(spec.health_check_grace_seconds.map(i32::from))
                .send()
                .await
                .op("UpdateService")?;
        }
        sync_tags(self.0, arn, request.tags, request.current_tags).await?;
        if rolls {
            let wait = request.wait(format!("{} tasks running and the deployment to settle", spec.desired));
            self.wait(&cluster, arn, Goal::Ready, wait).await?;
        }
        Ok(())
    }

    /// Scales to zero first: ECS refuses to delete a service with running tasks without force,
    /// and draining first lets the load balancer deregister them cleanly.
    async fn delete(&self, request: Delete<'_, EcsServiceSpec>) -> Result<(), AwsError> {
        let arn = request.physical_id;
        let cluster = &request.resolved.physical(&request.observed.cluster)?;

        match self
            .0
            .client
            .update_service()
            .cluster(cluster)
            .service(arn)
            .desired_count(0)
            .send()
            .await
            .op("UpdateService")
        {
            Err(error)
                if matches!(
                    error.code(),
                    Some("ServiceNotFoundException" | "ServiceNotActiveException" | "ClusterNotFoundException")
                ) =>
            {
                return Ok(());
            }
            other => other?,
        };
        self.0
            .client
            .delete_service()
            .cluster(cluster)
            .service(arn)
            .force(true)
            .send()
            .await
            .op("DeleteService")?;
        self.wait(cluster, arn, Goal::Gone, request.wait("the service's tasks to stop"))
            .await
    }
}

impl Services<'_> {
    async fn wait(&self, cluster: &str, service: &str, goal: Goal, wait: Wait<'_>) -> Result<(), AwsError> {
        poll(wait, || async move {
            let output = self
                .0
                .client
                .describe_services()
                .cluster(cluster)
                .services(service)
                .send()
                .await
                .op("DescribeServices")?;
            Ok(service_check(&output, goal))
        })
        .await
    }
}

/// The environment's services in one cluster.
pub(super) async fn find_services(ecs: &Ecs, cluster: &str, environment: &str) -> Result<Vec<Found>, AwsError> {
    let ours = |tags: &Tags| tags.get(TAG_ENVIRONMENT).is_some_and(|e| e == environment);
    let mut found = Vec::new();
    let services: Vec<String> = all_pages!(ecs.client.list_services().cluster(cluster), "ListServices")?;
    for batch in services.chunks(SERVICE_BATCH) {
        let output = ecs
            .client
            .describe_services()
            .cluster(cluster)
            .set_services(Some(batch.to_vec()))
            .include(ServiceField::Tags)
            .send()
            .await
            .op("DescribeServices")?;
        for service in output.services() {
            let tags = tags_of(service.tags());
            if !ours(&tags) || service.status() == Some("INACTIVE") {
                continue;
            }
            found.push(service_found(service, tags));
        }
    }
    Ok(found)
}

/// What one look at the service means for a wait. Ready is what the SDK's services-stable
/// waiter calls stable (one deployment, as many tasks running as desired), except that a
/// rollout ECS marks FAILED stops the wait at once, with ECS's reason.
fn service_check(output: &DescribeServicesOutput, goal: Goal) -> Check<()> {
    if output.failures().iter().any(|f| f.reason() == Some("MISSING")) {
        return goal.absent();
    }
    let Some(service) = output.services().first() else {
        return goal.absent();
    };
    let status = service.status().unwrap_or("UNKNOWN");
    let (running, desired) = (service.running_count(), service.desired_count());
    match goal {
        Goal::Gone if status == "INACTIVE" => Check::Done(()),
        Goal::Gone => Check::Pending(format!("{status} with {running} tasks running")),
        Goal::Ready if status != "ACTIVE" => Check::Failed(status.to_owned()),
        Goal::Ready => {
            let deployments = service.deployments();
            if let Some(failed) = deployments
                .iter()
                .find(|d| d.rollout_state().is_some_and(|s| s.as_str() == "FAILED"))
            {
                return Check::Failed(format!(
                    "a failed deployment ({}: {})",
                    failed.id().unwrap_or("unknown id"),
                    failed.rollout_state_reason().unwrap_or("no reason given")
                ));
            }
            if deployments.len() == 1 && running == desired {
                return Check::Done(());
            }
            let pending = service.pending_count();
            Check::Pending(format!(
                "{running} of {desired} tasks running, {pending} pending, {} deployments",
                deployments.len()
            ))
        }
    }
}

fn service_found(service: &aws_sdk_ecs::types::Service, tags: Tags) -> Found {
    let arn = service.service_arn().unwrap_or_default().to_owned();
    let name = service.service_name().unwrap_or_default().to_owned();
    let cluster = service.cluster_arn().unwrap_or_default().to_owned();
    let task_definition = service.task_definition().unwrap_or_default().to_owned();
    let desired = service.desired_count() as u32;
    let vpc = service.network_configuration().and_then(|n| n.awsvpc_configuration());
    let subnets: Vec<String> = vpc.map(|v| v.subnets().to_vec()).unwrap_or_default();
    let groups: Vec<String> = vpc.map(|v| v.security_groups().to_vec()).unwrap_or_default();
    let balancer = service.load_balancers().first();
    let target_group = balancer.and_then(|b| b.target_group_arn()).map(str::to_owned);
    let classic = balancer.and_then(|b| b.load_balancer_name()).map(str::to_owned);
    let container_name = balancer.and_then(|b| b.container_name()).unwrap_or_default().to_owned();
    let container_port = balancer.and_then(|b| b.container_port()).unwrap_or_default() as u16;
    let health_check_grace_seconds = service
        .health_check_grace_period_seconds()
        .map(|s| s.clamp(0, i32::from(u16::MAX)) as u16);
    Found::new(arn, tags, move |lookup| {
        Spec::EcsService(EcsServiceSpec {
            name,
            cluster: lookup(&cluster),
            task_definition: lookup(&task_definition),
            desired,
            subnets: subnets.iter().map(|s| lookup(s)).collect(),
            security_groups: groups.iter().map(|g| lookup(g)).collect(),
            target_group: target_group.as_deref().map(lookup),
            classic_load_balancer: classic.as_deref().map(lookup),
            container_name,
            container_port,
            health_check_grace_seconds,
        })
    })
}

fn network(spec: &EcsServiceSpec, resolved: &Resolved) -> Result<NetworkConfiguration, AwsError> {
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(resolved.physical_all(&spec.subnets)?))
        .set_security_groups(Some(resolved.physical_all(&spec.security_groups)?))
        .assign_public_ip(AssignPublicIp::Disabled)
        .build()
        .map_err(|e| AwsError::Other {
            operation: "CreateService",
            detail: e.to_string(),
        })?;
    Ok(NetworkConfiguration::builder().awsvpc_configuration(vpc).build())
}

/// A deployment whose tasks keep failing rolls back instead of retrying forever.
fn rollback_on_failure() -> DeploymentConfiguration {
    DeploymentConfiguration::builder()
        .deployment_circuit_breaker(DeploymentCircuitBreaker::builder().enable(true).rollback(true).build())
        .minimum_healthy_percent(100)
        .maximum_percent(200)
        .build()
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::types::{Deployment, DeploymentRolloutState, Failure, Service};

    use super::*;

    fn service(status: &str, running: i32, desired: i32, deployments: Vec<Deployment>) -> DescribeServicesOutput {
        let service = Service::builder()
            .status(status)
            .running_count(running)
            .desired_count(desired)
            .set_deployments(Some(deployments))
            .build();
        DescribeServicesOutput::builder().services(service).build()
    }

    fn deployment(state: DeploymentRolloutState) -> Deployment {
        Deployment::builder()
            .id("ecs-svc/1")
            .rollout_state(state)
            .rollout_state_reason("tasks failed to start")
            .build()
    }

    #[test]
    fn stable_means_one_deployment_with_every_task_running() {
        let one = || vec![deployment(DeploymentRolloutState::InProgress)];
        assert!(matches!(
            service_check(&service("ACTIVE", 1, 2, one()), Goal::Ready),
            Check::Pending(s) if s == "1 of 2 tasks running, 0 pending, 1 deployments"
        ));
        assert!(matches!(
            service_check(&service("ACTIVE", 2, 2, one()), Goal::Ready),
            Check::Done(())
        ));
        let two = vec![
            deployment(DeploymentRolloutState::InProgress),
            deployment(DeploymentRolloutState::Completed),
        ];
        assert!(matches!(
            service_check(&service("ACTIVE", 2, 2, two), Goal::Ready),
            Check::Pending(_)
        ));
    }

    #[test]
    fn a_failed_rollout_stops_the_wait_with_its_reason() {
        let failed = vec![deployment(DeploymentRolloutState::Failed)];
        assert!(matches!(
            service_check(&service("ACTIVE", 2, 2, failed), Goal::Ready),
            Check::Failed(s) if s == "a failed deployment (ecs-svc/1: tasks failed to start)"
        ));
    }

    #[test]
    fn a_service_not_described_yet_is_waited_for_and_gone_when_deleting() {
        let missing = DescribeServicesOutput::builder()
            .failures(Failure::builder().reason("MISSING").arn("arn:svc").build())
            .build();
        assert!(matches!(service_check(&missing, Goal::Ready), Check::Pending(s) if s == "not visible yet"));
        assert!(matches!(service_check(&missing, Goal::Gone), Check::Done(())));
        assert!(matches!(
            service_check(&service("DRAINING", 1, 0, vec![]), Goal::Gone),
            Check::Pending(s) if s == "DRAINING with 1 tasks running"
        ));
        assert!(matches!(
            service_check(&service("INACTIVE", 0, 0, vec![]), Goal::Gone),
            Check::Done(())
        ));
    }
}
