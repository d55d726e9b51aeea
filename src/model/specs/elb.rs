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

/// The attribute names `aws/` acts on, spelled once.
impl ClassicLoadBalancerSpec {
    pub const ACCESS_LOGS: &'static str = "access_logs";
    pub const CONNECTION_DRAINING: &'static str = "connection_draining";
    pub const CROSS_ZONE: &'static str = "cross_zone";
    pub const HEALTH_CHECK: &'static str = "health_check";
    pub const LISTENER: &'static str = "listener";
    pub const SECURITY_GROUPS: &'static str = "security_groups";
    pub const SSL_POLICY: &'static str = "ssl_policy";
    pub const SUBNETS: &'static str = "subnets";
}

impl ResourceSpec for ClassicLoadBalancerSpec {
    fn physical_name(&self) -> Option<&str> {
        Some(&self.name)
    }

    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("name", &self.name, true),
            Attribute::set(Self::SUBNETS, &self.subnets),
            Attribute::set(Self::SECURITY_GROUPS, &self.security_groups),
            Attribute::scalar(
                Self::LISTENER,
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
                Self::SSL_POLICY,
                self.ssl_policy.clone().unwrap_or_else(|| "(none)".to_owned()),
                false,
            ),
            Attribute::scalar(
                Self::HEALTH_CHECK,
                format!("{} {}", self.health_check_target, self.health_check),
                false,
            ),
            Attribute::scalar(Self::CROSS_ZONE, self.cross_zone, false),
            Attribute::scalar(Self::CONNECTION_DRAINING, self.connection_draining, false),
            Attribute::optional(Self::ACCESS_LOGS, self.access_logs.as_ref(), false),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        Reference::weak_all(Self::SUBNETS, &self.subnets)
            .chain(Reference::weak_all(Self::SECURITY_GROUPS, &self.security_groups))
            .chain(Reference::weak_all(Self::ACCESS_LOGS, &self.access_logs))
            .collect()
    }
}
