//! The ECS specs: cluster, task definition, service.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::model::Ref;
use crate::model::spec::{Attribute, Reference, ResourceSpec, desired_count};
use crate::model::tags::TAG_DIGEST;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EcsClusterSpec {
    pub name: String,
}

/// A Fargate task definition; its revisions are immutable, so any change is a new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskDefinitionSpec {
    pub family: String,
    /// The container image, shown on its own so a plan says what a new revision changes.
    pub image: String,
    pub cpu: u32,
    pub memory: u32,
    /// `X86_64` or `ARM64` (the runtime platform; AWS's default, X86_64, when it reports none).
    pub architecture: String,
    pub execution_role: Ref,
    /// The role the API itself runs as (it calls the load-balancing APIs).
    pub task_role: Ref,
    /// Rendered from templates/task-definition.json.tera, canonical JSON. Empty when observed:
    /// ECS echoes it back with every default filled in, so `digest` stands for it.
    pub container_definitions: String,
    /// Short hash of `container_definitions`, recorded in the `deployer:digest` tag.
    pub digest: String,
    /// Where the containers log (awslogs): it must exist before a task starts.
    pub log_group: Ref,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EcsServiceSpec {
    pub name: String,
    pub cluster: Ref,
    pub task_definition: Ref,
    pub desired: u32,
    /// Application Auto Scaling moves `desired` between min and max: set at creation only.
    pub scaled: bool,
    pub subnets: BTreeSet<Ref>,
    pub security_groups: BTreeSet<Ref>,
    pub target_group: Option<Ref>,
    pub classic_load_balancer: Option<Ref>,
    pub container_name: String,
    pub container_port: u16,
    /// Seconds ECS ignores failing load balancer checks of a task just started (None when
    /// observed and not reported).
    pub health_check_grace_seconds: Option<u16>,
}

impl ResourceSpec for EcsClusterSpec {
    fn attributes(&self) -> Vec<Attribute> {
        vec![Attribute::scalar("name", &self.name, true)]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        Vec::new()
    }
}

impl ResourceSpec for TaskDefinitionSpec {
    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("family", &self.family, true),
            Attribute::scalar("image", &self.image, true),
            Attribute::scalar("cpu", self.cpu, true),
            Attribute::scalar("memory", self.memory, true),
            Attribute::scalar("architecture", &self.architecture, true),
            Attribute::scalar("execution_role", &self.execution_role, true),
            Attribute::scalar("task_role", &self.task_role, true),
            Attribute::scalar("container_definitions", &self.digest, true),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        vec![
            Reference::weak("log_group", &self.log_group),
            Reference::strong("execution_role", &self.execution_role),
            Reference::strong("task_role", &self.task_role),
        ]
    }

    fn own_tags(&self, _protect: bool) -> Vec<(&'static str, String)> {
        vec![(TAG_DIGEST, self.digest.clone())]
    }
}

/// The attribute names `aws/` acts on, spelled once.
impl EcsServiceSpec {
    pub const DESIRED: &'static str = crate::model::spec::DESIRED;
    pub const HEALTH_CHECK_GRACE_SECONDS: &'static str = "health_check_grace_seconds";
    pub const SECURITY_GROUPS: &'static str = "security_groups";
    pub const SUBNETS: &'static str = "subnets";
    pub const TASK_DEFINITION: &'static str = "task_definition";
}

impl ResourceSpec for EcsServiceSpec {
    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("name", &self.name, true),
            Attribute::scalar("cluster", &self.cluster, true),
            Attribute::scalar(Self::TASK_DEFINITION, &self.task_definition, false),
            desired_count(self.desired, self.scaled),
            Attribute::set(Self::SUBNETS, &self.subnets),
            Attribute::set(Self::SECURITY_GROUPS, &self.security_groups),
            Attribute::optional("target_group", self.target_group.as_ref(), true),
            Attribute::optional("classic_load_balancer", self.classic_load_balancer.as_ref(), true),
            Attribute::scalar(
                "container",
                format!("{}:{}", self.container_name, self.container_port),
                true,
            ),
            Attribute::reported(Self::HEALTH_CHECK_GRACE_SECONDS, self.health_check_grace_seconds),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        let mut refs = vec![
            Reference::strong("cluster", &self.cluster),
            Reference::weak(Self::TASK_DEFINITION, &self.task_definition),
        ];
        refs.extend(Reference::weak_all(Self::SUBNETS, &self.subnets));
        refs.extend(Reference::weak_all(Self::SECURITY_GROUPS, &self.security_groups));
        refs.extend(self.target_group.iter().map(|r| Reference::strong("target_group", r)));
        refs.extend(
            self.classic_load_balancer
                .iter()
                .map(|r| Reference::strong("classic_load_balancer", r)),
        );
        refs
    }
}
