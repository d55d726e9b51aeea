//! The ECS adapter: clusters, Fargate task definitions and services.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::client::Waiters;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, ClusterField, Compatibility, ContainerDefinition, DeploymentCircuitBreaker,
    DeploymentConfiguration, HealthCheck, KeyValuePair, LaunchType, LoadBalancer, LogConfiguration, LogDriver,
    NetworkConfiguration, NetworkMode, PortMapping, PropagateTags, Secret, ServiceField, Tag, TaskDefinitionField,
    TransportProtocol,
};
use serde_json::Value;

use super::elb::physical_all;
use super::error::{AwsError, Classify};
use super::found::Found;
use crate::apply::{Progress, Resolved};
use crate::model::{EcsClusterSpec, EcsServiceSpec, Spec, TAG_DIGEST, TAG_ENVIRONMENT, Tags, TaskDefinitionSpec};

/// Rolling a service on real AWS: tasks start, pass health checks, old ones drain.
const STABLE_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// Tasks boot and pull their image before the load balancer's checks count.
const HEALTH_CHECK_GRACE_SECONDS: i32 = 60;
/// DescribeServices takes at most 10 services per call.
const SERVICE_BATCH: usize = 10;

#[derive(Debug, Clone)]
pub struct Ecs {
    client: Client,
}

fn tags_of(tags: &[Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned())))
        .collect()
}

fn sdk_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

impl Ecs {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: Client::new(config),
        }
    }

    pub(crate) async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let ours = |tags: &Tags| tags.get(TAG_ENVIRONMENT).is_some_and(|e| e == environment);
        let arns: Vec<String> = self
            .client
            .list_clusters()
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .op("ListClusters")?;
        let mut found = Vec::new();
        let mut clusters = Vec::new();
        if !arns.is_empty() {
            let output = self
                .client
                .describe_clusters()
                .set_clusters(Some(arns))
                .include(ClusterField::Tags)
                .send()
                .await
                .op("DescribeClusters")?;
            for cluster in output.clusters() {
                let tags = tags_of(cluster.tags());
                if !ours(&tags) || cluster.status() == Some("INACTIVE") {
                    continue;
                }
                let arn = cluster.cluster_arn().unwrap_or_default().to_owned();
                let name = cluster.cluster_name().unwrap_or_default().to_owned();
                clusters.push(arn.clone());
                found.push(Found::new(arn, tags, move |_| {
                    Spec::EcsCluster(EcsClusterSpec { name })
                }));
            }
        }
        for cluster in &clusters {
            let services: Vec<String> = self
                .client
                .list_services()
                .cluster(cluster)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .op("ListServices")?;
            for batch in services.chunks(SERVICE_BATCH) {
                let output = self
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
        }
        // ListTaskDefinitionFamilies matches a prefix; ListTaskDefinitions wants whole families.
        let families: Vec<String> = self
            .client
            .list_task_definition_families()
            .family_prefix(format!("{environment}-"))
            .status(aws_sdk_ecs::types::TaskDefinitionFamilyStatus::Active)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .op("ListTaskDefinitionFamilies")?;
        let mut definitions = Vec::new();
        for family in families {
            let arns: Vec<String> = self
                .client
                .list_task_definitions()
                .family_prefix(family)
                .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .op("ListTaskDefinitions")?;
            definitions.extend(arns);
        }
        for arn in definitions {
            let output = self
                .client
                .describe_task_definition()
                .task_definition(&arn)
                .include(TaskDefinitionField::Tags)
                .send()
                .await
                .op("DescribeTaskDefinition")?;
            let tags = tags_of(output.tags());
            let Some(definition) = output.task_definition().filter(|_| ours(&tags)) else {
                continue;
            };
            let family = definition.family().unwrap_or_default().to_owned();
            let image = definition
                .container_definitions()
                .first()
                .and_then(|c| c.image())
                .unwrap_or_default()
                .to_owned();
            let cpu = definition.cpu().and_then(|c| c.parse().ok()).unwrap_or_default();
            let memory = definition.memory().and_then(|m| m.parse().ok()).unwrap_or_default();
            let execution_role = definition.execution_role_arn().unwrap_or_default().to_owned();
            let task_role = definition.task_role_arn().unwrap_or_default().to_owned();
            // ECS echoes container definitions with every default filled in; the digest
            // recorded at registration is what stands for them.
            let digest = tags.get(TAG_DIGEST).cloned().unwrap_or_default();
            found.push(Found::new(arn, tags, move |lookup| {
                Spec::TaskDefinition(TaskDefinitionSpec {
                    family,
                    image,
                    cpu,
                    memory,
                    execution_role: lookup(&execution_role),
                    task_role: lookup(&task_role),
                    container_definitions: String::new(),
                    digest,
                })
            }));
        }
        Ok(found)
    }

    pub async fn create_cluster(&self, spec: &EcsClusterSpec, tags: &Tags) -> Result<String, AwsError> {
        let output = self
            .client
            .create_cluster()
            .cluster_name(&spec.name)
            .settings(
                aws_sdk_ecs::types::ClusterSetting::builder()
                    .name(aws_sdk_ecs::types::ClusterSettingName::ContainerInsights)
                    .value("enabled")
                    .build(),
            )
            .set_tags(Some(sdk_tags(tags)))
            .send()
            .await
            .op("CreateCluster")?;
        Ok(output
            .cluster()
            .and_then(|c| c.cluster_arn())
            .unwrap_or_default()
            .to_owned())
    }

    pub async fn delete_cluster(&self, arn: &str, progress: Progress<'_>) -> Result<(), AwsError> {
        super::retry::delete_with_retry(arn, progress, || async {
            match self
                .client
                .delete_cluster()
                .cluster(arn)
                .send()
                .await
                .op("DeleteCluster")
            {
                Err(error) if error.code().is_some_and(|c| c.starts_with("ClusterContains")) => {
                    Err(AwsError::Service {
                        operation: "DeleteCluster",
                        code: "DependencyViolation".into(),
                        message: error.to_string(),
                    })
                }
                Err(error) if error.code() == Some("ClusterNotFoundException") => Ok(()),
                other => other.map(drop),
            }
        })
        .await
    }

    pub async fn register_task_definition(
        &self,
        spec: &TaskDefinitionSpec,
        tags: &Tags,
        resolved: &Resolved,
    ) -> Result<String, AwsError> {
        let containers = container_definitions(&spec.container_definitions)?;
        let output = self
            .client
            .register_task_definition()
            .family(&spec.family)
            .requires_compatibilities(Compatibility::Fargate)
            .network_mode(NetworkMode::Awsvpc)
            .cpu(spec.cpu.to_string())
            .memory(spec.memory.to_string())
            .execution_role_arn(resolved.physical(&spec.execution_role)?)
            .task_role_arn(resolved.physical(&spec.task_role)?)
            .set_container_definitions(Some(containers))
            .set_tags(Some(sdk_tags(tags)))
            .send()
            .await
            .op("RegisterTaskDefinition")?;
        Ok(output
            .task_definition()
            .and_then(|t| t.task_definition_arn())
            .unwrap_or_default()
            .to_owned())
    }

    /// Running tasks keep using an inactive revision; new deployments use the new one.
    pub async fn deregister_task_definition(&self, arn: &str) -> Result<(), AwsError> {
        match self
            .client
            .deregister_task_definition()
            .task_definition(arn)
            .send()
            .await
            .op("DeregisterTaskDefinition")
        {
            Err(AwsError::Service { code, .. }) if code == "ClientException" => Ok(()),
            other => other.map(drop),
        }
    }

    pub async fn create_service(
        &self,
        spec: &EcsServiceSpec,
        tags: &Tags,
        resolved: &Resolved,
        progress: Progress<'_>,
    ) -> Result<String, AwsError> {
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
        let output = self
            .client
            .create_service()
            .cluster(&cluster)
            .service_name(&spec.name)
            .task_definition(resolved.physical(&spec.task_definition)?)
            .desired_count(spec.desired as i32)
            .launch_type(LaunchType::Fargate)
            .network_configuration(network(spec, resolved)?)
            .load_balancers(load_balancer.build())
            .health_check_grace_period_seconds(HEALTH_CHECK_GRACE_SECONDS)
            .deployment_configuration(rollback_on_failure())
            .propagate_tags(PropagateTags::Service)
            .set_tags(Some(sdk_tags(tags)))
            .send()
            .await
            .op("CreateService")?;
        let arn = output
            .service()
            .and_then(|s| s.service_arn())
            .unwrap_or_default()
            .to_owned();
        self.wait_stable(&cluster, &arn, spec.desired, progress).await?;
        Ok(arn)
    }

    async fn wait_stable(
        &self,
        cluster: &str,
        service: &str,
        desired: u32,
        progress: Progress<'_>,
    ) -> Result<(), AwsError> {
        progress.waiting(format!("{desired} tasks running and the deployment to settle"));
        self.client
            .wait_until_services_stable()
            .cluster(cluster)
            .services(service)
            .wait(STABLE_TIMEOUT)
            .await
            .map_err(|_| AwsError::WaitTimeout {
                what: format!("service {service} to become stable"),
                waited: STABLE_TIMEOUT,
            })?;
        Ok(())
    }

    pub async fn update_service(
        &self,
        arn: &str,
        spec: &EcsServiceSpec,
        tags: &Tags,
        current_tags: &Tags,
        resolved: &Resolved,
        progress: Progress<'_>,
    ) -> Result<(), AwsError> {
        let cluster = resolved.physical(&spec.cluster)?;
        self.client
            .update_service()
            .cluster(&cluster)
            .service(arn)
            .task_definition(resolved.physical(&spec.task_definition)?)
            .desired_count(spec.desired as i32)
            .network_configuration(network(spec, resolved)?)
            .send()
            .await
            .op("UpdateService")?;
        let stale: Vec<String> = super::stale_tag_keys(tags, current_tags).into_iter().cloned().collect();
        if !stale.is_empty() {
            self.client
                .untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(stale))
                .send()
                .await
                .op("UntagResource")?;
        }
        if tags != current_tags {
            self.client
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(sdk_tags(tags)))
                .send()
                .await
                .op("TagResource")?;
        }
        self.wait_stable(&cluster, arn, spec.desired, progress).await
    }

    /// Scales to zero first: ECS refuses to delete a service with running tasks without force,
    /// and draining first lets the load balancer deregister them cleanly.
    pub async fn delete_service(&self, arn: &str, cluster: &str, progress: Progress<'_>) -> Result<(), AwsError> {
        match self
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
        self.client
            .delete_service()
            .cluster(cluster)
            .service(arn)
            .force(true)
            .send()
            .await
            .op("DeleteService")?;
        progress.waiting("the service's tasks to stop");
        self.client
            .wait_until_services_inactive()
            .cluster(cluster)
            .services(arn)
            .wait(STABLE_TIMEOUT)
            .await
            .map_err(|_| AwsError::WaitTimeout {
                what: format!("service {arn} to become inactive"),
                waited: STABLE_TIMEOUT,
            })?;
        Ok(())
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
        })
    })
}

fn network(spec: &EcsServiceSpec, resolved: &Resolved) -> Result<NetworkConfiguration, AwsError> {
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(physical_all(&spec.subnets, resolved)?))
        .set_security_groups(Some(physical_all(&spec.security_groups, resolved)?))
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

#[derive(Debug, thiserror::Error)]
#[error("templates/task-definition.json.tera: {0}")]
struct TemplateShape(String);

fn template_error(detail: impl Into<String>) -> AwsError {
    AwsError::Other {
        operation: "RegisterTaskDefinition",
        detail: TemplateShape(detail.into()).to_string(),
    }
}

/// Translates the rendered container definitions (ECS's JSON shape) into SDK types. Fields
/// deployer does not translate are an error rather than silently dropped.
fn container_definitions(json: &str) -> Result<Vec<ContainerDefinition>, AwsError> {
    let value: Value = serde_json::from_str(json).map_err(|e| template_error(e.to_string()))?;
    let Value::Array(containers) = value else {
        return Err(template_error("expected a JSON array of containers"));
    };
    containers.iter().map(container).collect()
}

fn container(value: &Value) -> Result<ContainerDefinition, AwsError> {
    let Value::Object(fields) = value else {
        return Err(template_error("each container must be a JSON object"));
    };
    let text = |v: &Value| {
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| template_error(format!("expected a string, found {v}")))
    };
    let int = |v: &Value| {
        v.as_i64()
            .map(|n| n as i32)
            .ok_or_else(|| template_error(format!("expected a number, found {v}")))
    };
    let mut builder = ContainerDefinition::builder();
    for (key, v) in fields {
        builder = match key.as_str() {
            "name" => builder.name(text(v)?),
            "image" => builder.image(text(v)?),
            "essential" => builder.essential(v.as_bool().unwrap_or(true)),
            "user" => builder.user(text(v)?),
            "readonlyRootFilesystem" => builder.readonly_root_filesystem(v.as_bool().unwrap_or(false)),
            "portMappings" => {
                let mut b = builder;
                for m in v.as_array().into_iter().flatten() {
                    b = b.port_mappings(
                        PortMapping::builder()
                            .container_port(int(&m["containerPort"])?)
                            .set_host_port(m.get("hostPort").map(int).transpose()?)
                            .protocol(TransportProtocol::from(m["protocol"].as_str().unwrap_or("tcp")))
                            .build(),
                    );
                }
                b
            }
            "environment" => {
                let mut b = builder;
                for pair in v.as_array().into_iter().flatten() {
                    b = b.environment(
                        KeyValuePair::builder()
                            .name(text(&pair["name"])?)
                            .value(text(&pair["value"])?)
                            .build(),
                    );
                }
                b
            }
            "secrets" => {
                let mut b = builder;
                for secret in v.as_array().into_iter().flatten() {
                    let secret = Secret::builder()
                        .name(text(&secret["name"])?)
                        .value_from(text(&secret["valueFrom"])?)
                        .build()
                        .map_err(|e| template_error(e.to_string()))?;
                    b = b.secrets(secret);
                }
                b
            }
            "healthCheck" => {
                let command: Vec<String> = v["command"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(text)
                    .collect::<Result<_, _>>()?;
                let check = HealthCheck::builder()
                    .set_command(Some(command))
                    .set_interval(v.get("interval").map(int).transpose()?)
                    .set_timeout(v.get("timeout").map(int).transpose()?)
                    .set_retries(v.get("retries").map(int).transpose()?)
                    .set_start_period(v.get("startPeriod").map(int).transpose()?)
                    .build()
                    .map_err(|e| template_error(e.to_string()))?;
                builder.health_check(check)
            }
            "logConfiguration" => {
                let options: BTreeMap<String, String> = v["options"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| Ok((k.clone(), text(v)?)))
                    .collect::<Result<_, AwsError>>()?;
                let config = LogConfiguration::builder()
                    .log_driver(LogDriver::from(v["logDriver"].as_str().unwrap_or("awslogs")))
                    .set_options(Some(options.into_iter().collect()))
                    .build()
                    .map_err(|e| template_error(e.to_string()))?;
                builder.log_configuration(config)
            }
            other => {
                return Err(template_error(format!(
                    "the container field `{other}` is not supported by deployer yet; remove it"
                )));
            }
        };
    }
    Ok(builder.build())
}
