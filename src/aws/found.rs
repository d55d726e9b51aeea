//! What adapters report from discovery, before AWS ids in references are translated to
//! logical ids. The translation needs every service's resources at once (an Auto Scaling
//! group names a target group's ARN, a launch template's id and subnet ids), so adapters
//! return a spec-building closure and `resolve` runs them all with one lookup.

use std::collections::BTreeMap;

use crate::model::{Id, Info, ObservedResource, Ref, Spec, TAG_ENVIRONMENT, TAG_ID, Tags};

/// The ARN discovery recorded for `name`, for `operation`.
pub(crate) fn recorded_arn<'a>(
    info: &'a Info,
    name: &str,
    operation: &'static str,
) -> Result<&'a str, crate::aws::AwsError> {
    info.arn.as_deref().ok_or_else(|| crate::aws::AwsError::Other {
        operation,
        detail: format!("internal error: discovery recorded no ARN for {name}"),
    })
}

/// Maps an AWS id (or ARN, or name) to a reference.
pub(crate) type Lookup<'a> = &'a dyn Fn(&str) -> Ref;

pub(crate) struct Found {
    pub(crate) physical_id: String,
    pub(crate) tags: Tags,
    pub(crate) spec: Box<dyn FnOnce(Lookup<'_>) -> Spec + Send>,
    pub(crate) info: Info,
    /// False for a part of another resource sharing its id (a security group's rules): other
    /// resources' references to that id mean the whole, not the part.
    pub(crate) addressable: bool,
}

impl Found {
    pub(crate) fn new(
        physical_id: impl Into<String>,
        tags: Tags,
        spec: impl FnOnce(Lookup<'_>) -> Spec + Send + 'static,
    ) -> Self {
        Self {
            physical_id: physical_id.into(),
            tags,
            spec: Box::new(spec),
            info: Info::default(),
            addressable: true,
        }
    }

    #[must_use]
    pub(crate) fn part_of_another(mut self) -> Self {
        self.addressable = false;
        self
    }

    /// With the facts `record` sets on its `Info`.
    #[must_use]
    pub(crate) fn with_info(mut self, record: impl FnOnce(&mut Info)) -> Self {
        record(&mut self.info);
        self
    }
}

/// Builds observed resources for `environment`. Re-checks the environment tag: a describe
/// call that ignores its filter (the emulator's DescribeNatGateways does) must never make
/// another environment's resources ours.
pub(crate) fn resolve(found: Vec<Found>, environment: &str) -> Vec<ObservedResource> {
    let found: Vec<Found> = found
        .into_iter()
        .filter(|f| f.tags.get(TAG_ENVIRONMENT).is_some_and(|e| e == environment))
        .collect();
    let mut logical_ids: BTreeMap<String, Id> = BTreeMap::new();
    for f in found.iter().filter(|f| f.addressable) {
        let Some(id) = f.tags.get(TAG_ID) else { continue };
        if let Some(other) = logical_ids.insert(f.physical_id.clone(), Id::new(id.clone()))
            && other.as_str() != id
        {
            tracing::warn!(physical_id = %f.physical_id, "{other} and {id} share an AWS id; references to it are ambiguous");
        }
    }
    let lookup = |physical: &str| match logical_ids.get(physical) {
        Some(id) => Ref::Managed(id.clone()),
        None => Ref::External(physical.to_owned()),
    };
    let mut observed = Vec::new();
    for f in found {
        let Some(id) = f.tags.get(TAG_ID).map(|id| Id::new(id.clone())) else {
            tracing::warn!(physical_id = %f.physical_id, "resource has {TAG_ENVIRONMENT} but no {TAG_ID} tag; leaving it alone");
            continue;
        };
        let spec = (f.spec)(&lookup);
        let tags = if spec.kind().has_tags() { f.tags } else { Tags::new() };
        observed.push(ObservedResource {
            id,
            physical_id: f.physical_id,
            spec,
            tags,
            info: f.info,
        });
    }
    observed
}
