//! Autoscaling between `compute.min` and `compute.max`: target-tracking policies on average CPU
//! and, with an ALB in front, on requests per target, shared by both scalers' specs.

use serde::Serialize;

use crate::model::Ref;
use crate::model::spec::{Attribute, Reference};

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
    pub(super) fn attributes(&self) -> [Attribute; 3] {
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

    pub(super) fn references(&self) -> Vec<Reference<'_>> {
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
