//! The ECS service's scalable target and policies (Application Auto Scaling).

use serde::Serialize;

use crate::model::Ref;
use crate::model::spec::{Attribute, Reference, ResourceSpec};

use super::*;

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

/// The attribute names `aws/` acts on, spelled once.
impl ServiceScalingSpec {
    pub const CPU_PERCENT: &'static str = super::ScalingPolicies::CPU_PERCENT;
    pub const MAX: &'static str = "max";
    pub const MIN: &'static str = "min";
    pub const REQUESTS_COUNTED_AT: &'static str = super::ScalingPolicies::REQUESTS_COUNTED_AT;
    pub const REQUESTS_PER_TARGET: &'static str = super::ScalingPolicies::REQUESTS_PER_TARGET;
}

impl ResourceSpec for ServiceScalingSpec {
    fn attributes(&self) -> Vec<Attribute> {
        let mut attributes = vec![
            Attribute::scalar("resource_id", &self.resource_id, true),
            Attribute::scalar("service", &self.service, true),
            Attribute::scalar(Self::MIN, self.min, false),
            Attribute::scalar(Self::MAX, self.max, false),
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
