//! Specs of the services on top of the network: load balancers, IAM roles, compute, database.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::Ref;
use super::spec::{Attribute, Reference, ResourceSpec};
use super::tags::{TAG_DIGEST, TAG_FINAL_SNAPSHOT};

/// A classic Elastic Load Balancer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClassicLoadBalancerSpec {
    pub name: String,
    pub subnets: BTreeSet<Ref>,
    pub security_groups: BTreeSet<Ref>,
    pub listener_port: u16,
    pub instance_port: u16,
    /// With HTTPS: the ACM certificate of the (only) listener, and its TLS policy.
    pub certificate: Option<String>,
    pub ssl_policy: Option<String>,
    /// `HTTP:8000/healthcheck`.
    pub health_check_target: String,
    pub health_check: HealthCheck,
    pub cross_zone: bool,
    /// Seconds an instance leaving keeps its requests (connection draining; 0: off).
    pub connection_draining: u16,
    /// The bucket it writes access logs to; `None`: no access logs.
    pub access_logs: Option<Ref>,
}

/// An Application Load Balancer (internet-facing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadBalancerSpec {
    pub name: String,
    pub subnets: BTreeSet<Ref>,
    pub security_groups: BTreeSet<Ref>,
    /// Drop headers whose names are not valid HTTP (request smuggling through odd headers).
    pub drop_invalid_header_fields: bool,
    /// How the ALB treats ambiguous requests (HTTP desync): `strictest` refuses them all.
    pub desync_mitigation_mode: String,
    /// Set in protected environments: AWS refuses to delete the load balancer.
    pub deletion_protection: bool,
    /// The bucket it writes access logs to; `None`: no access logs.
    pub access_logs: Option<Ref>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetGroupSpec {
    pub name: String,
    pub vpc: Ref,
    pub port: u16,
    /// `instance` for EC2, `ip` for Fargate tasks.
    pub target_type: String,
    pub health_check_path: String,
    pub health_check: HealthCheck,
    /// Seconds a deregistered target keeps its requests (`deregistration_delay.timeout_seconds`).
    pub deregistration_delay: u16,
}

/// How a load balancer checks its targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HealthCheck {
    pub interval_seconds: u16,
    pub timeout_seconds: u16,
    pub healthy_threshold: u16,
    pub unhealthy_threshold: u16,
}

impl std::fmt::Display for HealthCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "every {} s, {} s timeout, in after {}, out after {}",
            self.interval_seconds, self.timeout_seconds, self.healthy_threshold, self.unhealthy_threshold
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListenerSpec {
    pub load_balancer: Ref,
    pub port: u16,
    /// `HTTP`, or `HTTPS` with a certificate and a TLS policy.
    pub protocol: String,
    pub certificate: Option<String>,
    pub ssl_policy: Option<String>,
    pub action: ListenerAction,
}

/// What a listener does with a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ListenerAction {
    Forward(Ref),
    /// A permanent redirect to HTTPS on this port (the same host, path and query).
    RedirectToHttps(u16),
}

impl std::fmt::Display for ListenerAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Forward(target) => write!(f, "forward to {target}"),
            Self::RedirectToHttps(port) => write!(f, "redirect (301) to HTTPS on {port}"),
        }
    }
}

/// The environment's container registry: an ECR repository for the API's images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepositorySpec {
    pub name: String,
    pub scan_on_push: bool,
    /// A pushed tag can never point at other content, so a tag in history means one image.
    pub immutable_tags: bool,
    /// `AES256` (S3-managed keys); AWS cannot change it after creation.
    pub encryption: String,
    /// The lifecycle policy expires all but this many most recent images.
    pub keep_images: u16,
    /// The repository policy, canonical JSON; empty: none. deployer wants none: without one only
    /// the account's own principals whose IAM policies allow it may pull or push (another
    /// account needs a grant here), so any policy found is someone else's and is removed.
    pub policy: String,
}

/// The S3 bucket a load balancer writes its access logs to: private, encrypted with
/// S3-managed keys (the only kind ELB delivers to), each file expired after `expiration_days`,
/// writable only by the region's ELB log delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogBucketSpec {
    /// Bucket names are global: `deployer-<env>-logs-<account>-<region>`.
    pub name: String,
    /// Days S3 keeps each log file (a lifecycle rule).
    pub expiration_days: u16,
    /// `AES256`.
    pub encryption: String,
    /// All four public access blocks on.
    pub block_public_access: bool,
    /// The bucket policy, canonical JSON.
    pub policy: String,
}

impl ResourceSpec for LogBucketSpec {
    fn physical_name(&self) -> Option<&str> {
        Some(&self.name)
    }

    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("name", &self.name, true),
            Attribute::scalar("expiration_days", self.expiration_days, false),
            Attribute::scalar("encryption", &self.encryption, false),
            Attribute::scalar("block_public_access", self.block_public_access, false),
            Attribute::scalar("policy", &self.policy, false),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        Vec::new()
    }
}

/// The CloudWatch Logs group the API's containers write to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogGroupSpec {
    pub name: String,
    /// Days CloudWatch Logs keeps each event.
    pub retention_days: u16,
}

impl ResourceSpec for LogGroupSpec {
    fn physical_name(&self) -> Option<&str> {
        Some(&self.name)
    }

    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("name", &self.name, true),
            Attribute::scalar("retention_days", self.retention_days, false),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        Vec::new()
    }
}

impl RepositorySpec {
    /// The lifecycle policy document for `keep_images`, canonical JSON.
    pub fn lifecycle_policy(&self) -> String {
        serde_json::json!({
            "rules": [{
                "rulePriority": 1,
                "description": format!("keep the {} most recent images", self.keep_images),
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": self.keep_images
                },
                "action": {"type": "expire"}
            }]
        })
        .to_string()
    }

    /// The number of images a lifecycle policy keeps, when it is the one `lifecycle_policy`
    /// writes; anything else reads as 0, which no desired spec has, so the plan replaces it.
    pub fn kept_by(policy: &str) -> u16 {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(policy) else {
            return 0;
        };
        let rules = value["rules"].as_array().map_or(&[][..], Vec::as_slice);
        match rules {
            [rule]
                if rule["selection"]["tagStatus"] == "any"
                    && rule["selection"]["countType"] == "imageCountMoreThan"
                    && rule["action"]["type"] == "expire" =>
            {
                rule["selection"]["countNumber"]
                    .as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                    .unwrap_or(0)
            }
            _ => 0,
        }
    }
}

/// An IAM role assumable by one AWS service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleSpec {
    pub name: String,
    /// `/deployer/<env>/`: scopes discovery to one ListRoles call.
    pub path: String,
    /// The whole trust (assume-role) policy, canonical JSON: which service may assume the role,
    /// on what conditions, and nobody else (a second statement is drift).
    pub trust_policy: String,
    pub managed_policies: BTreeSet<String>,
    /// deployer's inline policy (named `deployer`), canonical JSON.
    pub inline_policy: String,
    /// Every other inline policy on the role, by name, canonical JSON: never deployer's, so
    /// never wanted; found, each is planned for deletion.
    pub other_inline_policies: BTreeMap<String, String>,
}

impl RoleSpec {
    /// The other inline policies as one value: `(none)`, or a JSON object of name → document
    /// (shown as a line diff, as policies are, so a reviewer reads what is removed).
    fn other_inline_policies_value(&self) -> String {
        if self.other_inline_policies.is_empty() {
            return NONE.to_owned();
        }
        let documents: serde_json::Map<String, serde_json::Value> = self
            .other_inline_policies
            .iter()
            .map(|(name, document)| {
                let value = serde_json::from_str(document).unwrap_or_else(|_| document.clone().into());
                (name.clone(), value)
            })
            .collect();
        serde_json::Value::Object(documents).to_string()
    }
}

const NONE: &str = "(none)";

/// A resource policy as an attribute: the document, or `(none)`.
fn document_or_none(document: &str) -> String {
    if document.is_empty() {
        NONE.to_owned()
    } else {
        document.to_owned()
    }
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
    /// The container image the instances run (the user data pulls it): its own attribute, so a
    /// reviewer sees which image changes, not only that a script did.
    pub image: String,
    /// Rendered from templates/user-data.sh.tera; carries no secret. Shown whole, and changed
    /// as a line diff: it runs as root at boot.
    pub user_data: String,
    /// The root volume, when the template maps one (deployer always does).
    pub root_volume: Option<RootVolume>,
    /// Where the container logs (Docker's awslogs driver): it must exist before an instance
    /// boots.
    pub log_group: Ref,
}

/// An instance's root volume, as the launch template maps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RootVolume {
    /// The AMI's root device (`/dev/xvda` on Amazon Linux).
    pub device: String,
    pub size_gb: u32,
    pub volume_type: String,
    pub encrypted: bool,
}

impl std::fmt::Display for RootVolume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let encryption = if self.encrypted { "encrypted" } else { "NOT encrypted" };
        write!(
            f,
            "{} {} GiB {}, {encryption}",
            self.device, self.size_gb, self.volume_type
        )
    }
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
    /// A scaling policy moves `desired` between min and max: it is set at creation only.
    pub scaled: bool,
    pub subnets: BTreeSet<Ref>,
    pub target_groups: BTreeSet<Ref>,
    pub classic_load_balancers: BTreeSet<Ref>,
    /// Seconds the group ignores failing load balancer checks of an instance just launched.
    pub health_check_grace_seconds: u16,
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
    /// Where it is created: instances go round-robin over the environment's zones, so losing
    /// one zone leaves a reader to promote. Not compared: AWS cannot move an instance, and an
    /// instance placed before deployer chose zones is not worth a failover.
    pub availability_zone: String,
}

impl ResourceSpec for ClassicLoadBalancerSpec {
    fn physical_name(&self) -> Option<&str> {
        Some(&self.name)
    }

    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("name", &self.name, true),
            Attribute::set("subnets", &self.subnets),
            Attribute::set("security_groups", &self.security_groups),
            Attribute::scalar(
                "listener",
                match &self.certificate {
                    Some(certificate) => format!(
                        "HTTPS {} → {} (certificate {certificate})",
                        self.listener_port, self.instance_port
                    ),
                    None => format!("HTTP {} → {}", self.listener_port, self.instance_port),
                },
                false,
            ),
            Attribute::scalar(
                "ssl_policy",
                self.ssl_policy.clone().unwrap_or_else(|| "(none)".to_owned()),
                false,
            ),
            Attribute::scalar(
                "health_check",
                format!("{} {}", self.health_check_target, self.health_check),
                false,
            ),
            Attribute::scalar("cross_zone", self.cross_zone, false),
            Attribute::scalar("connection_draining", self.connection_draining, false),
            Attribute::optional("access_logs", self.access_logs.as_ref(), false),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        Reference::weak_all("subnets", &self.subnets)
            .chain(Reference::weak_all("security_groups", &self.security_groups))
            .chain(Reference::weak_all("access_logs", &self.access_logs))
            .collect()
    }
}

impl ResourceSpec for LoadBalancerSpec {
    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("name", &self.name, true),
            Attribute::set("subnets", &self.subnets),
            Attribute::set("security_groups", &self.security_groups),
            Attribute::scalar("drop_invalid_header_fields", self.drop_invalid_header_fields, false),
            Attribute::scalar("desync_mitigation_mode", &self.desync_mitigation_mode, false),
            Attribute::protection("deletion_protection", self.deletion_protection),
            Attribute::optional("access_logs", self.access_logs.as_ref(), false),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        Reference::weak_all("subnets", &self.subnets)
            .chain(Reference::weak_all("security_groups", &self.security_groups))
            .chain(Reference::weak_all("access_logs", &self.access_logs))
            .collect()
    }
}

impl ResourceSpec for TargetGroupSpec {
    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("name", &self.name, true),
            Attribute::scalar("vpc", &self.vpc, true),
            Attribute::scalar("port", self.port, true),
            Attribute::scalar("target_type", &self.target_type, true),
            Attribute::scalar("health_check_path", &self.health_check_path, false),
            Attribute::scalar("health_check", self.health_check, false),
            Attribute::scalar("deregistration_delay", self.deregistration_delay, false),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        vec![Reference::strong("vpc", &self.vpc)]
    }

    fn incarnation_name(&self) -> Option<&str> {
        Some(&self.name)
    }
}

impl ResourceSpec for ListenerSpec {
    fn attributes(&self) -> Vec<Attribute> {
        let none = || "(none)".to_owned();
        vec![
            Attribute::scalar("load_balancer", &self.load_balancer, true),
            Attribute::scalar("port", self.port, false),
            Attribute::scalar("protocol", &self.protocol, false),
            Attribute::scalar("certificate", self.certificate.clone().unwrap_or_else(none), false),
            Attribute::scalar("ssl_policy", self.ssl_policy.clone().unwrap_or_else(none), false),
            Attribute::scalar("action", &self.action, false),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        let mut references = vec![Reference::strong("load_balancer", &self.load_balancer)];
        if let ListenerAction::Forward(target) = &self.action {
            references.push(Reference::weak("action", target));
        }
        references
    }
}

impl ResourceSpec for RoleSpec {
    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("name", &self.name, true),
            Attribute::scalar("path", &self.path, true),
            Attribute::scalar("trust_policy", &self.trust_policy, false),
            Attribute::set("managed_policies", &self.managed_policies),
            Attribute::scalar("inline_policy", &self.inline_policy, false),
            Attribute::scalar("other_inline_policies", self.other_inline_policies_value(), false),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        Vec::new()
    }
}

impl ResourceSpec for InstanceProfileSpec {
    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("name", &self.name, true),
            Attribute::scalar("path", &self.path, true),
            Attribute::scalar("role", &self.role, false),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        vec![Reference::weak("role", &self.role)]
    }
}

impl ResourceSpec for LaunchTemplateSpec {
    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("name", &self.name, true),
            Attribute::scalar("image_id", &self.image_id, false),
            Attribute::scalar("instance_type", &self.instance_type, false),
            Attribute::set("security_groups", &self.security_groups),
            Attribute::scalar("instance_profile", &self.instance_profile, false),
            Attribute::scalar("image", &self.image, false),
            Attribute::scalar("user_data", &self.user_data, false),
            Attribute::scalar(
                "root_volume",
                self.root_volume
                    .as_ref()
                    .map_or_else(|| "(the image's default)".to_owned(), ToString::to_string),
                false,
            ),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        let mut refs: Vec<_> = Reference::weak_all("security_groups", &self.security_groups).collect();
        refs.push(Reference::weak("instance_profile", &self.instance_profile));
        refs.push(Reference::weak("log_group", &self.log_group));
        refs
    }
}

/// A desired count is the file's to keep, unless a scaling policy owns it: then a count the
/// autoscaler chose is never drift, and an apply never resets it.
fn desired_count(desired: u32, scaled: bool) -> Attribute {
    if scaled {
        Attribute::initial("desired", desired)
    } else {
        Attribute::scalar("desired", desired, false)
    }
}

impl ResourceSpec for AutoScalingGroupSpec {
    fn physical_name(&self) -> Option<&str> {
        Some(&self.name)
    }

    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("name", &self.name, true),
            Attribute::scalar(
                "launch_template",
                format!("{} ({})", self.launch_template, self.template_version),
                false,
            ),
            Attribute::scalar("min", self.min, false),
            Attribute::scalar("max", self.max, false),
            desired_count(self.desired, self.scaled),
            Attribute::set("subnets", &self.subnets),
            Attribute::set("target_groups", &self.target_groups),
            Attribute::set("classic_load_balancers", &self.classic_load_balancers),
            Attribute::scalar("health_check_grace_seconds", self.health_check_grace_seconds, false),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        let mut refs = vec![Reference::weak("launch_template", &self.launch_template)];
        refs.extend(Reference::weak_all("subnets", &self.subnets));
        refs.extend(Reference::weak_all("target_groups", &self.target_groups));
        refs.extend(Reference::weak_all(
            "classic_load_balancers",
            &self.classic_load_balancers,
        ));
        refs
    }

    fn own_tags(&self, _protect: bool) -> Vec<(&'static str, String)> {
        vec![(TAG_DIGEST, self.template_version.clone())]
    }
}

impl ResourceSpec for RepositorySpec {
    fn physical_name(&self) -> Option<&str> {
        Some(&self.name)
    }

    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("name", &self.name, true),
            Attribute::scalar("encryption", &self.encryption, true),
            Attribute::scalar("scan_on_push", self.scan_on_push, false),
            Attribute::scalar("immutable_tags", self.immutable_tags, false),
            Attribute::scalar("keep_images", self.keep_images, false),
            Attribute::scalar("policy", document_or_none(&self.policy), false),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        Vec::new()
    }
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

impl ResourceSpec for EcsServiceSpec {
    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("name", &self.name, true),
            Attribute::scalar("cluster", &self.cluster, true),
            Attribute::scalar("task_definition", &self.task_definition, false),
            desired_count(self.desired, self.scaled),
            Attribute::set("subnets", &self.subnets),
            Attribute::set("security_groups", &self.security_groups),
            Attribute::optional("target_group", self.target_group.as_ref(), true),
            Attribute::optional("classic_load_balancer", self.classic_load_balancer.as_ref(), true),
            Attribute::scalar(
                "container",
                format!("{}:{}", self.container_name, self.container_port),
                true,
            ),
            Attribute::reported("health_check_grace_seconds", self.health_check_grace_seconds),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        let mut refs = vec![
            Reference::strong("cluster", &self.cluster),
            Reference::weak("task_definition", &self.task_definition),
        ];
        refs.extend(Reference::weak_all("subnets", &self.subnets));
        refs.extend(Reference::weak_all("security_groups", &self.security_groups));
        refs.extend(self.target_group.iter().map(|r| Reference::strong("target_group", r)));
        refs.extend(
            self.classic_load_balancer
                .iter()
                .map(|r| Reference::strong("classic_load_balancer", r)),
        );
        refs
    }
}

impl ResourceSpec for DbSubnetGroupSpec {
    fn physical_name(&self) -> Option<&str> {
        Some(&self.name)
    }

    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("name", &self.name, true),
            Attribute::set("subnets", &self.subnets),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        Reference::weak_all("subnets", &self.subnets).collect()
    }
}

impl ResourceSpec for DbClusterSpec {
    fn physical_name(&self) -> Option<&str> {
        Some(&self.identifier)
    }

    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("identifier", &self.identifier, true),
            Attribute::scalar("engine", &self.engine, true),
            Attribute::version("engine_version", &self.engine_version),
            Attribute::scalar("subnet_group", &self.subnet_group, true),
            Attribute::set("security_groups", &self.security_groups),
            Attribute::scalar("storage_encrypted", self.storage_encrypted, true),
            Attribute::protection("deletion_protection", self.deletion_protection),
            Attribute::scalar("backup_retention_days", self.backup_retention_days, false),
            Attribute::scalar("master_username", &self.master_username, true),
            Attribute::scalar("database_name", &self.database_name, true),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        let mut refs = vec![Reference::strong("subnet_group", &self.subnet_group)];
        refs.extend(Reference::weak_all("security_groups", &self.security_groups));
        refs
    }

    /// Production-like environments keep a final snapshot when the cluster goes.
    fn own_tags(&self, protect: bool) -> Vec<(&'static str, String)> {
        if protect || self.deletion_protection {
            vec![(TAG_FINAL_SNAPSHOT, "true".to_owned())]
        } else {
            Vec::new()
        }
    }
}

impl ResourceSpec for DbInstanceSpec {
    fn physical_name(&self) -> Option<&str> {
        Some(&self.identifier)
    }

    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("identifier", &self.identifier, true),
            Attribute::scalar("cluster", &self.cluster, true),
            Attribute::scalar("instance_class", &self.instance_class, false),
            Attribute::scalar("engine", &self.engine, true),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        vec![Reference::strong("cluster", &self.cluster)]
    }
}

#[cfg(test)]
mod tests {
    use super::RepositorySpec;

    #[test]
    fn lifecycle_policy_reads_back_as_what_it_keeps() {
        let spec = RepositorySpec {
            name: "deployer/staging/api".into(),
            scan_on_push: true,
            immutable_tags: true,
            encryption: "AES256".into(),
            keep_images: 30,
            policy: String::new(),
        };
        assert_eq!(RepositorySpec::kept_by(&spec.lifecycle_policy()), 30);
        // Someone else's policy (here: untagged images only) is not ours: the plan fixes it.
        let other = spec.lifecycle_policy().replace("\"any\"", "\"untagged\"");
        assert_eq!(RepositorySpec::kept_by(&other), 0);
        assert_eq!(RepositorySpec::kept_by("not json"), 0);
    }
}
