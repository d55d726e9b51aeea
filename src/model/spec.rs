//! What each kind of resource looks like, as comparable data. References to other resources
//! are `Ref`s: a logical id when the target is ours, the raw AWS id otherwise.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use super::Id;

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
            Self::NatGateway => 120,
            Self::Vpc | Self::Subnet | Self::InternetGateway | Self::ElasticIp => 2,
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
            Self::Vpc(_) | Self::ElasticIp(_) => Vec::new(),
            Self::Subnet(s) => vec![strong("vpc", &s.vpc)],
            Self::InternetGateway(s) => s.vpc.iter().map(|vpc| weak("vpc", vpc)).collect(),
            Self::NatGateway(s) => vec![
                strong("subnet", &s.subnet),
                strong("elastic_ip", &s.elastic_ip),
            ],
            Self::RouteTable(s) => {
                let mut refs = vec![strong("vpc", &s.vpc)];
                refs.extend(s.routes.iter().filter_map(|route| match &route.target {
                    RouteTarget::InternetGateway(r) | RouteTarget::NatGateway(r) => {
                        Some(weak("routes", r))
                    }
                    RouteTarget::Other(_) => None,
                }));
                refs.extend(s.subnets.iter().map(|subnet| weak("subnets", subnet)));
                refs
            }
            Self::SecurityGroup(s) => vec![strong("vpc", &s.vpc)],
            Self::SecurityGroupRules(s) => {
                let mut refs = vec![strong("group", &s.group)];
                refs.extend(s.ingress.iter().chain(&s.egress).filter_map(
                    |rule| match &rule.peer {
                        Peer::SecurityGroup(group) => Some(weak("rules", group)),
                        Peer::Cidr(_) => None,
                    },
                ));
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
        match self {
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
                set(
                    "subnets",
                    s.subnets.iter().map(ToString::to_string).collect(),
                ),
            ],
            Self::SecurityGroup(s) => vec![
                scalar("vpc", s.vpc.to_string(), true),
                scalar("name", s.name.clone(), true),
                scalar("description", s.description.clone(), true),
            ],
            Self::SecurityGroupRules(s) => vec![
                scalar("group", s.group.to_string(), true),
                set(
                    "ingress",
                    s.ingress.iter().map(ToString::to_string).collect(),
                ),
                set("egress", s.egress.iter().map(ToString::to_string).collect()),
            ],
        }
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
