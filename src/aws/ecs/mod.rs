//! The ECS adapter: clusters, Fargate task definitions and services, one file each, all
//! named by ARN.

mod cluster;
mod service;
mod task_definition;

pub(crate) use cluster::Clusters;
pub(crate) use service::Services;
pub(crate) use task_definition::TaskDefinitions;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::Tag;

use super::error::{AwsError, Classify};
use super::permissions::{Arn, Call, LIST, On, read, write};
use crate::model::Tags;

#[derive(Debug, Clone)]
pub struct Ecs {
    client: Client,
}

impl Ecs {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: crate::aws::classifier::client!(aws_sdk_ecs, config),
        }
    }

    /// The newest revisions of task definition `family`, newest first; `current` is the one
    /// the service runs (its ARN).
    pub async fn revisions(&self, family: &str, current: &str) -> Result<Vec<super::Revision>, AwsError> {
        // deployer deregisters a revision it replaces (INACTIVE); AWS keeps it, and it is
        // history all the same.
        let mut arns: Vec<(i32, String)> = Vec::new();
        for status in [
            aws_sdk_ecs::types::TaskDefinitionStatus::Active,
            aws_sdk_ecs::types::TaskDefinitionStatus::Inactive,
        ] {
            let listed = self
                .client
                .list_task_definitions()
                .family_prefix(family)
                .status(status)
                .sort(aws_sdk_ecs::types::SortOrder::Desc)
                .max_results(super::status::REVISIONS)
                .send()
                .await
                .op("ListTaskDefinitions")?;
            for arn in listed.task_definition_arns() {
                let revision = arn.rsplit(':').next().and_then(|r| r.parse().ok()).unwrap_or(0);
                arns.push((revision, arn.clone()));
            }
        }
        arns.sort_by_key(|(revision, _)| std::cmp::Reverse(*revision));
        arns.truncate(super::status::REVISIONS as usize);
        let mut revisions = Vec::new();
        for (_, arn) in &arns {
            let output = self
                .client
                .describe_task_definition()
                .task_definition(arn)
                .send()
                .await
                .op("DescribeTaskDefinition")?;
            let Some(definition) = output.task_definition() else {
                continue;
            };
            revisions.push(super::Revision {
                revision: format!("{}:{}", definition.family().unwrap_or(family), definition.revision()),
                created_at: definition
                    .registered_at()
                    .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
                    .unwrap_or_default(),
                created_by: definition.registered_by().map(str::to_owned),
                image: definition
                    .container_definitions()
                    .first()
                    .and_then(|c| c.image())
                    .unwrap_or_default()
                    .to_owned(),
                current: arn == current,
            });
        }
        Ok(revisions)
    }

    /// The first (deployer's only) container of a task definition.
    pub(crate) async fn first_container(
        &self,
        task_definition: &str,
    ) -> Result<Option<aws_sdk_ecs::types::ContainerDefinition>, AwsError> {
        let output = self
            .client
            .describe_task_definition()
            .task_definition(task_definition)
            .send()
            .await
            .op("DescribeTaskDefinition")?;
        Ok(output
            .task_definition
            .and_then(|d| d.container_definitions)
            .and_then(|containers| containers.into_iter().next()))
    }

    /// The service `arn` as it runs now, with the image its PRIMARY deployment runs.
    pub async fn service_status(&self, cluster: &str, arn: &str) -> Result<Option<super::ComputeStatus>, AwsError> {
        let output = self
            .client
            .describe_services()
            .cluster(cluster)
            .services(arn)
            .send()
            .await
            .op("DescribeServices")?;
        let Some(service) = output.services().first() else {
            return Ok(None);
        };
        let primary = service.deployments().iter().find(|d| d.status() == Some("PRIMARY"));
        let task_definition = primary
            .and_then(|d| d.task_definition())
            .or(service.task_definition())
            .unwrap_or_default();
        let image = if task_definition.is_empty() {
            String::new()
        } else {
            self.first_container(task_definition)
                .await?
                .and_then(|c| c.image)
                .unwrap_or_default()
        };
        let count = |n: i32| u32::try_from(n).unwrap_or(0);
        Ok(Some(super::ComputeStatus {
            name: service.service_name().unwrap_or_default().to_owned(),
            desired: count(service.desired_count()),
            running: count(service.running_count()),
            pending: count(service.pending_count()),
            deployment: primary.and_then(|d| d.rollout_state()).map(|s| s.as_str().to_owned()),
            revision: image,
            events: service
                .events()
                .iter()
                .take(super::status::EVENTS)
                .filter_map(|e| e.message().map(str::to_owned))
                .collect(),
        }))
    }
}

// ECS tags clusters, services and task definitions alike, by ARN.
crate::aws::tags::tag_api!(
    Ecs,
    resource_arn,
    tag_resource("TagResource", tags => sdk_tags(tags)),
    untag_resource("UntagResource")
);

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

/// What the ECS adapters call (see `aws::permissions`).
pub(crate) const CALLS: &[Call] = &[
    read("ecs:ListClusters", On::Anything(LIST)),
    read("ecs:ListServices", On::Anything(LIST)),
    read("ecs:ListTasks", On::Anything(LIST)),
    read("ecs:ListTaskDefinitions", On::Anything(LIST)),
    read("ecs:ListTaskDefinitionFamilies", On::Anything(LIST)),
    read(
        "ecs:DescribeTaskDefinition",
        On::Anything("ECS gives DescribeTaskDefinition no resource-level permission"),
    ),
    read("ecs:DescribeClusters", On::Own(&[Arn::EcsCluster])),
    read("ecs:DescribeServices", On::Own(&[Arn::EcsService])),
    read("ecs:DescribeTasks", On::Own(&[Arn::EcsTask])),
    read(
        "ecs:ListTagsForResource",
        On::Own(&[Arn::EcsCluster, Arn::EcsService, Arn::TaskDefinition]),
    ),
    write("ecs:CreateCluster", On::Own(&[Arn::EcsCluster])),
    write("ecs:DeleteCluster", On::Own(&[Arn::EcsCluster])),
    write("ecs:CreateService", On::Own(&[Arn::EcsService])),
    write("ecs:UpdateService", On::Own(&[Arn::EcsService])),
    write("ecs:DeleteService", On::Own(&[Arn::EcsService])),
    write(
        "ecs:RegisterTaskDefinition",
        On::Anything("ECS gives RegisterTaskDefinition no resource-level permission"),
    ),
    write(
        "ecs:DeregisterTaskDefinition",
        On::Anything("ECS gives DeregisterTaskDefinition no resource-level permission"),
    ),
    write(
        "ecs:TagResource",
        On::Own(&[Arn::EcsCluster, Arn::EcsService, Arn::TaskDefinition]),
    ),
    write(
        "ecs:UntagResource",
        On::Own(&[Arn::EcsCluster, Arn::EcsService, Arn::TaskDefinition]),
    ),
];

/// What AWS checks on deployer's behalf: a task definition naming a task role and an execution
/// role passes them to ECS's tasks.
pub(crate) const IMPLIED: &[Call] = &[
    write("iam:PassRole", On::PassedTo(&["ecs-tasks.amazonaws.com"])),
    write("iam:CreateServiceLinkedRole", On::ServiceLinked(&["ecs.amazonaws.com"])),
];
