//! The EC2 kinds' specs: the VPC, its subnets, gateways, route tables and security groups,
//! and the launch template.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use crate::model::Ref;
use crate::model::spec::{Attribute, Reference, ResourceSpec};

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

/// The attribute names `aws/` acts on, spelled once.
impl VpcSpec {
    pub const DNS_HOSTNAMES: &'static str = "dns_hostnames";
    pub const DNS_SUPPORT: &'static str = "dns_support";
}

impl ResourceSpec for VpcSpec {
    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("cidr", &self.cidr, true),
            Attribute::scalar(Self::DNS_SUPPORT, self.dns_support, false),
            Attribute::scalar(Self::DNS_HOSTNAMES, self.dns_hostnames, false),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        Vec::new()
    }
}

impl ResourceSpec for SubnetSpec {
    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("vpc", &self.vpc, true),
            Attribute::scalar("cidr", &self.cidr, true),
            Attribute::scalar("availability_zone", &self.availability_zone, true),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        vec![Reference::strong("vpc", &self.vpc)]
    }
}

/// The attribute names `aws/` acts on, spelled once.
impl InternetGatewaySpec {
    pub const VPC: &'static str = "vpc";
}

impl ResourceSpec for InternetGatewaySpec {
    fn attributes(&self) -> Vec<Attribute> {
        let vpc = self
            .vpc
            .as_ref()
            .map_or_else(|| "(detached)".to_owned(), ToString::to_string);
        vec![Attribute::scalar(Self::VPC, vpc, false)]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        Reference::weak_all(Self::VPC, &self.vpc).collect()
    }
}

impl ResourceSpec for ElasticIpSpec {
    fn attributes(&self) -> Vec<Attribute> {
        Vec::new()
    }

    fn references(&self) -> Vec<Reference<'_>> {
        Vec::new()
    }
}

impl ResourceSpec for NatGatewaySpec {
    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("subnet", &self.subnet, true),
            Attribute::scalar("elastic_ip", &self.elastic_ip, true),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        vec![
            Reference::strong("subnet", &self.subnet),
            Reference::strong("elastic_ip", &self.elastic_ip),
        ]
    }
}

/// The attribute names `aws/` acts on, spelled once.
impl RouteTableSpec {
    pub const ROUTES: &'static str = "routes";
    pub const SUBNETS: &'static str = "subnets";
}

impl ResourceSpec for RouteTableSpec {
    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("vpc", &self.vpc, true),
            Attribute::set(Self::ROUTES, &self.routes),
            Attribute::set(Self::SUBNETS, &self.subnets),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        let mut refs = vec![Reference::strong("vpc", &self.vpc)];
        refs.extend(self.routes.iter().filter_map(|route| match &route.target {
            RouteTarget::InternetGateway(r) | RouteTarget::NatGateway(r) => Some(Reference::weak(Self::ROUTES, r)),
            RouteTarget::Other(_) => None,
        }));
        refs.extend(Reference::weak_all(Self::SUBNETS, &self.subnets));
        refs
    }
}

impl ResourceSpec for SecurityGroupSpec {
    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("vpc", &self.vpc, true),
            Attribute::scalar("name", &self.name, true),
            Attribute::scalar("description", &self.description, true),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        vec![Reference::strong("vpc", &self.vpc)]
    }
}

/// The attribute names `aws/` acts on, spelled once.
impl SecurityGroupRulesSpec {
    pub const EGRESS: &'static str = "egress";
    pub const INGRESS: &'static str = "ingress";
    pub const RULES: &'static str = "rules";
}

impl ResourceSpec for SecurityGroupRulesSpec {
    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("group", &self.group, true),
            Attribute::set(Self::INGRESS, &self.ingress),
            Attribute::set(Self::EGRESS, &self.egress),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        let mut refs = vec![Reference::strong("group", &self.group)];
        refs.extend(
            self.ingress
                .iter()
                .chain(&self.egress)
                .filter_map(|rule| match &rule.peer {
                    Peer::SecurityGroup(group) => Some(Reference::weak(Self::RULES, group)),
                    Peer::Cidr(_) => None,
                }),
        );
        refs
    }
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

/// The attribute names `aws/` acts on, spelled once.
impl LaunchTemplateSpec {
    pub const IMAGE_ID: &'static str = "image_id";
    pub const INSTANCE_PROFILE: &'static str = "instance_profile";
    pub const INSTANCE_TYPE: &'static str = "instance_type";
    pub const SECURITY_GROUPS: &'static str = "security_groups";
    pub const USER_DATA: &'static str = "user_data";
}

impl ResourceSpec for LaunchTemplateSpec {
    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("name", &self.name, true),
            Attribute::scalar(Self::IMAGE_ID, &self.image_id, false),
            Attribute::scalar(Self::INSTANCE_TYPE, &self.instance_type, false),
            Attribute::set(Self::SECURITY_GROUPS, &self.security_groups),
            Attribute::scalar(Self::INSTANCE_PROFILE, &self.instance_profile, false),
            Attribute::scalar("image", &self.image, false),
            Attribute::scalar(Self::USER_DATA, &self.user_data, false),
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
        let mut refs: Vec<_> = Reference::weak_all(Self::SECURITY_GROUPS, &self.security_groups).collect();
        refs.push(Reference::weak(Self::INSTANCE_PROFILE, &self.instance_profile));
        refs.push(Reference::weak("log_group", &self.log_group));
        refs
    }
}
