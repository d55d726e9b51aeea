//! Finding an environment's EC2 resources by tag: one paginated describe per kind, all kinds
//! concurrently, then AWS ids in references translated back to logical ids.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::{IpPermission, VpcAttributeName};

use super::{Ec2, filter, from_sdk_tags};
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::model::*;

/// A resource as described, before it becomes a `Found`.
struct RawFound {
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
    pub(crate) async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let (vpcs, subnets, gateways, addresses, nats, tables, groups) = tokio::try_join!(
            self.find_vpcs(environment),
            self.find_subnets(environment),
            self.find_internet_gateways(environment),
            self.find_addresses(environment),
            self.find_nat_gateways(environment),
            self.find_route_tables(environment),
            self.find_security_groups(environment),
        )?;
        let raw = [vpcs, subnets, gateways, addresses, nats, tables, groups]
            .into_iter()
            .flatten()
            .collect();
        let mut found = into_found(raw);
        found.extend(self.find_launch_templates(environment).await?);
        Ok(found)
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

    async fn find_vpcs(&self, environment: &str) -> Result<Vec<RawFound>, AwsError> {
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
            found.push(RawFound {
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

    async fn vpc_attribute(&self, vpc: &str, attribute: VpcAttributeName) -> Result<bool, AwsError> {
        let output = self
            .client
            .describe_vpc_attribute()
            .vpc_id(vpc)
            .attribute(attribute.clone())
            .send()
            .await
            .op("DescribeVpcAttribute")?;
        let value = match attribute {
            VpcAttributeName::EnableDnsSupport => output.enable_dns_support().and_then(|v| v.value()),
            _ => output.enable_dns_hostnames().and_then(|v| v.value()),
        };
        Ok(value.unwrap_or(false))
    }

    async fn find_subnets(&self, environment: &str) -> Result<Vec<RawFound>, AwsError> {
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
            .map(|s| RawFound {
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

    async fn find_internet_gateways(&self, environment: &str) -> Result<Vec<RawFound>, AwsError> {
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
            .map(|g| RawFound {
                physical_id: g.internet_gateway_id().unwrap_or_default().to_owned(),
                tags: from_sdk_tags(g.tags()),
                raw: Raw::InternetGateway {
                    vpc: g.attachments().first().and_then(|a| a.vpc_id()).map(str::to_owned),
                },
            })
            .collect())
    }

    async fn find_addresses(&self, environment: &str) -> Result<Vec<RawFound>, AwsError> {
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
            .map(|a| RawFound {
                physical_id: a.allocation_id().unwrap_or_default().to_owned(),
                tags: from_sdk_tags(a.tags()),
                raw: Raw::ElasticIp,
            })
            .collect())
    }

    async fn find_nat_gateways(&self, environment: &str) -> Result<Vec<RawFound>, AwsError> {
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
            .map(|n| RawFound {
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

    async fn find_route_tables(&self, environment: &str) -> Result<Vec<RawFound>, AwsError> {
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
            .map(|t| RawFound {
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

    async fn find_security_groups(&self, environment: &str) -> Result<Vec<RawFound>, AwsError> {
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
            .map(|g| RawFound {
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
    logical: &dyn Fn(&str) -> Ref,
) -> std::collections::BTreeSet<Rule> {
    let mut rules = std::collections::BTreeSet::new();
    for permission in permissions {
        let protocol = permission.ip_protocol().unwrap_or("-1").to_owned();
        let (from_port, to_port) = if protocol == "-1" {
            (-1, -1)
        } else {
            (permission.from_port().unwrap_or(-1), permission.to_port().unwrap_or(-1))
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

/// Turns raw findings into `Found`s; a security group yields its rules as a second one.
fn into_found(raw_found: Vec<RawFound>) -> Vec<Found> {
    let mut found = Vec::new();
    for f in raw_found {
        let tags = f.tags;
        let physical = f.physical_id;
        match f.raw {
            Raw::Vpc {
                cidr,
                dns_support,
                dns_hostnames,
            } => {
                found.push(Found::new(physical, tags, move |_| {
                    Spec::Vpc(VpcSpec {
                        cidr,
                        dns_support,
                        dns_hostnames,
                    })
                }));
            }
            Raw::Subnet { vpc, cidr, zone } => found.push(Found::new(physical, tags, move |lookup| {
                Spec::Subnet(SubnetSpec {
                    vpc: lookup(&vpc),
                    cidr,
                    availability_zone: zone,
                })
            })),
            Raw::InternetGateway { vpc } => found.push(Found::new(physical, tags, move |lookup| {
                Spec::InternetGateway(InternetGatewaySpec {
                    vpc: vpc.as_deref().map(lookup),
                })
            })),
            Raw::ElasticIp => found.push(Found::new(physical, tags, |_| Spec::ElasticIp(ElasticIpSpec {}))),
            Raw::NatGateway { subnet, allocation } => found.push(Found::new(physical, tags, move |lookup| {
                Spec::NatGateway(NatGatewaySpec {
                    subnet: lookup(&subnet),
                    elastic_ip: lookup(&allocation),
                })
            })),
            Raw::RouteTable { vpc, routes, subnets } => found.push(Found::new(physical, tags, move |lookup| {
                Spec::RouteTable(RouteTableSpec {
                    vpc: lookup(&vpc),
                    routes: routes
                        .into_iter()
                        .map(|(destination, target)| Route {
                            destination,
                            target: match target {
                                RawTarget::Gateway(id) if id.starts_with("igw-") => {
                                    RouteTarget::InternetGateway(lookup(&id))
                                }
                                RawTarget::Nat(id) => RouteTarget::NatGateway(lookup(&id)),
                                RawTarget::Gateway(id) | RawTarget::Other(id) => RouteTarget::Other(id),
                            },
                        })
                        .collect(),
                    subnets: subnets.iter().map(|s| lookup(s)).collect(),
                })
            })),
            Raw::SecurityGroup {
                vpc,
                name,
                description,
                ingress,
                egress,
            } => {
                // The group's rules are a resource of their own in the model (see spec.rs).
                if let Some(id) = tags.get(TAG_ID) {
                    let group_id = Id::new(id.clone());
                    let mut rule_tags = tags.clone();
                    rule_tags.insert(TAG_ID.to_owned(), format!("{id}-rules"));
                    found.push(
                        Found::new(physical.clone(), rule_tags, move |lookup| {
                            Spec::SecurityGroupRules(SecurityGroupRulesSpec {
                                group: Ref::Managed(group_id),
                                ingress: rules_of(&ingress, lookup),
                                egress: rules_of(&egress, lookup),
                            })
                        })
                        .part_of_another(),
                    );
                }
                found.push(Found::new(physical, tags, move |lookup| {
                    Spec::SecurityGroup(SecurityGroupSpec {
                        vpc: lookup(&vpc),
                        name,
                        description,
                    })
                }));
            }
        }
    }
    found
}
