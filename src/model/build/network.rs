//! The VPC: subnets in each zone, the internet gateway, NAT gateways (none, one, or one per
//! zone) and the route tables.

use std::collections::BTreeSet;

use super::*;
use crate::config::NatMode;

/// The VPC and everything its subnets route through.
pub(super) fn add_network(config: &EnvironmentConfig, zones: &[String], add: &mut impl FnMut(String, Spec)) {
    let zone_count = zones.len();
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
        add(format!("nat-eip-{letter}"), Spec::ElasticIp(ElasticIpSpec {}));
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
                target: RouteTarget::NatGateway(Ref::Managed(Id::new(format!("nat-gateway-{nat_letter}")))),
            }])
        };
        add(
            format!("route-table-private-{letter}"),
            Spec::RouteTable(RouteTableSpec {
                vpc: Ref::to("vpc"),
                routes,
                subnets: BTreeSet::from([Ref::Managed(Id::new(format!("subnet-private-{letter}")))]),
            }),
        );
    }
}
