//! The Auto Scaling group's spec, and its target tracking policies'.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::model::Ref;
use crate::model::spec::{Attribute, Reference, ResourceSpec, desired_count};
use crate::model::tags::TAG_DIGEST;

use super::*;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AutoScalingGroupSpec {
    pub name: String,
    pub launch_template: Ref,
    /// Hash of the launch template's spec: when it changes the group rolls its instances.
    pub template_version: String,
    pub min: u32,
    pub max: u32,
    pub desired: u32,
    /// A scaling policy moves `desired` between min and max: it is set at creation only.
    pub scaled: bool,
    pub subnets: BTreeSet<Ref>,
    pub target_groups: BTreeSet<Ref>,
    pub classic_load_balancers: BTreeSet<Ref>,
    /// Seconds the group ignores failing load balancer checks of an instance just launched.
    pub health_check_grace_seconds: u16,
}

/// The attribute names `aws/` acts on, spelled once.
impl AutoScalingGroupSpec {
    pub const CLASSIC_LOAD_BALANCERS: &'static str = "classic_load_balancers";
    pub const DESIRED: &'static str = crate::model::spec::DESIRED;
    pub const HEALTH_CHECK_GRACE_SECONDS: &'static str = "health_check_grace_seconds";
    pub const LAUNCH_TEMPLATE: &'static str = "launch_template";
    pub const MAX: &'static str = "max";
    pub const MIN: &'static str = "min";
    pub const SUBNETS: &'static str = "subnets";
    pub const TARGET_GROUPS: &'static str = "target_groups";
}

impl ResourceSpec for AutoScalingGroupSpec {
    fn physical_name(&self) -> Option<&str> {
        Some(&self.name)
    }

    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("name", &self.name, true),
            Attribute::scalar(
                Self::LAUNCH_TEMPLATE,
                format!("{} ({})", self.launch_template, self.template_version),
                false,
            ),
            Attribute::scalar(Self::MIN, self.min, false),
            Attribute::scalar(Self::MAX, self.max, false),
            desired_count(self.desired, self.scaled),
            Attribute::set(Self::SUBNETS, &self.subnets),
            Attribute::set(Self::TARGET_GROUPS, &self.target_groups),
            Attribute::set(Self::CLASSIC_LOAD_BALANCERS, &self.classic_load_balancers),
            Attribute::scalar(Self::HEALTH_CHECK_GRACE_SECONDS, self.health_check_grace_seconds, false),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        let mut refs = vec![Reference::weak(Self::LAUNCH_TEMPLATE, &self.launch_template)];
        refs.extend(Reference::weak_all(Self::SUBNETS, &self.subnets));
        refs.extend(Reference::weak_all(Self::TARGET_GROUPS, &self.target_groups));
        refs.extend(Reference::weak_all(
            Self::CLASSIC_LOAD_BALANCERS,
            &self.classic_load_balancers,
        ));
        refs
    }

    fn own_tags(&self, _protect: bool) -> Vec<(&'static str, String)> {
        vec![(TAG_DIGEST, self.template_version.clone())]
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
