//! Finding an environment's EC2 resources by tag: one paginated describe per kind, all kinds
//! concurrently, then AWS ids in references translated back to logical ids.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{IpPermission, VpcAttributeName};

use super::{Ec2, filter, from_sdk_tags};
use crate::aws::error::{AwsError, Classify};
use crate::model::*;

/// A resource as found, before references are translated.
struct Found {
    physical_id: String,
    tags: Tags,
    raw: Raw,
}

enum Raw {
    Vpc {
        cidr: String,
        dns_support: bool,
        dns_hostnames: bool,
    },
    Subnet {
        vpc: String,
        cidr: String,
        zone: String,
    },
    InternetGateway {
        vpc: Option<String>,
    },
    ElasticIp,
    NatGateway {
        subnet: String,
        allocation: String,
    },
    RouteTable {
        vpc: String,
        routes: Vec<(String, RawTarget)>,
        subnets: Vec<String>,
    },
    SecurityGroup {
        vpc: String,
        name: String,
        description: String,
        ingress: Vec<IpPermission>,
        egress: Vec<IpPermission>,
    },
}

enum RawTarget {
    Gateway(String),
    Nat(String),
    Other(String),
}

/// NAT gateways in these states are gone or going; a new one may be created beside them.
const NAT_GONE: [&str; 3] = ["deleting", "deleted", "failed"];

impl Ec2 {
    /// Every EC2 resource tagged with `deployer:environment=<environment>`.
    pub async fn discover(&self, environment: &str) -> Result<Vec<ObservedResource>, AwsError> {
        let (vpcs, subnets, gateways, addresses, nats, tables, groups) = tokio::try_join!(
            self.find_vpcs(environment),
            self.find_subnets(environment),
            self.find_internet_gateways(environment),
            self.find_addresses(environment),
            self.find_nat_gateways(environment),
            self.find_route_tables(environment),
            self.find_security_groups(environment),
        )?;
        // Re-check the tag: a describe call that ignores its filter (the emulator's
        // DescribeNatGateways does) must never make another environment's resources ours.
        let found: Vec<Found> = [vpcs, subnets, gateways, addresses, nats, tables, groups]
            .into_iter()
            .flatten()
            .filter(|f| {
                f.tags
                    .get(TAG_ENVIRONMENT)
                    .is_some_and(|e| e == environment)
            })
            .collect();
        Ok(translate(found))
    }

    /// The environments deployed here: those with a VPC or an Elastic IP, the resources a
    /// destroy deletes last. (DescribeTags would also list deleted NAT gateways, which keep
    /// their tags for an hour.)
    pub async fn deployed_environments(&self) -> Result<BTreeSet<String>, AwsError> {
        let tagged = filter("tag-key", TAG_ENVIRONMENT);
        let vpcs = self
            .client
            .describe_vpcs()
            .filters(tagged.clone())
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>();
        let addresses = self.client.describe_addresses().filters(tagged).send();
        let (vpcs, addresses) = tokio::join!(vpcs, addresses);
        let vpc_tags = vpcs
            .op("DescribeVpcs")?
            .into_iter()
            .flat_map(|v| v.tags.unwrap_or_default());
        let address_tags = addresses
            .op("DescribeAddresses")?
            .addresses
            .unwrap_or_default()
            .into_iter()
            .flat_map(|a| a.tags.unwrap_or_default());
        Ok(vpc_tags
            .chain(address_tags)
            .filter(|t| t.key() == Some(TAG_ENVIRONMENT))
            .filter_map(|t| t.value)
            .collect())
    }

    async fn find_vpcs(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let vpcs: Vec<_> = self
            .client
            .describe_vpcs()
            .filters(env_filter(environment))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .op("DescribeVpcs")?;
        let mut found = Vec::new();
        for vpc in vpcs {
            let id = vpc.vpc_id().unwrap_or_default().to_owned();
            let (dns_support, dns_hostnames) = tokio::try_join!(
                self.vpc_attribute(&id, VpcAttributeName::EnableDnsSupport),
                self.vpc_attribute(&id, VpcAttributeName::EnableDnsHostnames),
            )?;
            found.push(Found {
                physical_id: id,
                tags: from_sdk_tags(vpc.tags()),
                raw: Raw::Vpc {
                    cidr: vpc.cidr_block().unwrap_or_default().to_owned(),
                    dns_support,
                    dns_hostnames,
                },
            });
        }
        Ok(found)
    }

    async fn vpc_attribute(
        &self,
        vpc: &str,
        attribute: VpcAttributeName,
    ) -> Result<bool, AwsError> {
        let output = self
            .client
            .describe_vpc_attribute()
            .vpc_id(vpc)
            .attribute(attribute.clone())
            .send()
            .await
            .op("DescribeVpcAttribute")?;
        let value = match attribute {
            VpcAttributeName::EnableDnsSupport => {
                output.enable_dns_support().and_then(|v| v.value())
            }
            _ => output.enable_dns_hostnames().and_then(|v| v.value()),
        };
        Ok(value.unwrap_or(false))
    }

    async fn find_subnets(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let subnets: Vec<_> = self
            .client
            .describe_subnets()
            .filters(env_filter(environment))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .op("DescribeSubnets")?;
        Ok(subnets
            .into_iter()
            .map(|s| Found {
                physical_id: s.subnet_id().unwrap_or_default().to_owned(),
                tags: from_sdk_tags(s.tags()),
                raw: Raw::Subnet {
                    vpc: s.vpc_id().unwrap_or_default().to_owned(),
                    cidr: s.cidr_block().unwrap_or_default().to_owned(),
                    zone: s.availability_zone().unwrap_or_default().to_owned(),
                },
            })
            .collect())
    }

    async fn find_internet_gateways(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let gateways: Vec<_> = self
            .client
            .describe_internet_gateways()
            .filters(env_filter(environment))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .op("DescribeInternetGateways")?;
        Ok(gateways
            .into_iter()
            .map(|g| Found {
                physical_id: g.internet_gateway_id().unwrap_or_default().to_owned(),
                tags: from_sdk_tags(g.tags()),
                raw: Raw::InternetGateway {
                    vpc: g
                        .attachments()
                        .first()
                        .and_then(|a| a.vpc_id())
                        .map(str::to_owned),
                },
            })
            .collect())
    }

    async fn find_addresses(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        // DescribeAddresses is not paginated: it returns every address at once.
        let output = self
            .client
            .describe_addresses()
            .filters(env_filter(environment))
            .send()
            .await
            .op("DescribeAddresses")?;
        Ok(output
            .addresses()
            .iter()
            .map(|a| Found {
                physical_id: a.allocation_id().unwrap_or_default().to_owned(),
                tags: from_sdk_tags(a.tags()),
                raw: Raw::ElasticIp,
            })
            .collect())
    }

    async fn find_nat_gateways(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let nats: Vec<_> = self
            .client
            .describe_nat_gateways()
            .filter(env_filter(environment))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .op("DescribeNatGateways")?;
        Ok(nats
            .into_iter()
            .filter(|n| !n.state().is_some_and(|s| NAT_GONE.contains(&s.as_str())))
            .map(|n| Found {
                physical_id: n.nat_gateway_id().unwrap_or_default().to_owned(),
                tags: from_sdk_tags(n.tags()),
                raw: Raw::NatGateway {
                    subnet: n.subnet_id().unwrap_or_default().to_owned(),
                    allocation: n
                        .nat_gateway_addresses()
                        .first()
                        .and_then(|a| a.allocation_id())
                        .unwrap_or_default()
                        .to_owned(),
                },
            })
            .collect())
    }

    async fn find_route_tables(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let tables: Vec<_> = self
            .client
            .describe_route_tables()
            .filters(env_filter(environment))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .op("DescribeRouteTables")?;
        Ok(tables
            .into_iter()
            .map(|t| Found {
                physical_id: t.route_table_id().unwrap_or_default().to_owned(),
                tags: from_sdk_tags(t.tags()),
                raw: Raw::RouteTable {
                    vpc: t.vpc_id().unwrap_or_default().to_owned(),
                    routes: t.routes().iter().filter_map(route_of).collect(),
                    subnets: t
                        .associations()
                        .iter()
                        .filter(|a| !a.main().unwrap_or(false))
                        .filter_map(|a| a.subnet_id().map(str::to_owned))
                        .collect(),
                },
            })
            .collect())
    }

    async fn find_security_groups(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let groups: Vec<_> = self
            .client
            .describe_security_groups()
            .filters(env_filter(environment))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .op("DescribeSecurityGroups")?;
        Ok(groups
            .into_iter()
            .map(|g| Found {
                physical_id: g.group_id().unwrap_or_default().to_owned(),
                tags: from_sdk_tags(g.tags()),
                raw: Raw::SecurityGroup {
                    vpc: g.vpc_id().unwrap_or_default().to_owned(),
                    name: g.group_name().unwrap_or_default().to_owned(),
                    description: g.description().unwrap_or_default().to_owned(),
                    ingress: g.ip_permissions().to_vec(),
                    egress: g.ip_permissions_egress().to_vec(),
                },
            })
            .collect())
    }
}

fn env_filter(environment: &str) -> aws_sdk_ec2::types::Filter {
    filter(&format!("tag:{TAG_ENVIRONMENT}"), environment)
}

/// A route as the model sees it; the VPC's implicit `local` route is not ours to manage.
fn route_of(route: &aws_sdk_ec2::types::Route) -> Option<(String, RawTarget)> {
    let destination = route.destination_cidr_block()?.to_owned();
    let target = if let Some(gateway) = route.gateway_id() {
        if gateway == "local" {
            return None;
        }
        RawTarget::Gateway(gateway.to_owned())
    } else if let Some(nat) = route.nat_gateway_id() {
        RawTarget::Nat(nat.to_owned())
    } else {
        let other = route
            .transit_gateway_id()
            .or(route.vpc_peering_connection_id())
            .or(route.network_interface_id())
            .or(route.instance_id())
            .unwrap_or("unknown target");
        RawTarget::Other(other.to_owned())
    };
    Some((destination, target))
}

/// Rules of one direction, one model rule per peer (AWS groups several peers per permission).
pub(super) fn rules_of(
    permissions: &[IpPermission],
    logical: &impl Fn(&str) -> Ref,
) -> std::collections::BTreeSet<Rule> {
    let mut rules = std::collections::BTreeSet::new();
    for permission in permissions {
        let protocol = permission.ip_protocol().unwrap_or("-1").to_owned();
        let (from_port, to_port) = if protocol == "-1" {
            (-1, -1)
        } else {
            (
                permission.from_port().unwrap_or(-1),
                permission.to_port().unwrap_or(-1),
            )
        };
        let rule = |peer, description: Option<&str>| Rule {
            protocol: protocol.clone(),
            from_port,
            to_port,
            peer,
            description: description.unwrap_or_default().to_owned(),
        };
        for range in permission.ip_ranges() {
            rules.insert(rule(
                Peer::Cidr(range.cidr_ip().unwrap_or_default().to_owned()),
                range.description(),
            ));
        }
        for range in permission.ipv6_ranges() {
            rules.insert(rule(
                Peer::Cidr(range.cidr_ipv6().unwrap_or_default().to_owned()),
                range.description(),
            ));
        }
        for list in permission.prefix_list_ids() {
            rules.insert(rule(
                Peer::Cidr(list.prefix_list_id().unwrap_or_default().to_owned()),
                list.description(),
            ));
        }
        for pair in permission.user_id_group_pairs() {
            rules.insert(rule(
                Peer::SecurityGroup(logical(pair.group_id().unwrap_or_default())),
                pair.description(),
            ));
        }
    }
    rules
}

/// Builds observed resources, naming referenced resources by logical id where they are ours.
fn translate(found: Vec<Found>) -> Vec<ObservedResource> {
    let logical_ids: BTreeMap<String, Id> = found
        .iter()
        .filter_map(|f| Some((f.physical_id.clone(), Id::new(f.tags.get(TAG_ID)?.clone()))))
        .collect();
    let logical = |physical: &str| match logical_ids.get(physical) {
        Some(id) => Ref::Managed(id.clone()),
        None => Ref::External(physical.to_owned()),
    };
    let mut observed = Vec::new();
    for f in found {
        let Some(id) = f.tags.get(TAG_ID).map(|id| Id::new(id.clone())) else {
            tracing::warn!(physical_id = %f.physical_id, "resource has {TAG_ENVIRONMENT} but no {TAG_ID} tag; leaving it alone");
            continue;
        };
        let spec = match f.raw {
            Raw::Vpc {
                cidr,
                dns_support,
                dns_hostnames,
            } => Spec::Vpc(VpcSpec {
                cidr,
                dns_support,
                dns_hostnames,
            }),
            Raw::Subnet { vpc, cidr, zone } => Spec::Subnet(SubnetSpec {
                vpc: logical(&vpc),
                cidr,
                availability_zone: zone,
            }),
            Raw::InternetGateway { vpc } => Spec::InternetGateway(InternetGatewaySpec {
                vpc: vpc.as_deref().map(logical),
            }),
            Raw::ElasticIp => Spec::ElasticIp(ElasticIpSpec {}),
            Raw::NatGateway { subnet, allocation } => Spec::NatGateway(NatGatewaySpec {
                subnet: logical(&subnet),
                elastic_ip: logical(&allocation),
            }),
            Raw::RouteTable {
                vpc,
                routes,
                subnets,
            } => Spec::RouteTable(RouteTableSpec {
                vpc: logical(&vpc),
                routes: routes
                    .into_iter()
                    .map(|(destination, target)| Route {
                        destination,
                        target: match target {
                            RawTarget::Gateway(id) if id.starts_with("igw-") => {
                                RouteTarget::InternetGateway(logical(&id))
                            }
                            RawTarget::Nat(id) => RouteTarget::NatGateway(logical(&id)),
                            RawTarget::Gateway(id) | RawTarget::Other(id) => RouteTarget::Other(id),
                        },
                    })
                    .collect(),
                subnets: subnets.iter().map(|s| logical(s)).collect(),
            }),
            Raw::SecurityGroup {
                vpc,
                name,
                description,
                ingress,
                egress,
            } => {
                // The group's rules are a resource of their own in the model (see spec.rs).
                observed.push(ObservedResource {
                    id: Id::new(format!("{id}-rules")),
                    physical_id: f.physical_id.clone(),
                    spec: Spec::SecurityGroupRules(SecurityGroupRulesSpec {
                        group: Ref::Managed(id.clone()),
                        ingress: rules_of(&ingress, &logical),
                        egress: rules_of(&egress, &logical),
                    }),
                    tags: Tags::new(),
                });
                Spec::SecurityGroup(SecurityGroupSpec {
                    vpc: logical(&vpc),
                    name,
                    description,
                })
            }
        };
        observed.push(ObservedResource {
            id,
            physical_id: f.physical_id,
            spec,
            tags: f.tags,
        });
    }
    observed
}
