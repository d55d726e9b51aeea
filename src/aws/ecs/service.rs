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
use crate::aws::logs::Logs;
use crate::aws::resource::Read;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::status::Health;
use crate::aws::status::Revision;
use crate::aws::tags::sync_tags;
use crate::aws::wait::{Check, Goal, Wait, poll};
use crate::model::{EcsServiceSpec, Spec, TAG_ENVIRONMENT, Tags};

/// DescribeServices takes at most 10 services per call.
const SERVICE_BATCH: usize = 10;

/// The service adapter, and CloudWatch Logs to quote a failed rollout's last lines.
pub(crate) struct Services<'a>(pub(crate) &'a Ecs, pub(crate) &'a Logs);

/// The deployment an apply started: what its wait follows.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Started {
    deployment: String,
    task_definition: String,
}

impl Started {
    /// The PRIMARY deployment of a service as CreateService or UpdateService returned it.
    fn of(service: Option<&aws_sdk_ecs::types::Service>) -> Option<Started> {
        let primary = service?.deployments().iter().find(|d| d.status() == Some("PRIMARY"))?;
        Some(Started {
            deployment: primary.id()?.to_owned(),
            task_definition: primary.task_definition().unwrap_or_default().to_owned(),
        })
    }
}

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
        let started = Started::of(output.service());
        let wait = request.wait(format!("{} tasks running and the deployment to settle", spec.desired));
        self.wait_rollout(&cluster, &arn, started.as_ref(), wait).await?;
        Ok(arn)
    }

    async fn update(&self, request: Update<'_, EcsServiceSpec>) -> Result<(), AwsError> {
        let (arn, spec, resolved) = (request.physical_id, request.spec, request.resolved);
        let cluster = resolved.physical(&spec.cluster)?;
        let rolls = request.changed_any(&[
            EcsServiceSpec::TASK_DEFINITION,
            EcsServiceSpec::DESIRED,
            EcsServiceSpec::SUBNETS,
            EcsServiceSpec::SECURITY_GROUPS,
        ]);
        if request.changed(EcsServiceSpec::HEALTH_CHECK_GRACE_SECONDS) && !rolls {
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
        let mut started = None;
        if rolls {
            let output = self
                .0
                .client
                .update_service()
                .cluster(&cluster)
                .service(arn)
                .task_definition(resolved.physical(&spec.task_definition)?)
                // A scaled service's count is the autoscaler's: a rollout never resets it.
                .set_desired_count(request.changed(EcsServiceSpec::DESIRED).then_some(spec.desired as i32))
                .network_configuration(network(spec, resolved)?)
                .set_health_check_grace_period_seconds(spec.health_check_grace_seconds.map(i32::from))
                .send()
                .await
                .op("UpdateService")?;
            started = Started::of(output.service());
        }
        sync_tags(self.0, arn, request.tags, request.current_tags).await?;
        if rolls {
            let wait = request.wait("the service's tasks running and the deployment to settle");
            self.wait_rollout(&cluster, arn, started.as_ref(), wait).await?;
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

    async fn health(&self, read: &Read<'_, Self::Spec>) -> Result<Option<Health>, AwsError> {
        let Some(cluster) = read.physical(&read.spec.cluster) else {
            return Ok(None);
        };
        Ok(self
            .0
            .service_status(&cluster, &read.resource.physical_id)
            .await?
            .map(Health::Compute))
    }

    /// The task definition family's revisions; the service runs its current one.
    async fn revisions(&self, read: &Read<'_, Self::Spec>) -> Result<Option<Vec<Revision>>, AwsError> {
        let current = read.physical(&read.spec.task_definition).unwrap_or_default();
        let family = read
            .observed
            .iter()
            .find_map(|r| match &r.spec {
                Spec::TaskDefinition(definition) => Some(definition.family.clone()),
                _ => None,
            })
            .unwrap_or_else(|| {
                let environment = read.resource.tags.get(crate::model::TAG_ENVIRONMENT);
                crate::model::names::task_family(environment.map_or("", String::as_str))
            });
        Ok(Some(self.0.revisions(&family, &current).await?))
    }
}

impl Services<'_> {
    async fn describe(&self, cluster: &str, service: &str) -> Result<DescribeServicesOutput, AwsError> {
        self.0
            .client
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .op("DescribeServices")
    }

    async fn wait(&self, cluster: &str, service: &str, goal: Goal, wait: Wait<'_>) -> Result<(), AwsError> {
        poll(wait, || async move {
            Ok(service_check(&self.describe(cluster, service).await?, goal))
        })
        .await
    }

    /// Follows the deployment this apply started until ECS completes it, or says it failed.
    /// A failure names the stopped tasks' reasons and exit codes and quotes their last log
    /// lines: the circuit breaker rolls a failed deployment back, and the service becomes
    /// stable again on the old revision, which a stability wait would report as success.
    async fn wait_rollout(
        &self,
        cluster: &str,
        service: &str,
        started: Option<&Started>,
        wait: Wait<'_>,
    ) -> Result<(), AwsError> {
        let result = poll(wait, || async move {
            let output = self.describe(cluster, service).await?;
            Ok(match started {
                Some(started) => rollout_check(&output, started),
                None => service_check(&output, Goal::Ready),
            })
        })
        .await;
        match result {
            Err(AwsError::FailedState { what, state }) => {
                let diagnosis = self.diagnose(cluster, service, started).await;
                Err(AwsError::FailedState {
                    what,
                    state: format!("{state}{diagnosis}"),
                })
            }
            other => other,
        }
    }

    /// Why the service's tasks stopped, and what they logged last; best effort (a failure to
    /// read is said, not raised: the rollout's own failure is the error).
    async fn diagnose(&self, cluster: &str, service: &str, started: Option<&Started>) -> String {
        let stopped = match self.stopped_tasks(cluster, service).await {
            Ok(stopped) => stopped,
            Err(error) => return format!("\n    (could not read the stopped tasks: {error})"),
        };
        let mut text = String::new();
        for task in &stopped {
            text.push_str(&format!("\n    task {}: {}", task.id, task.reason));
        }
        let group = match started {
            Some(started) => self.log_group(&started.task_definition).await.ok().flatten(),
            None => None,
        };
        if let Some(group) = group {
            let since = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64)
                - 30 * 60 * 1000;
            if let Ok(lines) = self.1.read(&group, since, None).await {
                let ids: Vec<&str> = stopped.iter().map(|t| t.id.as_str()).collect();
                let theirs: Vec<_> = lines.iter().filter(|l| ids.contains(&l.source.as_str())).collect();
                for line in &theirs[theirs.len().saturating_sub(LOG_LINES)..] {
                    text.push_str(&format!("\n    log {}: {}", line.source, line.message));
                }
            }
        }
        text
    }

    async fn stopped_tasks(&self, cluster: &str, service: &str) -> Result<Vec<StoppedTask>, AwsError> {
        let listed = self
            .0
            .client
            .list_tasks()
            .cluster(cluster)
            .service_name(service.rsplit('/').next().unwrap_or(service))
            .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
            .max_results(STOPPED_TASKS)
            .send()
            .await
            .op("ListTasks")?;
        if listed.task_arns().is_empty() {
            return Ok(Vec::new());
        }
        let described = self
            .0
            .client
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(listed.task_arns().to_vec()))
            .send()
            .await
            .op("DescribeTasks")?;
        Ok(described.tasks().iter().map(stopped_task).collect())
    }

    /// The awslogs group a task definition's first container writes to.
    async fn log_group(&self, task_definition: &str) -> Result<Option<String>, AwsError> {
        Ok(self
            .0
            .first_container(task_definition)
            .await?
            .and_then(|c| c.log_configuration)
            .and_then(|l| l.options)
            .and_then(|mut options| options.remove("awslogs-group")))
    }
}

/// How many stopped tasks a failed rollout names, and how many of their log lines it quotes.
const STOPPED_TASKS: i32 = 5;
const LOG_LINES: usize = 10;

/// A stopped task: its id and why it stopped, with its containers' exit codes.
struct StoppedTask {
    id: String,
    reason: String,
}

fn stopped_task(task: &aws_sdk_ecs::types::Task) -> StoppedTask {
    let id = task
        .task_arn()
        .and_then(|a| a.rsplit('/').next())
        .unwrap_or("?")
        .to_owned();
    let containers: Vec<String> = task
        .containers()
        .iter()
        .map(|c| {
            let code = c
                .exit_code()
                .map_or_else(|| "no exit code".to_owned(), |code| format!("exit code {code}"));
            match c.reason() {
                Some(reason) => format!("{} {code} ({reason})", c.name().unwrap_or("container")),
                None => format!("{} {code}", c.name().unwrap_or("container")),
            }
        })
        .collect();
    StoppedTask {
        id,
        reason: format!(
            "{}; {}",
            task.stopped_reason().unwrap_or("stopped"),
            containers.join(", ")
        ),
    }
}

/// What one look at the service means for the deployment `started`: done when ECS completes
/// it, failed when ECS marks it FAILED or it is gone and the service runs another revision
/// (the circuit breaker rolled it back), pending with its task counts otherwise.
fn rollout_check(output: &DescribeServicesOutput, started: &Started) -> Check<()> {
    if output.failures().iter().any(|f| f.reason() == Some("MISSING")) {
        return Goal::Ready.absent();
    }
    let Some(service) = output.services().first() else {
        return Goal::Ready.absent();
    };
    let deployments = service.deployments();
    let primary = deployments.iter().find(|d| d.status() == Some("PRIMARY"));
    let Some(ours) = deployments.iter().find(|d| d.id() == Some(started.deployment.as_str())) else {
        return match primary.and_then(|p| p.task_definition()) {
            Some(now) if now != started.task_definition => Check::Failed(format!(
                "rolled back: deployment {} is gone and the service runs {now} again",
                started.deployment
            )),
            _ => Check::Done(()),
        };
    };
    let counts = format!(
        "{} running, {} pending, {} failed of {}",
        ours.running_count(),
        ours.pending_count(),
        ours.failed_tasks(),
        ours.desired_count()
    );
    match ours.rollout_state().map(|s| s.as_str()) {
        Some("COMPLETED") => Check::Done(()),
        Some("FAILED") => {
            let back = primary
                .filter(|p| p.id() != ours.id())
                .and_then(|p| p.task_definition())
                .map(|previous| format!("; ECS is rolling the service back to {previous}"))
                .unwrap_or_default();
            Check::Failed(format!(
                "deployment {} FAILED ({counts}): {}{back}",
                started.deployment,
                ours.rollout_state_reason().unwrap_or("no reason given")
            ))
        }
        // Without a rollout state (no circuit breaker), ECS's stable: one deployment, all running.
        None if deployments.len() == 1 && service.running_count() == service.desired_count() => Check::Done(()),
        _ => Check::Pending(format!("deployment {}: {counts}", started.deployment)),
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
            scaled: false,
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

    /// What DescribeServices answers, as ECS shapes it, for a service whose deployment
    /// `ecs-svc/new` (revision 2) the circuit breaker failed, while ECS rolls back to
    /// revision 1 under a new PRIMARY deployment.
    fn rolling_back() -> DescribeServicesOutput {
        let old = Deployment::builder()
            .id("ecs-svc/rollback")
            .status("PRIMARY")
            .task_definition("arn:aws:ecs:us-east-1:123456789012:task-definition/staging-api:1")
            .desired_count(2)
            .running_count(1)
            .pending_count(1)
            .rollout_state(DeploymentRolloutState::InProgress)
            .rollout_state_reason("ECS deployment ecs-svc/rollback in progress.")
            .build();
        let failed = Deployment::builder()
            .id("ecs-svc/new")
            .status("ACTIVE")
            .task_definition("arn:aws:ecs:us-east-1:123456789012:task-definition/staging-api:2")
            .desired_count(0)
            .running_count(0)
            .failed_tasks(4)
            .rollout_state(DeploymentRolloutState::Failed)
            .rollout_state_reason("ECS deployment circuit breaker: tasks failed to start.")
            .build();
        service("ACTIVE", 1, 2, vec![old, failed])
    }

    fn started() -> Started {
        Started {
            deployment: "ecs-svc/new".into(),
            task_definition: "arn:aws:ecs:us-east-1:123456789012:task-definition/staging-api:2".into(),
        }
    }

    #[test]
    fn a_failed_rollout_is_a_failure_naming_the_revision_ecs_goes_back_to() {
        let Check::Failed(reason) = rollout_check(&rolling_back(), &started()) else {
            panic!("a FAILED rollout must fail the apply")
        };
        assert_eq!(
            reason,
            "deployment ecs-svc/new FAILED (0 running, 0 pending, 4 failed of 0): ECS deployment circuit breaker: tasks failed to start.; ECS is rolling the service back to arn:aws:ecs:us-east-1:123456789012:task-definition/staging-api:1"
        );
    }

    #[test]
    fn a_service_stable_again_on_the_old_revision_is_a_rollback_not_a_success() {
        // Later: the failed deployment is gone, the rollback completed, the service is stable.
        let back = Deployment::builder()
            .id("ecs-svc/rollback")
            .status("PRIMARY")
            .task_definition("arn:aws:ecs:us-east-1:123456789012:task-definition/staging-api:1")
            .desired_count(2)
            .running_count(2)
            .rollout_state(DeploymentRolloutState::Completed)
            .build();
        let stable = service("ACTIVE", 2, 2, vec![back]);
        assert!(
            matches!(service_check(&stable, Goal::Ready), Check::Done(())),
            "stable, as a waiter sees it"
        );
        let Check::Failed(reason) = rollout_check(&stable, &started()) else {
            panic!("a rolled-back deployment must fail the apply")
        };
        assert!(
            reason.starts_with("rolled back: deployment ecs-svc/new is gone"),
            "{reason}"
        );
        assert!(reason.ends_with("staging-api:1 again"), "{reason}");
    }

    #[test]
    fn our_deployment_in_progress_then_completed() {
        let mut ours = Deployment::builder()
            .id("ecs-svc/new")
            .status("PRIMARY")
            .task_definition("arn:aws:ecs:us-east-1:123456789012:task-definition/staging-api:2")
            .desired_count(2)
            .running_count(1)
            .pending_count(1)
            .rollout_state(DeploymentRolloutState::InProgress);
        assert!(matches!(
            rollout_check(&service("ACTIVE", 1, 2, vec![ours.clone().build()]), &started()),
            Check::Pending(s) if s == "deployment ecs-svc/new: 1 running, 1 pending, 0 failed of 2"
        ));
        ours = ours
            .running_count(2)
            .pending_count(0)
            .rollout_state(DeploymentRolloutState::Completed);
        assert!(matches!(
            rollout_check(&service("ACTIVE", 2, 2, vec![ours.build()]), &started()),
            Check::Done(())
        ));
    }

    #[test]
    fn a_stopped_task_is_named_with_its_reason_and_exit_codes() {
        let task = aws_sdk_ecs::types::Task::builder()
            .task_arn("arn:aws:ecs:us-east-1:123456789012:task/staging/0f1e2d3c")
            .stopped_reason("Essential container in task exited")
            .containers(
                aws_sdk_ecs::types::Container::builder()
                    .name("api")
                    .exit_code(2)
                    .build(),
            )
            .build();
        let stopped = stopped_task(&task);
        assert_eq!(stopped.id, "0f1e2d3c");
        assert_eq!(stopped.reason, "Essential container in task exited; api exit code 2");
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
