//! `deployer bootstrap`'s customer managed policies, under `/deployer/bootstrap/<region>/`; no
//! environment has any (discovery asks nothing for them). A changed document is a new default
//! version, the oldest other one deleted when IAM's five are used.

use super::{Iam, canonical_document, sdk_tags, tags_of};
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::tags::sync_tags;
use crate::model::{BOOTSTRAP, ManagedPolicySpec, Spec};

pub(crate) struct ManagedPolicies<'a>(pub(crate) &'a Iam);

/// IAM keeps at most five versions of a managed policy.
const MAX_VERSIONS: usize = 5;

impl Resource for ManagedPolicies<'_> {
    type Spec = ManagedPolicySpec;

    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        if environment != BOOTSTRAP {
            return Ok(Vec::new());
        }
        let path = self.0.environment_path(environment);
        let policies: Vec<_> = all_pages!(
            self.0
                .client
                .list_policies()
                .scope(aws_sdk_iam::types::PolicyScopeType::Local)
                .path_prefix(&path),
            "ListPolicies"
        )?;
        let mut found = Vec::new();
        for policy in policies {
            let (Some(arn), Some(name), Some(version)) =
                (policy.arn(), policy.policy_name(), policy.default_version_id())
            else {
                continue;
            };
            let client = &self.0.client;
            let document = async {
                client
                    .get_policy_version()
                    .policy_arn(arn)
                    .version_id(version)
                    .send()
                    .await
                    .op("GetPolicyVersion")
            };
            let tags = async {
                client
                    .list_policy_tags()
                    .policy_arn(arn)
                    .send()
                    .await
                    .op("ListPolicyTags")
            };
            let (document, tags) = tokio::try_join!(document, tags)?;
            let document = document
                .policy_version()
                .and_then(|v| v.document())
                .map(canonical_document)
                .unwrap_or_default();
            let spec = ManagedPolicySpec {
                name: name.to_owned(),
                path: policy.path().unwrap_or_default().to_owned(),
                document,
            };
            found.push(Found::new(arn, tags_of(tags.tags()), move |_| Spec::IamPolicy(spec)));
        }
        Ok(found)
    }

    async fn create(&self, request: Create<'_, ManagedPolicySpec>) -> Result<String, AwsError> {
        let spec = request.spec;
        let created = self
            .0
            .client
            .create_policy()
            .policy_name(&spec.name)
            .path(&spec.path)
            .policy_document(&spec.document)
            .set_tags(Some(sdk_tags(request.tags)))
            .send()
            .await
            .op("CreatePolicy")?;
        Ok(created.policy().and_then(|p| p.arn()).unwrap_or_default().to_owned())
    }

    async fn update(&self, request: Update<'_, ManagedPolicySpec>) -> Result<(), AwsError> {
        let arn = request.physical_id;
        if request.changed(ManagedPolicySpec::DOCUMENT) {
            let versions = self.non_default_versions(arn).await?;
            if versions.len() + 1 >= MAX_VERSIONS
                && let Some(oldest) = versions.first()
            {
                self.delete_version(arn, oldest).await?;
            }
            self.0
                .client
                .create_policy_version()
                .policy_arn(arn)
                .policy_document(&request.spec.document)
                .set_as_default(true)
                .send()
                .await
                .op("CreatePolicyVersion")?;
        }
        sync_tags(self, arn, request.tags, request.current_tags).await
    }

    /// IAM deletes a policy only once its other versions are gone (and it is attached nowhere:
    /// the roles holding it go first, as they point at it).
    async fn delete(&self, request: Delete<'_, ManagedPolicySpec>) -> Result<(), AwsError> {
        let arn = request.physical_id;
        let versions = match self.non_default_versions(arn).await {
            Err(error) if error.is_not_found() => return Ok(()),
            other => other?,
        };
        for version in &versions {
            self.delete_version(arn, version).await?;
        }
        match self
            .0
            .client
            .delete_policy()
            .policy_arn(arn)
            .send()
            .await
            .op("DeletePolicy")
        {
            Err(error) if error.is_not_found() => Ok(()),
            other => other.map(drop),
        }
    }
}

impl ManagedPolicies<'_> {
    /// The policy's versions other than the default, oldest first.
    async fn non_default_versions(&self, arn: &str) -> Result<Vec<String>, AwsError> {
        let listed = self
            .0
            .client
            .list_policy_versions()
            .policy_arn(arn)
            .send()
            .await
            .op("ListPolicyVersions")?;
        let mut versions: Vec<(Option<aws_smithy_types::DateTime>, String)> = listed
            .versions()
            .iter()
            .filter(|v| !v.is_default_version())
            .filter_map(|v| Some((v.create_date().copied(), v.version_id()?.to_owned())))
            .collect();
        versions.sort_by_key(|(created, _)| created.map(|d| d.secs()));
        Ok(versions.into_iter().map(|(_, id)| id).collect())
    }

    async fn delete_version(&self, arn: &str, version: &str) -> Result<(), AwsError> {
        self.0
            .client
            .delete_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .op("DeletePolicyVersion")
            .map(drop)
    }
}

crate::aws::tags::tag_api!(
    ManagedPolicies<'_> [0.client],
    policy_arn,
    tag_policy("TagPolicy", tags => sdk_tags(tags)),
    untag_policy("UntagPolicy")
);
