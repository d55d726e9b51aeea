//! From an environment's config to the set of resources it should consist of.

use std::collections::{BTreeMap, BTreeSet};

use super::spec::*;
use super::{Desired, DesiredResource, Id, tags_for};
use crate::config::{EnvironmentConfig, NatMode};

/// What the model needs to know about the target account, read by discovery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// The region's usable availability zones, sorted by name.
    pub availability_zones: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error(
        "network.azs asks for {wanted} availability zones but the region offers {} ({})\n  help: lower network.azs in the environment file",
        available.len(),
        if available.is_empty() { "none".to_owned() } else { available.join(", ") }
    )]
    NotEnoughZones { wanted: u8, available: Vec<String> },
}

const ANYWHERE: &str = "0.0.0.0/0";
const HTTPS: i32 = 443;
const POSTGRES: i32 = 5432;

/// The suffix used in logical ids for the AZ at `index`: a, b, c, …
fn zone_letter(index: usize) -> char {
    char::from(b'a' + u8::try_from(index).expect("at most 6 zones"))
}

pub fn desired(config: &EnvironmentConfig, facts: &Facts) -> Result<Desired, ModelError> {
    let zone_count = usize::from(config.network.azs);
    if facts.availability_zones.len() < zone_count {
        return Err(ModelError::NotEnoughZones {
            wanted: config.network.azs,
            available: facts.availability_zones.clone(),
        });
    }
    let zones = &facts.availability_zones[..zone_count];
    let mut specs: BTreeMap<Id, Spec> = BTreeMap::new();
    let mut add = |id: String, spec: Spec| specs.insert(Id::new(id), spec);

    add(
        "vpc".into(),
        Spec::Vpc(VpcSpec {
            cidr: config.network.cidr.to_string(),
            dns_support: true,
            dns_hostnames: true,
        }),
    );
    add(
        "internet-gateway".into(),
        Spec::InternetGateway(InternetGatewaySpec {
            vpc: Some(Ref::to("vpc")),
        }),
    );

    let public = config.network.public_subnet_cidrs();
    let private = config.network.private_subnet_cidrs();
    for (index, zone) in zones.iter().enumerate() {
        let letter = zone_letter(index);
        for (tier, cidr) in [("public", public[index]), ("private", private[index])] {
            add(
                format!("subnet-{tier}-{letter}"),
                Spec::Subnet(SubnetSpec {
                    vpc: Ref::to("vpc"),
                    cidr: cidr.to_string(),
                    availability_zone: zone.clone(),
                }),
            );
        }
    }

    let nat_zones = match config.network.nat {
        NatMode::None => 0,
        NatMode::Single => 1,
        NatMode::PerAz => zone_count,
    };
    for index in 0..nat_zones {
        let letter = zone_letter(index);
        add(
            format!("nat-eip-{letter}"),
            Spec::ElasticIp(ElasticIpSpec {}),
        );
        add(
            format!("nat-gateway-{letter}"),
            Spec::NatGateway(NatGatewaySpec {
                subnet: Ref::Managed(Id::new(format!("subnet-public-{letter}"))),
                elastic_ip: Ref::Managed(Id::new(format!("nat-eip-{letter}"))),
            }),
        );
    }

    add(
        "route-table-public".into(),
        Spec::RouteTable(RouteTableSpec {
            vpc: Ref::to("vpc"),
            routes: BTreeSet::from([Route {
                destination: ANYWHERE.into(),
                target: RouteTarget::InternetGateway(Ref::to("internet-gateway")),
            }]),
            subnets: (0..zone_count)
                .map(|i| Ref::Managed(Id::new(format!("subnet-public-{}", zone_letter(i)))))
                .collect(),
        }),
    );
    for index in 0..zone_count {
        let letter = zone_letter(index);
        let routes = if nat_zones == 0 {
            BTreeSet::new()
        } else {
            // With a single NAT every zone routes through zone a's gateway.
            let nat_letter = zone_letter(index.min(nat_zones - 1));
            BTreeSet::from([Route {
                destination: ANYWHERE.into(),
                target: RouteTarget::NatGateway(Ref::Managed(Id::new(format!(
                    "nat-gateway-{nat_letter}"
                )))),
            }])
        };
        add(
            format!("route-table-private-{letter}"),
            Spec::RouteTable(RouteTableSpec {
                vpc: Ref::to("vpc"),
                routes,
                subnets: BTreeSet::from([Ref::Managed(Id::new(format!(
                    "subnet-private-{letter}"
                )))]),
            }),
        );
    }

    let has_database = config.database.is_some();
    let groups: &[(&str, &str)] = if has_database {
        &[
            ("lb", "load balancer"),
            ("app", "application"),
            ("db", "database"),
        ]
    } else {
        &[("lb", "load balancer"), ("app", "application")]
    };
    for (role, what) in groups {
        add(
            format!("security-group-{role}"),
            Spec::SecurityGroup(SecurityGroupSpec {
                vpc: Ref::to("vpc"),
                name: format!("{}-{role}", config.name),
                description: format!("deployer {}: {what}", config.name),
            }),
        );
    }
    let group =
        |role: &str| Peer::SecurityGroup(Ref::Managed(Id::new(format!("security-group-{role}"))));
    let tcp = |port: i32, peer: Peer, description: &str| Rule {
        protocol: "tcp".into(),
        from_port: port,
        to_port: port,
        peer,
        description: description.into(),
    };
    let lb_port = i32::from(config.load_balancer.port);
    let app_port = i32::from(config.app.port);

    // Least privilege: the internet reaches only the load balancer, the load balancer only the
    // API port, the API only the database and HTTPS (image pulls, AWS APIs); the database nothing.
    let lb_rules = SecurityGroupRulesSpec {
        group: Ref::to("security-group-lb"),
        ingress: BTreeSet::from([tcp(
            lb_port,
            Peer::Cidr(ANYWHERE.into()),
            "HTTP from anywhere",
        )]),
        egress: BTreeSet::from([tcp(app_port, group("app"), "to the API")]),
    };
    let mut app_egress = BTreeSet::from([tcp(
        HTTPS,
        Peer::Cidr(ANYWHERE.into()),
        "HTTPS for images and AWS APIs",
    )]);
    if has_database {
        app_egress.insert(tcp(POSTGRES, group("db"), "to the database"));
    }
    let app_rules = SecurityGroupRulesSpec {
        group: Ref::to("security-group-app"),
        ingress: BTreeSet::from([tcp(app_port, group("lb"), "API from the load balancer")]),
        egress: app_egress,
    };
    add(
        "security-group-lb-rules".into(),
        Spec::SecurityGroupRules(lb_rules),
    );
    add(
        "security-group-app-rules".into(),
        Spec::SecurityGroupRules(app_rules),
    );
    if has_database {
        add(
            "security-group-db-rules".into(),
            Spec::SecurityGroupRules(SecurityGroupRulesSpec {
                group: Ref::to("security-group-db"),
                ingress: BTreeSet::from([tcp(POSTGRES, group("app"), "PostgreSQL from the API")]),
                egress: BTreeSet::new(),
            }),
        );
    }

    let resources = specs
        .into_iter()
        .map(|(id, spec)| {
            let tags = if spec.kind().has_tags() {
                tags_for(&config.name, &id, &spec, &config.tags)
            } else {
                Default::default()
            };
            (id, DesiredResource { spec, tags })
        })
        .collect();
    Ok(Desired {
        environment: config.name.clone(),
        resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_environment;

    fn facts() -> Facts {
        Facts {
            availability_zones: ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"]
                .map(String::from)
                .to_vec(),
        }
    }

    fn ids(desired: &Desired, prefix: &str) -> Vec<String> {
        desired
            .resources
            .keys()
            .map(ToString::to_string)
            .filter(|id| id.starts_with(prefix))
            .collect()
    }

    #[test]
    fn production_gets_a_nat_gateway_per_zone() {
        let config = parse_environment(
            include_str!("../../environments/production.yaml"),
            "production",
        )
        .unwrap();
        let desired = desired(&config, &facts()).unwrap();
        assert_eq!(
            ids(&desired, "nat-gateway"),
            ["nat-gateway-a", "nat-gateway-b", "nat-gateway-c"]
        );
        let Spec::RouteTable(rt) = &desired.resources[&Id::from("route-table-private-c")].spec
        else {
            panic!()
        };
        assert_eq!(
            rt.routes.iter().next().unwrap().to_string(),
            "0.0.0.0/0 via nat-gateway-c"
        );
    }

    #[test]
    fn single_nat_is_shared_by_every_private_route_table() {
        let config =
            parse_environment(include_str!("../../environments/staging.yaml"), "staging").unwrap();
        let desired = desired(&config, &facts()).unwrap();
        assert_eq!(ids(&desired, "nat-gateway"), ["nat-gateway-a"]);
        let Spec::RouteTable(rt) = &desired.resources[&Id::from("route-table-private-b")].spec
        else {
            panic!()
        };
        assert_eq!(
            rt.routes.iter().next().unwrap().to_string(),
            "0.0.0.0/0 via nat-gateway-a"
        );
        assert_eq!(
            ids(&desired, "subnet"),
            [
                "subnet-private-a",
                "subnet-private-b",
                "subnet-public-a",
                "subnet-public-b"
            ]
        );
    }

    #[test]
    fn app_port_is_open_only_to_the_load_balancer_group() {
        let config = parse_environment(
            include_str!("../../environments/development.yaml"),
            "development",
        )
        .unwrap();
        let desired = desired(&config, &facts()).unwrap();
        let Spec::SecurityGroupRules(app) =
            &desired.resources[&Id::from("security-group-app-rules")].spec
        else {
            panic!()
        };
        let ingress: Vec<String> = app.ingress.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            ingress,
            ["tcp/8000 security-group-lb (API from the load balancer)"]
        );
        let Spec::SecurityGroupRules(db) =
            &desired.resources[&Id::from("security-group-db-rules")].spec
        else {
            panic!()
        };
        assert!(db.egress.is_empty());
        assert_eq!(
            db.ingress.iter().next().unwrap().peer,
            Peer::SecurityGroup(Ref::to("security-group-app"))
        );
    }

    #[test]
    fn every_resource_is_tagged_with_environment_id_and_spec_hash() {
        let config =
            parse_environment(include_str!("../../environments/staging.yaml"), "staging").unwrap();
        let desired = desired(&config, &facts()).unwrap();
        for (id, resource) in desired
            .resources
            .iter()
            .filter(|(_, r)| r.spec.kind().has_tags())
        {
            assert_eq!(resource.tags["deployer:environment"], "staging");
            assert_eq!(resource.tags["deployer:id"], id.as_str());
            assert_eq!(resource.tags["Name"], format!("staging-{id}"));
            assert_eq!(resource.tags["deployer:spec"].len(), 12);
            assert_eq!(resource.tags["cost-center"], "platform");
        }
    }

    #[test]
    fn too_few_zones_is_an_error_naming_the_field() {
        let config = parse_environment(
            include_str!("../../environments/production.yaml"),
            "production",
        )
        .unwrap();
        let two = Facts {
            availability_zones: vec!["eu-west-3a".into(), "eu-west-3b".into()],
        };
        let error = desired(&config, &two).unwrap_err();
        assert!(error.to_string().starts_with("network.azs asks for 3 availability zones but the region offers 2 (eu-west-3a, eu-west-3b)"));
    }
}
