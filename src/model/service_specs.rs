//! Specs of the services on top of the network: load balancers, IAM roles, compute, database.

use std::collections::BTreeSet;

use serde::Serialize;

use super::Ref;

/// A classic Elastic Load Balancer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClassicLoadBalancerSpec {
    pub name: String,
    pub subnets: BTreeSet<Ref>,
    pub security_groups: BTreeSet<Ref>,
    pub listener_port: u16,
    pub instance_port: u16,
    /// `HTTP:8000/healthcheck`.
    pub health_check_target: String,
    pub cross_zone: bool,
}

/// An Application Load Balancer (internet-facing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadBalancerSpec {
    pub name: String,
    pub subnets: BTreeSet<Ref>,
    pub security_groups: BTreeSet<Ref>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetGroupSpec {
    pub name: String,
    pub vpc: Ref,
    pub port: u16,
    /// `instance` for EC2, `ip` for Fargate tasks.
    pub target_type: String,
    pub health_check_path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListenerSpec {
    pub load_balancer: Ref,
    pub port: u16,
    pub target_group: Ref,
}

/// An IAM role assumable by one AWS service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleSpec {
    pub name: String,
    /// `/deployer/<env>/`: scopes discovery to one ListRoles call.
    pub path: String,
    /// e.g. `ecs-tasks.amazonaws.com`.
    pub trusted_service: String,
    pub managed_policies: BTreeSet<String>,
    /// The inline policy document, canonical JSON.
    pub inline_policy: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceProfileSpec {
    pub name: String,
    pub path: String,
    pub role: Ref,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LaunchTemplateSpec {
    pub name: String,
    pub image_id: String,
    pub instance_type: String,
    pub security_groups: BTreeSet<Ref>,
    pub instance_profile: Ref,
    /// Rendered from templates/user-data.sh.tera; carries no secret.
    pub user_data: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AutoScalingGroupSpec {
    pub name: String,
    pub launch_template: Ref,
    /// Hash of the launch template's spec: when it changes the group rolls its instances.
    pub template_version: String,
    pub min: u32,
    pub max: u32,
    pub desired: u32,
    pub subnets: BTreeSet<Ref>,
    pub target_groups: BTreeSet<Ref>,
    pub classic_load_balancers: BTreeSet<Ref>,
}

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
    pub execution_role: Ref,
    /// The role the API itself runs as (it calls the load-balancing APIs).
    pub task_role: Ref,
    /// Rendered from templates/task-definition.json.tera, canonical JSON. Empty when observed:
    /// ECS echoes it back with every default filled in, so `digest` stands for it.
    pub container_definitions: String,
    /// Short hash of `container_definitions`, recorded in the `deployer:digest` tag.
    pub digest: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EcsServiceSpec {
    pub name: String,
    pub cluster: Ref,
    pub task_definition: Ref,
    pub desired: u32,
    pub subnets: BTreeSet<Ref>,
    pub security_groups: BTreeSet<Ref>,
    pub target_group: Option<Ref>,
    pub classic_load_balancer: Option<Ref>,
    pub container_name: String,
    pub container_port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DbSubnetGroupSpec {
    pub name: String,
    pub subnets: BTreeSet<Ref>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DbClusterSpec {
    pub identifier: String,
    pub engine: String,
    pub engine_version: String,
    pub subnet_group: Ref,
    pub security_groups: BTreeSet<Ref>,
    pub storage_encrypted: bool,
    pub deletion_protection: bool,
    pub backup_retention_days: u8,
    pub master_username: String,
    pub database_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DbInstanceSpec {
    pub identifier: String,
    pub cluster: Ref,
    pub instance_class: String,
    pub engine: String,
}
