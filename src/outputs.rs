//! An environment's outputs, derived from what discovery found: ids people and scripts need.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Kind, ObservedResource, Spec};

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Outputs {
    pub environment: String,
    pub region: String,
    pub vpc_id: Option<String>,
    pub public_subnet_ids: Vec<String>,
    pub private_subnet_ids: Vec<String>,
    pub nat_gateway_ids: Vec<String>,
    pub security_group_ids: BTreeMap<String, String>,
    pub load_balancer_dns: Option<String>,
    /// Where the API answers: `https://<load balancer DNS name>` with HTTPS, else `http://`.
    pub api_url: Option<String>,
    pub database_endpoint: Option<String>,
    /// The environment's ECR repository (`<account>.dkr.ecr.<region>.amazonaws.com/<name>`):
    /// where `deployer push` sends images.
    pub registry_url: Option<String>,
    /// The CloudWatch alarms deployer manages, by name.
    pub alarms: Vec<String>,
    /// The SNS topic the alarms publish to, when `alarms.email` is set.
    pub alarm_topic_arn: Option<String>,
}

impl Outputs {
    pub fn from_observed(environment: &str, region: &str, observed: &[ObservedResource]) -> Self {
        let mut outputs = Self {
            environment: environment.to_owned(),
            region: region.to_owned(),
            ..Self::default()
        };
        // With an ALB's HTTPS listener port 80 only redirects, and a classic ELB with HTTPS
        // has no port 80: the API's URL is https://.
        let https = observed.iter().any(|r| match &r.spec {
            Spec::Listener(listener) => listener.protocol == "HTTPS",
            Spec::ClassicLoadBalancer(balancer) => balancer.certificate.is_some(),
            _ => false,
        });
        let scheme = if https { "https" } else { "http" };
        let mut sorted: Vec<&ObservedResource> = observed.iter().collect();
        sorted.sort_by(|a, b| a.id.cmp(&b.id));
        for resource in sorted {
            let id = resource.id.as_str();
            let physical = resource.physical_id.clone();
            match resource.spec.kind() {
                Kind::Vpc => outputs.vpc_id = Some(physical),
                Kind::Subnet if id.starts_with("subnet-public-") => outputs.public_subnet_ids.push(physical),
                Kind::Subnet => outputs.private_subnet_ids.push(physical),
                Kind::NatGateway => outputs.nat_gateway_ids.push(physical),
                Kind::ClassicLoadBalancer | Kind::LoadBalancer => {
                    outputs.load_balancer_dns = resource.info.get("dns_name").cloned();
                    outputs.api_url = outputs
                        .load_balancer_dns
                        .as_ref()
                        .map(|dns| format!("{scheme}://{dns}"));
                }
                Kind::EcrRepository => outputs.registry_url = resource.info.get("uri").cloned(),
                Kind::DbCluster => outputs.database_endpoint = resource.info.get("endpoint").cloned(),
                Kind::Alarm => outputs.alarms.push(physical),
                Kind::AlarmTopic => outputs.alarm_topic_arn = Some(physical),
                Kind::SecurityGroup => {
                    let role = id.trim_start_matches("security-group-").to_owned();
                    outputs.security_group_ids.insert(role, physical);
                }
                _ => {}
            }
        }
        outputs
    }
}
