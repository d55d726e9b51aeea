//! Autoscaling between `compute.min` and `compute.max`: target-tracking policies on average CPU
//! and, with an ALB in front, on requests per target. The ECS service scales through an
//! Application Auto Scaling scalable target; the EC2 Auto Scaling group through policies of
//! its own.

use serde::Serialize;

use super::Ref;
use super::spec::{Attribute, Reference, ResourceSpec};

/// The targets the scaler tracks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScalingPolicies {
    /// Average CPU utilisation, percent.
    pub cpu_percent: u16,
    /// Requests per target per minute, counted at this target group behind this load balancer.
    pub requests: Option<RequestScaling>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestScaling {
    pub per_target: u32,
    pub load_balancer: Ref,
    pub target_group: Ref,
}

impl ScalingPolicies {
    fn attributes(&self) -> [Attribute; 3] {
        [
            Attribute::scalar("cpu_percent", self.cpu_percent, false),
            Attribute::scalar(
                "requests_per_target",
                self.requests
                    .as_ref()
                    .map_or_else(|| "(none)".to_owned(), |r| r.per_target.to_string()),
                false,
            ),
            Attribute::optional(
                "requests_counted_at",
                self.requests.as_ref().map(|r| &r.target_group),
                false,
            ),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        self.requests
            .iter()
            .flat_map(|r| {
                [
                    Reference::weak("requests_counted_at", &r.load_balancer),
                    Reference::weak("requests_counted_at", &r.target_group),
                ]
            })
            .collect()
    }
}

/// The ECS service's scalable target (its desired count between min and max) and policies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceScalingSpec {
    /// `service/<cluster>/<service>`: what Application Auto Scaling calls the service.
    pub resource_id: String,
    pub service: Ref,
    pub min: u32,
    pub max: u32,
    pub policies: ScalingPolicies,
}

impl ResourceSpec for ServiceScalingSpec {
    fn attributes(&self) -> Vec<Attribute> {
        let mut attributes = vec![
            Attribute::scalar("resource_id", &self.resource_id, true),
            Attribute::scalar("service", &self.service, true),
            Attribute::scalar("min", self.min, false),
            Attribute::scalar("max", self.max, false),
        ];
        attributes.extend(self.policies.attributes());
        attributes
    }

    fn references(&self) -> Vec<Reference<'_>> {
        let mut references = vec![Reference::strong("service", &self.service)];
        references.extend(self.policies.references());
        references
    }
}

/// The Auto Scaling group's target-tracking policies (min and max are the group's own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupScalingSpec {
    pub group_name: String,
    pub group: Ref,
    pub policies: ScalingPolicies,
}

impl ResourceSpec for GroupScalingSpec {
    fn attributes(&self) -> Vec<Attribute> {
        let mut attributes = vec![
            Attribute::scalar("group_name", &self.group_name, true),
            Attribute::scalar("group", &self.group, true),
        ];
        attributes.extend(self.policies.attributes());
        attributes
    }

    fn references(&self) -> Vec<Reference<'_>> {
        let mut references = vec![Reference::strong("group", &self.group)];
        references.extend(self.policies.references());
        references
    }
}
