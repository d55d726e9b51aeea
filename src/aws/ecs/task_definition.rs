//! Fargate task definitions. Revisions are immutable: every attribute forces a new one, and
//! an update only brings tags up to date.

use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, CpuArchitecture, HealthCheck, KeyValuePair, LogConfiguration, LogDriver,
    NetworkMode, OsFamily, PortMapping, RuntimePlatform, Secret, TaskDefinitionField, TransportProtocol,
};

use super::{Ecs, sdk_tags, tags_of};
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::tags::sync_tags;
use crate::model::{self, Spec, TAG_DIGEST, TAG_ENVIRONMENT, Tags, TaskDefinitionSpec, parse_container_definitions};

pub(crate) struct TaskDefinitions<'a>(pub(crate) &'a Ecs);

impl Resource for TaskDefinitions<'_> {
    type Spec = TaskDefinitionSpec;

    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let ours = |tags: &Tags| tags.get(TAG_ENVIRONMENT).is_some_and(|e| e == environment);
        let mut found = Vec::new();
        // ListTaskDefinitionFamilies matches a prefix; ListTaskDefinitions wants whole families.
        let families: Vec<String> = all_pages!(
            self.0
                .client
                .list_task_definition_families()
                .family_prefix(crate::model::names::task_family_prefix(environment))
                .status(aws_sdk_ecs::types::TaskDefinitionFamilyStatus::Active),
            "ListTaskDefinitionFamilies"
        )?;
        let mut definitions = Vec::new();
        for family in families {
            let arns: Vec<String> = all_pages!(
                self.0
                    .client
                    .list_task_definitions()
                    .family_prefix(family)
                    .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active),
                "ListTaskDefinitions"
            )?;
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
            // A definition without a runtime platform runs on Fargate's default, X86_64.
            let architecture = definition
                .runtime_platform()
                .and_then(|p| p.cpu_architecture())
                .map_or("X86_64", |a| a.as_str())
                .to_owned();
            let execution_role = definition.execution_role_arn().unwrap_or_default().to_owned();
            let task_role = definition.task_role_arn().unwrap_or_default().to_owned();
            // ECS echoes container definitions with every default filled in; the digest
            // recorded at registration is what stands for them.
            let digest = tags.get(TAG_DIGEST).cloned().unwrap_or_default();
            let log_group = definition
                .container_definitions()
                .first()
                .and_then(|c| c.log_configuration())
                .and_then(|l| l.options())
                .and_then(|o| o.get("awslogs-group"))
                .cloned()
                .unwrap_or_default();
            found.push(Found::new(arn, tags, move |lookup| {
                Spec::TaskDefinition(TaskDefinitionSpec {
                    family,
                    image,
                    cpu,
                    memory,
                    architecture,
                    execution_role: lookup(&execution_role),
                    task_role: lookup(&task_role),
                    container_definitions: String::new(),
                    digest,
                    log_group: lookup(&log_group),
                })
            }));
        }
        Ok(found)
    }

    async fn create(&self, request: Create<'_, TaskDefinitionSpec>) -> Result<String, AwsError> {
        let (spec, tags, resolved) = (request.spec, request.tags, request.resolved);

        let containers = container_definitions(&spec.container_definitions)?;
        let (execution_role, task_role) = (
            resolved.physical(&spec.execution_role)?,
            resolved.physical(&spec.task_role)?,
        );
        // Its roles may be seconds old: ECS checks that it may pass them, and AWS answers
        // AccessDenied on iam:PassRole or "Role is not valid" until they have propagated
        // (terraform-aws-modules/terraform-aws-ecs#414).
        let output = crate::aws::retry::create_after_iam(&spec.family, request.progress, || async {
            self.0
                .client
                .register_task_definition()
                .family(&spec.family)
                .requires_compatibilities(Compatibility::Fargate)
                .network_mode(NetworkMode::Awsvpc)
                .cpu(spec.cpu.to_string())
                .memory(spec.memory.to_string())
                // Pinned: an image built for one architecture fails to start on the other.
                .runtime_platform(
                    RuntimePlatform::builder()
                        .cpu_architecture(CpuArchitecture::from(spec.architecture.as_str()))
                        .operating_system_family(OsFamily::Linux)
                        .build(),
                )
                .execution_role_arn(&execution_role)
                .task_role_arn(&task_role)
                .set_container_definitions(Some(containers.clone()))
                .set_tags(Some(sdk_tags(tags)))
                .send()
                .await
                .op("RegisterTaskDefinition")
        })
        .await?;
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

/// Translates the model's container definitions (parsed and checked when the model was
/// built) into the SDK's types.
fn container_definitions(json: &str) -> Result<Vec<ContainerDefinition>, AwsError> {
    let containers = parse_container_definitions(json).map_err(|error| AwsError::Other {
        operation: "RegisterTaskDefinition",
        detail: format!("internal error: container definitions the model accepted do not parse: {error}"),
    })?;
    containers.iter().map(container).collect()
}

fn container(c: &model::ContainerDefinition) -> Result<ContainerDefinition, AwsError> {
    let built = |what: &str, error: aws_smithy_types::error::operation::BuildError| AwsError::Other {
        operation: "RegisterTaskDefinition",
        detail: format!("{what}: {error}"),
    };
    let mut builder = ContainerDefinition::builder()
        .name(&c.name)
        .image(&c.image)
        .essential(c.essential)
        .set_user(c.user.clone())
        .readonly_root_filesystem(c.readonly_root_filesystem);
    for mapping in &c.port_mappings {
        builder = builder.port_mappings(
            PortMapping::builder()
                .container_port(mapping.container_port)
                .set_host_port(mapping.host_port)
                .protocol(TransportProtocol::from(mapping.protocol.as_str()))
                .build(),
        );
    }
    for variable in &c.environment {
        builder = builder.environment(
            KeyValuePair::builder()
                .name(&variable.name)
                .value(&variable.value)
                .build(),
        );
    }
    for secret in &c.secrets {
        let secret = Secret::builder()
            .name(&secret.name)
            .value_from(&secret.value_from)
            .build()
            .map_err(|e| built("secrets", e))?;
        builder = builder.secrets(secret);
    }
    if let Some(check) = &c.health_check {
        let check = HealthCheck::builder()
            .set_command(Some(check.command.clone()))
            .set_interval(check.interval)
            .set_timeout(check.timeout)
            .set_retries(check.retries)
            .set_start_period(check.start_period)
            .build()
            .map_err(|e| built("healthCheck", e))?;
        builder = builder.health_check(check);
    }
    if let Some(logs) = &c.log_configuration {
        let logs = LogConfiguration::builder()
            .log_driver(LogDriver::from(logs.log_driver.as_str()))
            .set_options(Some(logs.options.clone().into_iter().collect()))
            .build()
            .map_err(|e| built("logConfiguration", e))?;
        builder = builder.log_configuration(logs);
    }
    Ok(builder.build())
}
