//! Fargate task definitions. Revisions are immutable: every attribute forces a new one, and
//! an update only brings tags up to date.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, HealthCheck, KeyValuePair, LogConfiguration, LogDriver, NetworkMode,
    PortMapping, Secret, TaskDefinitionField, TransportProtocol,
};
use serde_json::Value;

use super::{Ecs, sdk_tags, tags_of};
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::tags::sync_tags;
use crate::model::{Spec, TAG_DIGEST, TAG_ENVIRONMENT, Tags, TaskDefinitionSpec};

pub(crate) struct TaskDefinitions<'a>(pub(crate) &'a Ecs);

impl Resource for TaskDefinitions<'_> {
    type Spec = TaskDefinitionSpec;

    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let ours = |tags: &Tags| tags.get(TAG_ENVIRONMENT).is_some_and(|e| e == environment);
        let mut found = Vec::new();
        // ListTaskDefinitionFamilies matches a prefix; ListTaskDefinitions wants whole families.
        let families: Vec<String> = self
            .0
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
                .0
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
                .0
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

    async fn create(&self, request: Create<'_, TaskDefinitionSpec>) -> Result<String, AwsError> {
        let (spec, tags, resolved) = (request.spec, request.tags, request.resolved);

        let containers = container_definitions(&spec.container_definitions)?;
        let output = self
            .0
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

    async fn update(&self, request: Update<'_, TaskDefinitionSpec>) -> Result<(), AwsError> {
        sync_tags(self.0, request.physical_id, request.tags, request.current_tags).await
    }

    /// Running tasks keep using an inactive revision; new deployments use the new one.
    async fn delete(&self, request: Delete<'_, TaskDefinitionSpec>) -> Result<(), AwsError> {
        let arn = request.physical_id;

        match self
            .0
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
