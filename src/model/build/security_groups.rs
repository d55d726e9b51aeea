//! The security groups and their rules: least privilege between the internet, the load
//! balancer, the API and the database.

use std::collections::BTreeSet;

use super::*;
use crate::config::LoadBalancerKind;

pub(super) fn add_security_groups(config: &EnvironmentConfig, add: &mut impl FnMut(String, Spec)) {
    let has_database = config.database.is_some();
    let groups: &[(&str, &str)] = if has_database {
        &[("lb", "load balancer"), ("app", "application"), ("db", "database")]
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
    let group = |role: &str| Peer::SecurityGroup(Ref::Managed(Id::new(format!("security-group-{role}"))));
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
    // With HTTPS an ALB keeps port 80 to redirect; a classic ELB cannot redirect, so it has
    // no port 80 at all.
    let lb = &config.load_balancer;
    let mut lb_ingress = BTreeSet::new();
    if lb.https.is_none() || lb.kind == LoadBalancerKind::Alb {
        lb_ingress.insert(tcp(lb_port, Peer::Cidr(ANYWHERE.into()), "HTTP from anywhere"));
    }
    if lb.https.is_some() {
        lb_ingress.insert(tcp(HTTPS, Peer::Cidr(ANYWHERE.into()), "HTTPS from anywhere"));
    }
    let lb_rules = SecurityGroupRulesSpec {
        group: Ref::to("security-group-lb"),
        ingress: lb_ingress,
        egress: BTreeSet::from([tcp(app_port, group("app"), "to the API")]),
    };
    let mut app_egress = BTreeSet::from([tcp(HTTPS, Peer::Cidr(ANYWHERE.into()), "HTTPS for images and AWS APIs")]);
    if has_database {
        app_egress.insert(tcp(POSTGRES, group("db"), "to the database"));
    }
    let app_rules = SecurityGroupRulesSpec {
        group: Ref::to("security-group-app"),
        ingress: BTreeSet::from([
            tcp(app_port, group("lb"), "API from the load balancer"),
            // Prometheus inside the VPC; the load balancer never forwards this port.
            tcp(
                i32::from(config.app.metrics_port),
                Peer::Cidr(config.network.cidr.to_string()),
                "metrics from inside the VPC",
            ),
        ]),
        egress: app_egress,
    };
    add("security-group-lb-rules".into(), Spec::SecurityGroupRules(lb_rules));
    add("security-group-app-rules".into(), Spec::SecurityGroupRules(app_rules));
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
}
