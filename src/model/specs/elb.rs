//! The classic load balancer's spec.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::model::Ref;
use crate::model::spec::{Attribute, Reference, ResourceSpec};

use super::*;

/// A classic Elastic Load Balancer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClassicLoadBalancerSpec {
    pub name: String,
    pub subnets: BTreeSet<Ref>,
    pub security_groups: BTreeSet<Ref>,
    pub listener_port: u16,
    pub instance_port: u16,
    /// With HTTPS: the ACM certificate of the (only) listener, and its TLS policy.
    pub certificate: Option<String>,
    pub ssl_policy: Option<String>,
    /// `HTTP:8000/healthcheck`.
    pub health_check_target: String,
    pub health_check: HealthCheck,
    pub cross_zone: bool,
    /// Seconds an instance leaving keeps its requests (connection draining; 0: off).
    pub connection_draining: u16,
    /// The bucket it writes access logs to; `None`: no access logs.
    pub access_logs: Option<Ref>,
}

impl ResourceSpec for ClassicLoadBalancerSpec {
    fn physical_name(&self) -> Option<&str> {
        Some(&self.name)
    }

    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("name", &self.name, true),
            Attribute::set("subnets", &self.subnets),
            Attribute::set("security_groups", &self.security_groups),
            Attribute::scalar(
                "listener",
                match &self.certificate {
                    Some(certificate) => format!(
                        "HTTPS {} → {} (certificate {certificate})",
                        self.listener_port, self.instance_port
                    ),
                    None => format!("HTTP {} → {}", self.listener_port, self.instance_port),
                },
                false,
            ),
            Attribute::scalar(
                "ssl_policy",
                self.ssl_policy.clone().unwrap_or_else(|| "(none)".to_owned()),
                false,
            ),
            Attribute::scalar(
                "health_check",
                format!("{} {}", self.health_check_target, self.health_check),
                false,
            ),
            Attribute::scalar("cross_zone", self.cross_zone, false),
            Attribute::scalar("connection_draining", self.connection_draining, false),
            Attribute::optional("access_logs", self.access_logs.as_ref(), false),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        Reference::weak_all("subnets", &self.subnets)
            .chain(Reference::weak_all("security_groups", &self.security_groups))
            .chain(Reference::weak_all("access_logs", &self.access_logs))
            .collect()
    }
}
