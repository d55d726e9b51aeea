//! The resource-kind trait: every kind deployer manages implements it once, in one file beside
//! its service's SDK calls, and `registry.rs` names each implementation on one line. The
//! provider dispatches on the kind there and nowhere else.

use std::collections::BTreeSet;
use std::time::Duration;

use super::error::AwsError;
use super::found::Found;
use super::status::{Health, Revision};
use super::wait::Wait;
use crate::apply::{Progress, Resolved};
use crate::model::{Info, ObservedResource, Outputs, Ref, Tags, Variant};

/// One kind of resource, as AWS sees it.
///
/// `update` is required: it brings the resource to its desired spec, calling only what the
/// planned difference needs (`Update::changed`), and its tags through `tags::sync_tags`.
pub(crate) trait Resource {
    type Spec: Variant;

    /// How long its create, update or delete may wait for AWS to finish, unless the operator
    /// says otherwise (`--timeout KIND=DURATION`). Only slow kinds wait at all.
    const TIMEOUT: Duration = Duration::from_secs(10 * 60);

    /// Everything of this kind tagged for `environment`. A kind that AWS lists only through
    /// its parent (a listener through its load balancer) is found by the parent's `discover`,
    /// and says so.
    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError>;

    /// Creates the resource, already tagged, and returns its AWS id.
    async fn create(&self, request: Create<'_, Self::Spec>) -> Result<String, AwsError>;

    async fn update(&self, request: Update<'_, Self::Spec>) -> Result<(), AwsError>;

    /// Deletes the resource; one that is already gone counts as deleted.
    async fn delete(&self, request: Delete<'_, Self::Spec>) -> Result<(), AwsError>;

    // What a kind can tell about a deployed environment, each optional (like
    // terraform-plugin-framework's optional interfaces): the registry asks every kind, so
    // `output`, `status` and `history` see a new kind as soon as it says something.

    /// Its part of `deployer output`.
    fn outputs(&self, _read: &Read<'_, Self::Spec>, _outputs: &mut Outputs) {}

    /// How it runs now, for `deployer status`.
    async fn health(&self, _read: &Read<'_, Self::Spec>) -> Result<Option<Health>, AwsError> {
        Ok(None)
    }

    /// The revisions it has deployed, newest first, when it is what runs the API.
    async fn revisions(&self, _read: &Read<'_, Self::Spec>) -> Result<Option<Vec<Revision>>, AwsError> {
        Ok(None)
    }
}

/// One deployed resource, for the read abilities: its spec, what discovery recorded, and the
/// rest of the environment (to follow its references).
pub(crate) struct Read<'a, S> {
    pub(crate) spec: &'a S,
    pub(crate) resource: &'a ObservedResource,
    pub(crate) observed: &'a [ObservedResource],
}

impl<S> Read<'_, S> {
    /// The AWS id a reference names, when it is deployed (or external).
    pub(crate) fn physical(&self, target: &Ref) -> Option<String> {
        match target {
            Ref::Managed(id) => self
                .observed
                .iter()
                .find(|r| &r.id == id)
                .map(|r| r.physical_id.clone()),
            Ref::External(physical) => Some(physical.clone()),
        }
    }
}

pub(crate) struct Create<'a, S> {
    pub(crate) spec: &'a S,
    pub(crate) tags: &'a Tags,
    pub(crate) resolved: &'a Resolved,
    pub(crate) progress: Progress<'a>,
    /// Sent by every retry of the create call, so a retried create on real AWS returns what
    /// the first attempt made instead of a second resource (`client_token`).
    pub(crate) client_token: String,
    pub(crate) timeout: Duration,
}

pub(crate) struct Update<'a, S> {
    pub(crate) physical_id: &'a str,
    pub(crate) spec: &'a S,
    pub(crate) observed: &'a S,
    pub(crate) tags: &'a Tags,
    pub(crate) current_tags: &'a Tags,
    /// Read-only facts discovery recorded (an ARN that tagging calls need).
    pub(crate) info: &'a Info,
    pub(crate) resolved: &'a Resolved,
    pub(crate) progress: Progress<'a>,
    pub(crate) timeout: Duration,
    changed: BTreeSet<&'static str>,
}

impl<'a, S: Variant> Update<'a, S> {
    pub(crate) fn new(
        physical_id: &'a str,
        (spec, observed): (&'a S, &'a S),
        (tags, current_tags): (&'a Tags, &'a Tags),
        info: &'a Info,
        changed: BTreeSet<&'static str>,
        (resolved, progress, timeout): (&'a Resolved, Progress<'a>, Duration),
    ) -> Self {
        Self {
            physical_id,
            spec,
            observed,
            tags,
            current_tags,
            info,
            resolved,
            progress,
            timeout,
            changed,
        }
    }

    /// Whether the plan found `attribute` different, or a resource it names replaced.
    pub(crate) fn changed(&self, attribute: &str) -> bool {
        debug_assert!(
            self.spec.attributes().iter().any(|a| a.name == attribute)
                || self.spec.references().iter().any(|r| r.attribute == attribute),
            "{} has no attribute `{attribute}`",
            S::KIND
        );
        self.changed.contains(attribute)
    }

    /// Whether any of `attributes` changed.
    pub(crate) fn changed_any(&self, attributes: &[&str]) -> bool {
        attributes.iter().any(|attribute| self.changed(attribute))
    }
}

pub(crate) struct Delete<'a, S> {
    pub(crate) physical_id: &'a str,
    pub(crate) observed: &'a S,
    pub(crate) tags: &'a Tags,
    pub(crate) resolved: &'a Resolved,
    pub(crate) progress: Progress<'a>,
    pub(crate) timeout: Duration,
}

/// Every step's request can start a wait on its resource, within the step's timeout.
macro_rules! waits {
    ($($request:ident),*) => {$(
        impl<'a, S: Variant> $request<'a, S> {
            pub(crate) fn wait(&self, what: impl Into<String>) -> Wait<'a> {
                Wait {
                    what: what.into(),
                    kind: S::KIND,
                    timeout: self.timeout,
                    progress: self.progress,
                }
            }
        }
    )*};
}
waits!(Create, Update, Delete);

/// The client token for one create: the SDK sends the same token with every retry of
/// the call, so a create whose answer was lost (a reset connection, a timeout) and is retried
/// returns the resource the first attempt made instead of making a second.
///
/// Fresh for each create, not derived from the spec alone: AWS keeps answering a token with
/// its original resource for hours, even after that resource was deleted, so a destroy and
/// an apply of the same spec on one afternoon would get back the deleted NAT gateway.
/// 32 hex characters fit every API's limit (ECS allows 36).
pub(crate) fn client_token() -> String {
    format!("{:032x}", fastrand::u128(..))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_create_gets_its_own_token_within_every_api_limit() {
        let (first, second) = (client_token(), client_token());
        assert_ne!(first, second);
        assert_eq!(first.len(), 32);
        assert!(first.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
