//! The ALB's specs: the load balancer, its target group (and health check) and listeners.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::model::Ref;
use crate::model::spec::{Attribute, Reference, ResourceSpec};

/// An Application Load Balancer (internet-facing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadBalancerSpec {
    pub name: String,
    pub subnets: BTreeSet<Ref>,
    pub security_groups: BTreeSet<Ref>,
    /// Drop headers whose names are not valid HTTP (request smuggling through odd headers).
    pub drop_invalid_header_fields: bool,
    /// How the ALB treats ambiguous requests (HTTP desync): `strictest` refuses them all.
    pub desync_mitigation_mode: String,
    /// Set in protected environments: AWS refuses to delete the load balancer.
    pub deletion_protection: bool,
    /// The bucket it writes access logs to; `None`: no access logs.
    pub access_logs: Option<Ref>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetGroupSpec {
    pub name: String,
    pub vpc: Ref,
    pub port: u16,
    /// `instance` for EC2, `ip` for Fargate tasks.
    pub target_type: String,
    pub health_check_path: String,
    pub health_check: HealthCheck,
    /// Seconds a deregistered target keeps its requests (`deregistration_delay.timeout_seconds`).
    pub deregistration_delay: u16,
}

/// How a load balancer checks its targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HealthCheck {
    pub interval_seconds: u16,
    pub timeout_seconds: u16,
    pub healthy_threshold: u16,
    pub unhealthy_threshold: u16,
}

impl std::fmt::Display for HealthCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "every {} s, {} s timeout, in after {}, out after {}",
            self.interval_seconds, self.timeout_seconds, self.healthy_threshold, self.unhealthy_threshold
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListenerSpec {
    pub load_balancer: Ref,
    pub port: u16,
    /// `HTTP`, or `HTTPS` with a certificate and a TLS policy.
    pub protocol: String,
    pub certificate: Option<String>,
    pub ssl_policy: Option<String>,
    pub action: ListenerAction,
}

/// What a listener does with a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ListenerAction {
    Forward(Ref),
    /// A permanent redirect to HTTPS on this port (the same host, path and query).
    RedirectToHttps(u16),
}

impl std::fmt::Display for ListenerAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Forward(target) => write!(f, "forward to {target}"),
            Self::RedirectToHttps(port) => write!(f, "redirect (301) to HTTPS on {port}"),
        }
    }
}

/// The attribute names `aws/` acts on, spelled once.
impl LoadBalancerSpec {
    pub const SECURITY_GROUPS: &'static str = "security_groups";
    pub const SUBNETS: &'static str = "subnets";
}

impl ResourceSpec for LoadBalancerSpec {
    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("name", &self.name, true),
            Attribute::set(Self::SUBNETS, &self.subnets),
            Attribute::set(Self::SECURITY_GROUPS, &self.security_groups),
            Attribute::scalar("drop_invalid_header_fields", self.drop_invalid_header_fields, false),
            Attribute::scalar("desync_mitigation_mode", &self.desync_mitigation_mode, false),
            Attribute::protection("deletion_protection", self.deletion_protection),
            Attribute::optional("access_logs", self.access_logs.as_ref(), false),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        Reference::weak_all(Self::SUBNETS, &self.subnets)
            .chain(Reference::weak_all(Self::SECURITY_GROUPS, &self.security_groups))
            .chain(Reference::weak_all("access_logs", &self.access_logs))
            .collect()
    }
}

/// The attribute names `aws/` acts on, spelled once.
impl TargetGroupSpec {
    pub const DEREGISTRATION_DELAY: &'static str = "deregistration_delay";
    pub const HEALTH_CHECK: &'static str = "health_check";
    pub const HEALTH_CHECK_PATH: &'static str = "health_check_path";
}

impl ResourceSpec for TargetGroupSpec {
    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("name", &self.name, true),
            Attribute::scalar("vpc", &self.vpc, true),
            Attribute::scalar("port", self.port, true),
            Attribute::scalar("target_type", &self.target_type, true),
            Attribute::scalar(Self::HEALTH_CHECK_PATH, &self.health_check_path, false),
            Attribute::scalar(Self::HEALTH_CHECK, self.health_check, false),
            Attribute::scalar(Self::DEREGISTRATION_DELAY, self.deregistration_delay, false),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        vec![Reference::strong("vpc", &self.vpc)]
    }

    fn incarnation_name(&self) -> Option<&str> {
        Some(&self.name)
    }
}

/// The attribute names `aws/` acts on, spelled once.
impl ListenerSpec {
    pub const ACTION: &'static str = "action";
    pub const CERTIFICATE: &'static str = "certificate";
    pub const PORT: &'static str = "port";
    pub const PROTOCOL: &'static str = "protocol";
    pub const SSL_POLICY: &'static str = "ssl_policy";
}

impl ResourceSpec for ListenerSpec {
    fn attributes(&self) -> Vec<Attribute> {
        let none = || "(none)".to_owned();
        vec![
            Attribute::scalar("load_balancer", &self.load_balancer, true),
            Attribute::scalar(Self::PORT, self.port, false),
            Attribute::scalar(Self::PROTOCOL, &self.protocol, false),
            Attribute::scalar(Self::CERTIFICATE, self.certificate.clone().unwrap_or_else(none), false),
            Attribute::scalar(Self::SSL_POLICY, self.ssl_policy.clone().unwrap_or_else(none), false),
            Attribute::scalar(Self::ACTION, &self.action, false),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        let mut references = vec![Reference::strong("load_balancer", &self.load_balancer)];
        if let ListenerAction::Forward(target) = &self.action {
            references.push(Reference::weak(Self::ACTION, target));
        }
        references
    }
}
