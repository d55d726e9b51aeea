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
    /// The attribute names both scalers' adapters ask about.
    pub const CPU_PERCENT: &'static str = "cpu_percent";
    pub const REQUESTS_PER_TARGET: &'static str = "requests_per_target";
    pub const REQUESTS_COUNTED_AT: &'static str = "requests_counted_at";

    pub(super) fn attributes(&self) -> [Attribute; 3] {
        [
            Attribute::scalar(Self::CPU_PERCENT, self.cpu_percent, false),
            Attribute::scalar(
                Self::REQUESTS_PER_TARGET,
                self.requests
                    .as_ref()
                    .map_or_else(|| "(none)".to_owned(), |r| r.per_target.to_string()),
                false,
            ),
            Attribute::optional(
                Self::REQUESTS_COUNTED_AT,
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
                    Reference::weak(Self::REQUESTS_COUNTED_AT, &r.load_balancer),
                    Reference::weak(Self::REQUESTS_COUNTED_AT, &r.target_group),
                ]
            })
            .collect()
    }
}
