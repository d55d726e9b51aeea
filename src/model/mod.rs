//! Desired resources: logical ids, specs, references between them, and tags. Pure: built from
//! an environment's config plus facts read from AWS (its availability zones), no I/O here.

mod build;
mod containers;
mod facts;
mod id;
mod kinds;
pub mod names;
mod ordering;
mod outputs;
mod spec;
mod specs;
mod tags;
mod templates;

pub use build::{
    BootstrapInput, CiPolicies, ModelError, check_without_aws, desired, desired_bootstrap, desired_repository,
    github_environment, log_bucket_name, stand_in_facts,
};
pub use facts::Facts;
// The names' older spellings, used across the crate and its tests.
#[cfg(test)]
pub(crate) use build::{as_deployed, example_facts};
pub use containers::*;
pub use id::Id;
pub use names::{
    BOOTSTRAP, GITHUB_OIDC_URL, ci_policy, ci_role, iam as iam_name, iam_path, is_target_group as is_target_group_name,
    log_group as log_group_name, repository as repository_name, target_group as target_group_name,
};
pub use ordering::delete_waits_for;
pub use outputs::Outputs;
pub use spec::*;
pub use tags::{
    TAG_DIGEST, TAG_ENVIRONMENT, TAG_FINAL_SNAPSHOT, TAG_ID, TAG_PROTECT, TAG_SPEC, Tags, spec_hash, tags_for,
};
pub use templates::TemplateError;

use std::collections::BTreeMap;

/// A resource deployer wants to exist.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredResource {
    pub spec: Spec,
    pub tags: Tags,
    /// What must be ready before it is created or updated, though the spec never names it
    /// (see `ordering`): orders steps, never compared, never followed on replacement.
    pub after: std::collections::BTreeSet<Id>,
}

/// Everything one environment should consist of, keyed by logical id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Desired {
    pub environment: String,
    pub resources: BTreeMap<Id, DesiredResource>,
}

/// A resource found in AWS carrying the environment's tag, translated back into a spec whose
/// references name logical ids wherever the referenced resource is ours.
/// Read-only facts discovery records beside a resource's spec, for outputs, status and the
/// calls that need them; never compared, never planned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Info {
    /// The ARN of a resource deployer names otherwise (RDS by identifier, ECR by name, log
    /// groups, alarms), for the calls that take only ARNs.
    pub arn: Option<String>,
    /// A load balancer's DNS name.
    pub dns_name: Option<String>,
    /// A database cluster's writer endpoint.
    pub endpoint: Option<String>,
    /// A repository's URI (`<registry>/<name>`).
    pub uri: Option<String>,
    /// An alarm's state: `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub alarm_state: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObservedResource {
    pub id: Id,
    pub physical_id: String,
    pub spec: Spec,
    pub tags: Tags,
    /// Read-only facts AWS reports (a load balancer's DNS name); never compared.
    pub info: Info,
}
