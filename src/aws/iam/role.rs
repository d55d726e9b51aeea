//! IAM roles: a trust policy for one AWS service, managed policies, and deployer's one inline
//! policy. Discovery reads the whole trust document and every inline policy, so a widened trust
//! or a policy someone added beside deployer's is drift the plan shows and apply removes.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::try_join_all;

use super::{Iam, canonical_document, sdk_tags, tags_of};
use crate::apply::Resolved;
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::tags::sync_tags;
use crate::model::{RoleSpec, Spec, TAG_ENVIRONMENT, TAG_ID, Tags};

/// The one inline policy deployer writes on each role.
const INLINE_POLICY_NAME: &str = "deployer";

pub(crate) struct Roles<'a>(pub(crate) &'a Iam);

impl Roles<'_> {
    /// Makes `spec`'s trust policy the role's.
    async fn set_trust_policy(&self, spec: &RoleSpec) -> Result<(), AwsError> {
        self.0
            .client
            .update_assume_role_policy()
            .role_name(&spec.name)
            .policy_document(&spec.trust_policy)
            .send()
            .await
            .op("UpdateAssumeRolePolicy")?;
        Ok(())
    }

    /// The ARN of role `name` when it carries `tags`' environment and logical id: made by an
    /// earlier attempt of this very create.
    async fn made_by(&self, tags: &Tags, name: &str) -> Result<Option<String>, AwsError> {
        let output = self.0.client.get_role().role_name(name).send().await.op("GetRole")?;
        let Some(role) = output.role() else {
            return Ok(None);
        };
        let found = tags_of(role.tags());
        let ours = [TAG_ENVIRONMENT, TAG_ID]
            .iter()
            .all(|key| tags.get(*key).is_some() && found.get(*key) == tags.get(*key));
        Ok(ours.then(|| role.arn().to_owned()))
    }
}

impl Resource for Roles<'_> {
    type Spec = RoleSpec;

    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let path = self.0.environment_path(environment);
        let roles: Vec<_> = all_pages!(self.0.client.list_roles().path_prefix(&path), "ListRoles")?;
        // Every role at once, and each role's three reads at once: two round trips in all.
        try_join_all(roles.into_iter().map(|role| self.read_role(role))).await
    }

    async fn create(&self, request: Create<'_, RoleSpec>) -> Result<String, AwsError> {
        let spec = request.spec;
        let created = self
            .0
            .client
            .create_role()
            .role_name(&spec.name)
            .path(&spec.path)
            .assume_role_policy_document(&spec.trust_policy)
            .set_permissions_boundary(spec.permissions_boundary.clone())
            .set_tags(Some(sdk_tags(request.tags)))
            .send()
            .await
            .op("CreateRole");
        let arn = match created {
            Ok(output) => output.role().map(|r| r.arn().to_owned()).unwrap_or_default(),
            // IAM takes no client token: a CreateRole whose answer was lost, and retried, finds
            // the role its first attempt made. One with this resource's own tags is that role.
            Err(error) if error.code() == Some("EntityAlreadyExists") => {
                match self.made_by(request.tags, &spec.name).await? {
                    Some(arn) => {
                        self.set_trust_policy(spec).await?;
                        arn
                    }
                    None => return Err(error),
                }
            }
            Err(error) => return Err(error),
        };
        let none = RoleSpec {
            managed_policies: BTreeSet::new(),
            permissions_boundary: spec.permissions_boundary.clone(),
            inline_policy: String::new(),
            other_inline_policies: BTreeMap::new(),
            ..spec.clone()
        };
        self.sync_policies(spec, &none, request.resolved).await?;
        Ok(arn)
    }

    async fn update(&self, request: Update<'_, RoleSpec>) -> Result<(), AwsError> {
        let (spec, observed) = (request.spec, request.observed);
        if request.changed(RoleSpec::TRUST_POLICY) {
            self.set_trust_policy(spec).await?;
        }
        if request.changed(RoleSpec::PERMISSIONS_BOUNDARY) {
            self.set_boundary(spec).await?;
        }
        if request.changed_any(&[
            RoleSpec::MANAGED_POLICIES,
            RoleSpec::INLINE_POLICY,
            RoleSpec::OTHER_INLINE_POLICIES,
        ]) {
            self.sync_policies(spec, observed, request.resolved).await?;
        }
        sync_tags(self, &spec.name, request.tags, request.current_tags).await
    }

    /// IAM refuses to delete a role with policies or instance profiles still attached.
    async fn delete(&self, request: Delete<'_, RoleSpec>) -> Result<(), AwsError> {
        let name = request.observed.name.as_str();

        let attached = match self
            .0
            .client
            .list_attached_role_policies()
            .role_name(name)
            .send()
            .await
            .op("ListAttachedRolePolicies")
        {
            Err(error) if error.is_not_found() => return Ok(()),
            other => other?,
        };
        for policy in attached.attached_policies() {
            if let Some(arn) = policy.policy_arn() {
                self.0
                    .client
                    .detach_role_policy()
                    .role_name(name)
                    .policy_arn(arn)
                    .send()
                    .await
                    .op("DetachRolePolicy")?;
            }
        }
        let inline = self
            .0
            .client
            .list_role_policies()
            .role_name(name)
            .send()
            .await
            .op("ListRolePolicies")?;
        for policy in inline.policy_names() {
            self.0
                .client
                .delete_role_policy()
                .role_name(name)
                .policy_name(policy)
                .send()
                .await
                .op("DeleteRolePolicy")?;
        }
        let profiles = self
            .0
            .client
            .list_instance_profiles_for_role()
            .role_name(name)
            .send()
            .await
            .op("ListInstanceProfilesForRole")?;
        for profile in profiles.instance_profiles() {
            self.0
                .client
                .remove_role_from_instance_profile()
                .instance_profile_name(profile.instance_profile_name())
                .role_name(name)
                .send()
                .await
                .op("RemoveRoleFromInstanceProfile")?;
        }
        match self
            .0
            .client
            .delete_role()
            .role_name(name)
            .send()
            .await
            .op("DeleteRole")
        {
            Err(error) if error.is_not_found() => Ok(()),
            other => other.map(drop),
        }
    }
}

impl Roles<'_> {
    /// Attaches and detaches managed policies, rewrites deployer's inline one and deletes every
    /// other inline policy, where they differ.
    async fn sync_policies(&self, spec: &RoleSpec, observed: &RoleSpec, resolved: &Resolved) -> Result<(), AwsError> {
        let role = spec.name.as_str();
        let wanted: BTreeSet<String> = resolved.physical_all(&spec.managed_policies)?.into_iter().collect();
        let attached: BTreeSet<String> = resolved.physical_all(&observed.managed_policies)?.into_iter().collect();

        for arn in wanted.difference(&attached) {
            self.0
                .client
                .attach_role_policy()
                .role_name(role)
                .policy_arn(arn)
                .send()
                .await
                .op("AttachRolePolicy")?;
        }
        for arn in attached.difference(&wanted) {
            self.0
                .client
                .detach_role_policy()
                .role_name(role)
                .policy_arn(arn)
                .send()
                .await
                .op("DetachRolePolicy")?;
        }
        if spec.inline_policy != observed.inline_policy {
            self.0
                .client
                .put_role_policy()
                .role_name(role)
                .policy_name(INLINE_POLICY_NAME)
                .policy_document(&spec.inline_policy)
                .send()
                .await
                .op("PutRolePolicy")?;
        }
        for name in observed
            .other_inline_policies
            .keys()
            .filter(|name| !spec.other_inline_policies.contains_key(*name))
        {
            match self
                .0
                .client
                .delete_role_policy()
                .role_name(role)
                .policy_name(name)
                .send()
                .await
                .op("DeleteRolePolicy")
            {
                Err(error) if error.is_not_found() => {}
                other => drop(other?),
            }
        }
        Ok(())
    }
}

crate::aws::tags::tag_api!(
    Roles<'_> [0.client],
    role_name,
    tag_role("TagRole", tags => sdk_tags(tags)),
    untag_role("UntagRole")
);

impl Roles<'_> {
    /// Sets the role's permissions boundary to the spec's, or removes it.
    async fn set_boundary(&self, spec: &RoleSpec) -> Result<(), AwsError> {
        let client = &self.0.client;
        match &spec.permissions_boundary {
            Some(boundary) => client
                .put_role_permissions_boundary()
                .role_name(&spec.name)
                .permissions_boundary(boundary)
                .send()
                .await
                .op("PutRolePermissionsBoundary")
                .map(drop),
            None => client
                .delete_role_permissions_boundary()
                .role_name(&spec.name)
                .send()
                .await
                .op("DeleteRolePermissionsBoundary")
                .map(drop),
        }
    }

    /// A role's tags and boundary (GetRole: ListRoles answers neither), attached policies and
    /// inline policies, read concurrently: deployer's own with the list of every inline policy,
    /// then any other the list names (rarely any).
    async fn read_role(&self, role: aws_sdk_iam::types::Role) -> Result<Found, AwsError> {
        let name = role.role_name().to_owned();
        let client = &self.0.client;
        let tags = async { client.get_role().role_name(&name).send().await.op("GetRole") };
        let attached = async {
            client
                .list_attached_role_policies()
                .role_name(&name)
                .send()
                .await
                .op("ListAttachedRolePolicies")
        };
        let listed = async {
            all_pages!(client.list_role_policies().role_name(&name), "ListRolePolicies").map(|names: Vec<String>| names)
        };
        let (tags, attached, listed, inline_policy) =
            tokio::try_join!(tags, attached, listed, self.inline_policy(&name, INLINE_POLICY_NAME))?;
        let others = listed.into_iter().filter(|policy| policy != INLINE_POLICY_NAME);
        let other_inline_policies: BTreeMap<String, String> = try_join_all(others.map(|policy| async {
            let document = self.inline_policy(&name, &policy).await?;
            Ok::<_, AwsError>((policy, document))
        }))
        .await?
        .into_iter()
        .collect();
        let (tags, permissions_boundary) = match tags.role() {
            Some(full) => (
                tags_of(full.tags()),
                full.permissions_boundary()
                    .and_then(|b| b.permissions_boundary_arn())
                    .map(str::to_owned),
            ),
            None => (Tags::new(), None),
        };
        let attached: Vec<String> = attached
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_owned))
            .collect();
        let trust_policy = role
            .assume_role_policy_document()
            .map(canonical_document)
            .unwrap_or_default();
        let role_path = role.path().to_owned();
        Ok(Found::new(role.arn(), tags, move |lookup| {
            Spec::IamRole(RoleSpec {
                name,
                path: role_path,
                trust_policy,
                managed_policies: attached.iter().map(|arn| lookup(arn)).collect(),
                permissions_boundary,
                inline_policy,
                other_inline_policies,
            })
        }))
    }

    /// One inline policy's document, canonical JSON; empty when the role has none by that name
    /// (or it went between the list and the read).
    async fn inline_policy(&self, role: &str, policy: &str) -> Result<String, AwsError> {
        match self
            .0
            .client
            .get_role_policy()
            .role_name(role)
            .policy_name(policy)
            .send()
            .await
            .op("GetRolePolicy")
        {
            Ok(output) => Ok(canonical_document(output.policy_document())),
            Err(error) if error.is_not_found() => Ok(String::new()),
            Err(error) => Err(error),
        }
    }
}
