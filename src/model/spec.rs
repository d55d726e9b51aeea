//! What each kind of resource looks like, as comparable data. References to other resources
//! are `Ref`s: a logical id when the target is ours, the raw AWS id otherwise.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use super::Id;
pub use super::service_specs::*;

/// A reference from one resource to another.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ref {
    /// One of this environment's resources.
    Managed(Id),
    /// Something deployer does not manage (or a dangling id, like a deleted NAT's).
    External(String),
}

impl Ref {
    pub fn to(id: &str) -> Self {
        Self::Managed(Id::from(id))
    }

    pub fn managed(&self) -> Option<&Id> {
        match self {
            Self::Managed(id) => Some(id),
            Self::External(_) => None,
        }
    }
}

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Managed(id) => id.fmt(f),
            Self::External(physical) => physical.fmt(f),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Vpc,
    Subnet,
    InternetGateway,
    ElasticIp,
    NatGateway,
    RouteTable,
    SecurityGroup,
    SecurityGroupRules,
    ClassicLoadBalancer,
    LoadBalancer,
    TargetGroup,
    Listener,
    IamRole,
    InstanceProfile,
    LaunchTemplate,
    AutoScalingGroup,
    EcsCluster,
    TaskDefinition,
    EcsService,
    DbSubnetGroup,
    DbCluster,
    DbInstance,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Vpc => "vpc",
            Self::Subnet => "subnet",
            Self::InternetGateway => "internet_gateway",
            Self::ElasticIp => "elastic_ip",
            Self::NatGateway => "nat_gateway",
            Self::RouteTable => "route_table",
            Self::SecurityGroup => "security_group",
            Self::SecurityGroupRules => "security_group_rules",
            Self::ClassicLoadBalancer => "classic_load_balancer",
            Self::LoadBalancer => "load_balancer",
            Self::TargetGroup => "target_group",
            Self::Listener => "listener",
            Self::IamRole => "iam_role",
            Self::InstanceProfile => "instance_profile",
            Self::LaunchTemplate => "launch_template",
            Self::AutoScalingGroup => "auto_scaling_group",
            Self::EcsCluster => "ecs_cluster",
            Self::TaskDefinition => "task_definition",
            Self::EcsService => "ecs_service",
            Self::DbSubnetGroup => "db_subnet_group",
            Self::DbCluster => "db_cluster",
            Self::DbInstance => "db_instance",
        }
    }

    /// Whether AWS keeps tags on it. Security group rules live inside their group and are
    /// found through it.
    pub fn has_tags(self) -> bool {
        self != Self::SecurityGroupRules
    }

    /// How long the resource typically takes to become ready on real AWS, used to start the
    /// slowest chains first.
    pub fn typical_seconds(self) -> u32 {
        match self {
            Self::DbCluster | Self::DbInstance => 600,
            Self::AutoScalingGroup | Self::EcsService => 300,
            Self::LoadBalancer => 180,
            Self::NatGateway => 120,
            Self::InstanceProfile => 10,
            Self::ClassicLoadBalancer | Self::IamRole | Self::EcsCluster => 5,
            Self::Vpc | Self::Subnet | Self::InternetGateway | Self::ElasticIp => 2,
            Self::TargetGroup | Self::Listener | Self::LaunchTemplate | Self::TaskDefinition | Self::DbSubnetGroup => 2,
            Self::RouteTable | Self::SecurityGroup | Self::SecurityGroupRules => 1,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VpcSpec {
    pub cidr: String,
    pub dns_support: bool,
    pub dns_hostnames: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubnetSpec {
    pub vpc: Ref,
    pub cidr: String,
    pub availability_zone: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InternetGatewaySpec {
    /// `None` when observed detached (a crash between create and attach).
    pub vpc: Option<Ref>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ElasticIpSpec {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NatGatewaySpec {
    pub subnet: Ref,
    pub elastic_ip: Ref,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteTarget {
    InternetGateway(Ref),
    NatGateway(Ref),
    /// A target deployer never creates (peering, transit gateway, …) or a blackhole.
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Route {
    pub destination: String,
    pub target: RouteTarget,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteTableSpec {
    pub vpc: Ref,
    pub routes: BTreeSet<Route>,
    pub subnets: BTreeSet<Ref>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecurityGroupSpec {
    pub vpc: Ref,
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Peer {
    Cidr(String),
    SecurityGroup(Ref),
}

/// One security group rule. `protocol` is `tcp`, `udp`, `icmp` or `-1` (all).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Rule {
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
    pub peer: Peer,
    pub description: String,
}

/// The rules of one security group, kept apart from the group so that groups referring to each
/// other (LB egress to app, app ingress from LB) can all exist before any rule names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecurityGroupRulesSpec {
    pub group: Ref,
    pub ingress: BTreeSet<Rule>,
    pub egress: BTreeSet<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Spec {
    Vpc(VpcSpec),
    Subnet(SubnetSpec),
    InternetGateway(InternetGatewaySpec),
    ElasticIp(ElasticIpSpec),
    NatGateway(NatGatewaySpec),
    RouteTable(RouteTableSpec),
    SecurityGroup(SecurityGroupSpec),
    SecurityGroupRules(SecurityGroupRulesSpec),
    ClassicLoadBalancer(ClassicLoadBalancerSpec),
    LoadBalancer(LoadBalancerSpec),
    TargetGroup(TargetGroupSpec),
    Listener(ListenerSpec),
    IamRole(RoleSpec),
    InstanceProfile(InstanceProfileSpec),
    LaunchTemplate(LaunchTemplateSpec),
    AutoScalingGroup(AutoScalingGroupSpec),
    EcsCluster(EcsClusterSpec),
    TaskDefinition(TaskDefinitionSpec),
    EcsService(EcsServiceSpec),
    DbSubnetGroup(DbSubnetGroupSpec),
    DbCluster(DbClusterSpec),
    DbInstance(DbInstanceSpec),
}

/// One comparable attribute of a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: &'static str,
    pub value: AttributeValue,
    /// Changing it means deleting the resource and creating a new one.
    pub forces_replacement: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    Scalar(String),
    Set(BTreeSet<String>),
}

/// A reference held by a spec, and whether the target's replacement forces this one's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference<'a> {
    pub attribute: &'static str,
    pub target: &'a Ref,
    pub forces_replacement: bool,
}

impl Spec {
    pub fn kind(&self) -> Kind {
        match self {
            Self::Vpc(_) => Kind::Vpc,
            Self::Subnet(_) => Kind::Subnet,
            Self::InternetGateway(_) => Kind::InternetGateway,
            Self::ElasticIp(_) => Kind::ElasticIp,
            Self::NatGateway(_) => Kind::NatGateway,
            Self::RouteTable(_) => Kind::RouteTable,
            Self::SecurityGroup(_) => Kind::SecurityGroup,
            Self::SecurityGroupRules(_) => Kind::SecurityGroupRules,
            Self::ClassicLoadBalancer(_) => Kind::ClassicLoadBalancer,
            Self::LoadBalancer(_) => Kind::LoadBalancer,
            Self::TargetGroup(_) => Kind::TargetGroup,
            Self::Listener(_) => Kind::Listener,
            Self::IamRole(_) => Kind::IamRole,
            Self::InstanceProfile(_) => Kind::InstanceProfile,
            Self::LaunchTemplate(_) => Kind::LaunchTemplate,
            Self::AutoScalingGroup(_) => Kind::AutoScalingGroup,
            Self::EcsCluster(_) => Kind::EcsCluster,
            Self::TaskDefinition(_) => Kind::TaskDefinition,
            Self::EcsService(_) => Kind::EcsService,
            Self::DbSubnetGroup(_) => Kind::DbSubnetGroup,
            Self::DbCluster(_) => Kind::DbCluster,
            Self::DbInstance(_) => Kind::DbInstance,
        }
    }

    /// The resources this one points at: they must exist before it and outlive it.
    pub fn references(&self) -> Vec<Reference<'_>> {
        let strong = |attribute, target| Reference {
            attribute,
            target,
            forces_replacement: true,
        };
        let weak = |attribute, target| Reference {
            attribute,
            target,
            forces_replacement: false,
        };
        match self {
            Self::Vpc(_) | Self::ElasticIp(_) | Self::IamRole(_) | Self::EcsCluster(_) => Vec::new(),
            Self::ClassicLoadBalancer(s) => s
                .subnets
                .iter()
                .map(|r| weak("subnets", r))
                .chain(s.security_groups.iter().map(|r| weak("security_groups", r)))
                .collect(),
            Self::LoadBalancer(s) => s
                .subnets
                .iter()
                .map(|r| weak("subnets", r))
                .chain(s.security_groups.iter().map(|r| weak("security_groups", r)))
                .collect(),
            Self::TargetGroup(s) => vec![strong("vpc", &s.vpc)],
            Self::Listener(s) => vec![
                strong("load_balancer", &s.load_balancer),
                weak("target_group", &s.target_group),
            ],
            Self::InstanceProfile(s) => vec![weak("role", &s.role)],
            Self::LaunchTemplate(s) => {
                let mut refs: Vec<_> = s.security_groups.iter().map(|r| weak("security_groups", r)).collect();
                refs.push(weak("instance_profile", &s.instance_profile));
                refs
            }
            Self::AutoScalingGroup(s) => {
                let mut refs = vec![weak("launch_template", &s.launch_template)];
                refs.extend(s.subnets.iter().map(|r| weak("subnets", r)));
                refs.extend(s.target_groups.iter().map(|r| weak("target_groups", r)));
                refs.extend(
                    s.classic_load_balancers
                        .iter()
                        .map(|r| weak("classic_load_balancers", r)),
                );
                refs
            }
            Self::TaskDefinition(s) => vec![
                strong("execution_role", &s.execution_role),
                strong("task_role", &s.task_role),
            ],
            Self::EcsService(s) => {
                let mut refs = vec![
                    strong("cluster", &s.cluster),
                    weak("task_definition", &s.task_definition),
                ];
                refs.extend(s.subnets.iter().map(|r| weak("subnets", r)));
                refs.extend(s.security_groups.iter().map(|r| weak("security_groups", r)));
                refs.extend(s.target_group.iter().map(|r| strong("target_group", r)));
                refs.extend(
                    s.classic_load_balancer
                        .iter()
                        .map(|r| strong("classic_load_balancer", r)),
                );
                refs
            }
            Self::DbSubnetGroup(s) => s.subnets.iter().map(|r| weak("subnets", r)).collect(),
            Self::DbCluster(s) => {
                let mut refs = vec![strong("subnet_group", &s.subnet_group)];
                refs.extend(s.security_groups.iter().map(|r| weak("security_groups", r)));
                refs
            }
            Self::DbInstance(s) => vec![strong("cluster", &s.cluster)],
            Self::Subnet(s) => vec![strong("vpc", &s.vpc)],
            Self::InternetGateway(s) => s.vpc.iter().map(|vpc| weak("vpc", vpc)).collect(),
            Self::NatGateway(s) => vec![strong("subnet", &s.subnet), strong("elastic_ip", &s.elastic_ip)],
            Self::RouteTable(s) => {
                let mut refs = vec![strong("vpc", &s.vpc)];
                refs.extend(s.routes.iter().filter_map(|route| match &route.target {
                    RouteTarget::InternetGateway(r) | RouteTarget::NatGateway(r) => Some(weak("routes", r)),
                    RouteTarget::Other(_) => None,
                }));
                refs.extend(s.subnets.iter().map(|subnet| weak("subnets", subnet)));
                refs
            }
            Self::SecurityGroup(s) => vec![strong("vpc", &s.vpc)],
            Self::SecurityGroupRules(s) => {
                let mut refs = vec![strong("group", &s.group)];
                refs.extend(s.ingress.iter().chain(&s.egress).filter_map(|rule| match &rule.peer {
                    Peer::SecurityGroup(group) => Some(weak("rules", group)),
                    Peer::Cidr(_) => None,
                }));
                refs
            }
        }
    }

    /// The attributes compared between desired and observed.
    pub fn attributes(&self) -> Vec<Attribute> {
        let scalar = |name, value: String, forces_replacement| Attribute {
            name,
            value: AttributeValue::Scalar(value),
            forces_replacement,
        };
        let set = |name, values: BTreeSet<String>| Attribute {
            name,
            value: AttributeValue::Set(values),
            forces_replacement: false,
        };
        let refs = |name, values: &BTreeSet<Ref>| set(name, values.iter().map(ToString::to_string).collect());
        let optional = |value: &Option<Ref>| value.as_ref().map_or_else(|| "(none)".to_owned(), ToString::to_string);
        match self {
            Self::ClassicLoadBalancer(s) => vec![
                scalar("name", s.name.clone(), true),
                refs("subnets", &s.subnets),
                refs("security_groups", &s.security_groups),
                scalar(
                    "listener",
                    format!("HTTP {} → {}", s.listener_port, s.instance_port),
                    false,
                ),
                scalar("health_check", s.health_check_target.clone(), false),
                scalar("cross_zone", s.cross_zone.to_string(), false),
            ],
            Self::LoadBalancer(s) => vec![
                scalar("name", s.name.clone(), true),
                refs("subnets", &s.subnets),
                refs("security_groups", &s.security_groups),
            ],
            Self::TargetGroup(s) => vec![
                scalar("name", s.name.clone(), true),
                scalar("vpc", s.vpc.to_string(), true),
                scalar("port", s.port.to_string(), true),
                scalar("target_type", s.target_type.clone(), true),
                scalar("health_check_path", s.health_check_path.clone(), false),
            ],
            Self::Listener(s) => vec![
                scalar("load_balancer", s.load_balancer.to_string(), true),
                scalar("port", s.port.to_string(), false),
                scalar("target_group", s.target_group.to_string(), false),
            ],
            Self::IamRole(s) => vec![
                scalar("name", s.name.clone(), true),
                scalar("path", s.path.clone(), true),
                scalar("trusted_service", s.trusted_service.clone(), false),
                set("managed_policies", s.managed_policies.clone()),
                scalar("inline_policy", s.inline_policy.clone(), false),
            ],
            Self::InstanceProfile(s) => vec![
                scalar("name", s.name.clone(), true),
                scalar("path", s.path.clone(), true),
                scalar("role", s.role.to_string(), false),
            ],
            Self::LaunchTemplate(s) => vec![
                scalar("name", s.name.clone(), true),
                scalar("image_id", s.image_id.clone(), false),
                scalar("instance_type", s.instance_type.clone(), false),
                refs("security_groups", &s.security_groups),
                scalar("instance_profile", s.instance_profile.to_string(), false),
                scalar("user_data", short_digest(&s.user_data), false),
            ],
            Self::AutoScalingGroup(s) => vec![
                scalar("name", s.name.clone(), true),
                scalar(
                    "launch_template",
                    format!("{} ({})", s.launch_template, s.template_version),
                    false,
                ),
                scalar("min", s.min.to_string(), false),
                scalar("max", s.max.to_string(), false),
                scalar("desired", s.desired.to_string(), false),
                refs("subnets", &s.subnets),
                refs("target_groups", &s.target_groups),
                refs("classic_load_balancers", &s.classic_load_balancers),
            ],
            Self::EcsCluster(s) => vec![scalar("name", s.name.clone(), true)],
            Self::TaskDefinition(s) => vec![
                scalar("family", s.family.clone(), true),
                scalar("image", s.image.clone(), true),
                scalar("cpu", s.cpu.to_string(), true),
                scalar("memory", s.memory.to_string(), true),
                scalar("execution_role", s.execution_role.to_string(), true),
                scalar("task_role", s.task_role.to_string(), true),
                scalar("container_definitions", s.digest.clone(), true),
            ],
            Self::EcsService(s) => vec![
                scalar("name", s.name.clone(), true),
                scalar("cluster", s.cluster.to_string(), true),
                scalar("task_definition", s.task_definition.to_string(), false),
                scalar("desired", s.desired.to_string(), false),
                refs("subnets", &s.subnets),
                refs("security_groups", &s.security_groups),
                scalar("target_group", optional(&s.target_group), true),
                scalar("classic_load_balancer", optional(&s.classic_load_balancer), true),
                scalar("container", format!("{}:{}", s.container_name, s.container_port), true),
            ],
            Self::DbSubnetGroup(s) => vec![scalar("name", s.name.clone(), true), refs("subnets", &s.subnets)],
            Self::DbCluster(s) => vec![
                scalar("identifier", s.identifier.clone(), true),
                scalar("engine", s.engine.clone(), true),
                scalar("engine_version", s.engine_version.clone(), false),
                scalar("subnet_group", s.subnet_group.to_string(), true),
                refs("security_groups", &s.security_groups),
                scalar("storage_encrypted", s.storage_encrypted.to_string(), true),
                scalar("deletion_protection", s.deletion_protection.to_string(), false),
                scalar("backup_retention_days", s.backup_retention_days.to_string(), false),
                scalar("master_username", s.master_username.clone(), true),
                scalar("database_name", s.database_name.clone(), true),
            ],
            Self::DbInstance(s) => vec![
                scalar("identifier", s.identifier.clone(), true),
                scalar("cluster", s.cluster.to_string(), true),
                scalar("instance_class", s.instance_class.clone(), false),
                scalar("engine", s.engine.clone(), true),
            ],
            Self::Vpc(s) => vec![
                scalar("cidr", s.cidr.clone(), true),
                scalar("dns_support", s.dns_support.to_string(), false),
                scalar("dns_hostnames", s.dns_hostnames.to_string(), false),
            ],
            Self::Subnet(s) => vec![
                scalar("vpc", s.vpc.to_string(), true),
                scalar("cidr", s.cidr.clone(), true),
                scalar("availability_zone", s.availability_zone.clone(), true),
            ],
            Self::InternetGateway(s) => vec![scalar(
                "vpc",
                s.vpc
                    .as_ref()
                    .map_or_else(|| "(detached)".to_owned(), ToString::to_string),
                false,
            )],
            Self::ElasticIp(_) => Vec::new(),
            Self::NatGateway(s) => vec![
                scalar("subnet", s.subnet.to_string(), true),
                scalar("elastic_ip", s.elastic_ip.to_string(), true),
            ],
            Self::RouteTable(s) => vec![
                scalar("vpc", s.vpc.to_string(), true),
                set("routes", s.routes.iter().map(ToString::to_string).collect()),
                set("subnets", s.subnets.iter().map(ToString::to_string).collect()),
            ],
            Self::SecurityGroup(s) => vec![
                scalar("vpc", s.vpc.to_string(), true),
                scalar("name", s.name.clone(), true),
                scalar("description", s.description.clone(), true),
            ],
            Self::SecurityGroupRules(s) => vec![
                scalar("group", s.group.to_string(), true),
                set("ingress", s.ingress.iter().map(ToString::to_string).collect()),
                set("egress", s.egress.iter().map(ToString::to_string).collect()),
            ],
        }
    }
}

/// A short stand-in for long text (user data) in plan output.
fn short_digest(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex} ({} bytes)", text.len())
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            RouteTarget::InternetGateway(r) | RouteTarget::NatGateway(r) => {
                write!(f, "{} via {r}", self.destination)
            }
            RouteTarget::Other(target) => write!(f, "{} via {target}", self.destination),
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ports = match (self.protocol.as_str(), self.from_port, self.to_port) {
            ("-1", ..) => "all traffic".to_owned(),
            (protocol, from, to) if from == to => format!("{protocol}/{from}"),
            (protocol, from, to) => format!("{protocol}/{from}-{to}"),
        };
        let peer = match &self.peer {
            Peer::Cidr(cidr) => cidr.clone(),
            Peer::SecurityGroup(group) => group.to_string(),
        };
        write!(f, "{ports} {peer}")?;
        if !self.description.is_empty() {
            write!(f, " ({})", self.description)?;
        }
        Ok(())
    }
}
