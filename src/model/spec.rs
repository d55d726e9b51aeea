//! What every spec shares (`Ref`, `Attribute`, `Reference`) and the network kinds' specs (VPC,
//! subnets, gateways, route tables, security groups); the other kinds' are in
//! `service_specs.rs`, `scaling.rs` and `alarms.rs`. References to other resources are
//! `Ref`s: a logical id when the target is ours, the raw AWS id otherwise.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use super::Id;
pub use super::kinds::{Kind, ResourceSpec, Spec, Variant};
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

/// One comparable attribute of a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: &'static str,
    pub value: AttributeValue,
    /// Changing it means deleting the resource and creating a new one.
    pub forces_replacement: bool,
    /// A guard against deletion (`true` protects): turning it off counts as a destroy.
    pub protects: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    Scalar(String),
    Set(BTreeSet<String>),
    /// A version: `17` wants any 17.x (AWS picks and upgrades the minor), `17.4` exactly that.
    Version(String),
    /// Observed only: AWS did not report the value (the local emulator leaves some out), so
    /// there is nothing to compare.
    Unreported,
    /// Desired only: the value a resource starts with, owned afterwards by something else (an
    /// autoscaler owns a scaled service's desired count): never compared, never drift.
    Initial(String),
}

impl AttributeValue {
    /// Whether what exists (`observed`) is what this desired value asks for.
    pub fn satisfied_by(&self, observed: &AttributeValue) -> bool {
        match (self, observed) {
            (Self::Version(wanted), Self::Version(had)) => version_satisfies(wanted, had),
            (_, Self::Unreported) | (Self::Initial(_), _) => true,
            _ => self == observed,
        }
    }
}

/// Whether the version `had` satisfies the version `wanted`: `17` any 17.x; `16.6` 16.6 or a
/// later 16.x, which is what AWS's automatic minor upgrades move a cluster to (planning a
/// downgrade back to the pin would fail: AWS cannot downgrade).
pub fn version_satisfies(wanted: &str, had: &str) -> bool {
    let parts = |version: &str| -> Vec<u64> { version.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    if wanted == had {
        return true;
    }
    let (wanted, had) = (parts(wanted), parts(had));
    wanted.first() == had.first() && had >= wanted
}

/// The major version of a version string (`16` of `16.6`).
pub fn major_version(version: &str) -> &str {
    version.split('.').next().unwrap_or(version)
}

/// A reference held by a spec, and whether the target's replacement forces this one's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference<'a> {
    pub attribute: &'static str,
    pub target: &'a Ref,
    pub forces_replacement: bool,
}

impl Attribute {
    pub fn scalar(name: &'static str, value: impl ToString, forces_replacement: bool) -> Self {
        Self {
            name,
            value: AttributeValue::Scalar(value.to_string()),
            forces_replacement,
            protects: false,
        }
    }

    /// A guard against deletion, such as an Aurora cluster's deletion protection: turning it
    /// off is planned as what it is, the first step of a destroy.
    pub fn protection(name: &'static str, on: bool) -> Self {
        Self {
            protects: true,
            ..Self::scalar(name, on, false)
        }
    }

    /// A value AWS may leave out of its answers: absent, it is not compared. Changes in place.
    pub fn reported(name: &'static str, value: Option<impl ToString>) -> Self {
        match value {
            Some(value) => Self::scalar(name, value, false),
            None => Self {
                name,
                value: AttributeValue::Unreported,
                forces_replacement: false,
                protects: false,
            },
        }
    }

    /// The value at creation only; never compared afterwards (`AttributeValue::Initial`).
    pub fn initial(name: &'static str, value: impl ToString) -> Self {
        Self {
            name,
            value: AttributeValue::Initial(value.to_string()),
            forces_replacement: false,
            protects: false,
        }
    }

    /// A version compared as `AttributeValue::Version` does; changes in place.
    pub fn version(name: &'static str, value: &str) -> Self {
        Self {
            name,
            value: AttributeValue::Version(value.to_owned()),
            forces_replacement: false,
            protects: false,
        }
    }

    /// A set changes member by member, in place.
    pub fn set<T: ToString>(name: &'static str, values: impl IntoIterator<Item = T>) -> Self {
        Self {
            name,
            value: AttributeValue::Set(values.into_iter().map(|v| v.to_string()).collect()),
            forces_replacement: false,
            protects: false,
        }
    }

    /// An optional reference, shown as `(none)` when absent.
    pub fn optional(name: &'static str, value: Option<&Ref>, forces_replacement: bool) -> Self {
        Self::scalar(
            name,
            value.map_or_else(|| "(none)".to_owned(), ToString::to_string),
            forces_replacement,
        )
    }
}

impl<'a> Reference<'a> {
    /// The target's replacement forces this resource's (a subnet's VPC).
    pub fn strong(attribute: &'static str, target: &'a Ref) -> Self {
        Self {
            attribute,
            target,
            forces_replacement: true,
        }
    }

    /// The reference can be pointed at the new target in place (a route's NAT gateway).
    pub fn weak(attribute: &'static str, target: &'a Ref) -> Self {
        Self {
            attribute,
            target,
            forces_replacement: false,
        }
    }

    pub fn weak_all(attribute: &'static str, targets: impl IntoIterator<Item = &'a Ref>) -> impl Iterator<Item = Self> {
        targets.into_iter().map(move |target| Self::weak(attribute, target))
    }
}

impl ResourceSpec for VpcSpec {
    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("cidr", &self.cidr, true),
            Attribute::scalar("dns_support", self.dns_support, false),
            Attribute::scalar("dns_hostnames", self.dns_hostnames, false),
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

impl ResourceSpec for InternetGatewaySpec {
    fn attributes(&self) -> Vec<Attribute> {
        let vpc = self
            .vpc
            .as_ref()
            .map_or_else(|| "(detached)".to_owned(), ToString::to_string);
        vec![Attribute::scalar("vpc", vpc, false)]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        Reference::weak_all("vpc", &self.vpc).collect()
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

impl ResourceSpec for RouteTableSpec {
    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("vpc", &self.vpc, true),
            Attribute::set("routes", &self.routes),
            Attribute::set("subnets", &self.subnets),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        let mut refs = vec![Reference::strong("vpc", &self.vpc)];
        refs.extend(self.routes.iter().filter_map(|route| match &route.target {
            RouteTarget::InternetGateway(r) | RouteTarget::NatGateway(r) => Some(Reference::weak("routes", r)),
            RouteTarget::Other(_) => None,
        }));
        refs.extend(Reference::weak_all("subnets", &self.subnets));
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

impl ResourceSpec for SecurityGroupRulesSpec {
    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("group", &self.group, true),
            Attribute::set("ingress", &self.ingress),
            Attribute::set("egress", &self.egress),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        let mut refs = vec![Reference::strong("group", &self.group)];
        refs.extend(
            self.ingress
                .iter()
                .chain(&self.egress)
                .filter_map(|rule| match &rule.peer {
                    Peer::SecurityGroup(group) => Some(Reference::weak("rules", group)),
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

impl fmt::Display for AttributeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Scalar(value) | Self::Version(value) => f.write_str(value),
            Self::Unreported => f.write_str("(not reported)"),
            Self::Initial(value) => write!(f, "{value} (at creation; then the autoscaler's)"),
            Self::Set(values) => write!(f, "[{}]", values.iter().cloned().collect::<Vec<_>>().join(", ")),
        }
    }
}
