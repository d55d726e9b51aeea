//! ECR repositories: scan on push, immutable tags, encryption at rest, a lifecycle policy that
//! keeps the last N images, and no repository policy (one found, such as a grant to `*`, is
//! drift: apply deletes it). Destroy deletes the images with the repository.

use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageScanningConfiguration, ImageTagMutability, Repository,
};

use super::{Ecr, sdk_tags, tags_of};
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::found::recorded_arn;
use crate::aws::resource::Read;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::tags::sync_tags;
use crate::model::Outputs;
use crate::model::{RepositorySpec, Spec, TAG_ENVIRONMENT};

pub(crate) struct Repositories<'a>(pub(crate) &'a Ecr);

impl Repositories<'_> {
    /// How many images the repository's lifecycle policy keeps (0: none, or not ours).
    async fn kept_images(&self, name: &str) -> Result<u16, AwsError> {
        match self
            .0
            .client
            .get_lifecycle_policy()
            .repository_name(name)
            .send()
            .await
            .op("GetLifecyclePolicy")
        {
            Ok(output) => Ok(RepositorySpec::kept_by(
                output.lifecycle_policy_text().unwrap_or_default(),
            )),
            Err(error) if error.code() == Some("LifecyclePolicyNotFoundException") => Ok(0),
            Err(error) => Err(error),
        }
    }

    /// The repository policy, canonical JSON; empty when it has none.
    async fn repository_policy(&self, name: &str) -> Result<String, AwsError> {
        match self
            .0
            .client
            .get_repository_policy()
            .repository_name(name)
            .send()
            .await
            .op("GetRepositoryPolicy")
        {
            Ok(output) => Ok(canonical_json(output.policy_text().unwrap_or_default())),
            Err(error) if error.code() == Some(NO_POLICY) => Ok(String::new()),
            Err(error) => Err(error),
        }
    }

    /// Brings the repository policy to `spec.policy`: deletes it when none is wanted (deployer's
    /// repositories want none), sets it otherwise.
    async fn sync_repository_policy(&self, name: &str, spec: &RepositorySpec) -> Result<(), AwsError> {
        if spec.policy.is_empty() {
            match self
                .0
                .client
                .delete_repository_policy()
                .repository_name(name)
                .send()
                .await
                .op("DeleteRepositoryPolicy")
            {
                Err(error) if error.code() == Some(NO_POLICY) => Ok(()),
                other => other.map(drop),
            }
        } else {
            self.0
                .client
                .set_repository_policy()
                .repository_name(name)
                .policy_text(&spec.policy)
                .send()
                .await
                .op("SetRepositoryPolicy")
                .map(drop)
        }
    }

    async fn put_lifecycle_policy(&self, spec: &RepositorySpec) -> Result<(), AwsError> {
        self.0
            .client
            .put_lifecycle_policy()
            .repository_name(&spec.name)
            .lifecycle_policy_text(spec.lifecycle_policy())
            .send()
            .await
            .op("PutLifecyclePolicy")
            .map(drop)
    }
}

const NO_POLICY: &str = "RepositoryPolicyNotFoundException";

/// A policy document as canonical JSON (what is not JSON is kept as it is).
fn canonical_json(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text).map_or_else(|_| text.to_owned(), |v| v.to_string())
}

fn mutability(immutable: bool) -> ImageTagMutability {
    if immutable {
        ImageTagMutability::Immutable
    } else {
        ImageTagMutability::Mutable
    }
}

impl Resource for Repositories<'_> {
    type Spec = RepositorySpec;

    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        // deployer names its repositories `deployer/<env>/...`; only those can be ours, which
        // spares a tag lookup for every other repository in the account.
        let prefix = crate::model::names::repository_prefix(environment);
        let repositories: Vec<Repository> = all_pages!(self.0.client.describe_repositories(), "DescribeRepositories")?;
        let mut found = Vec::new();
        for repository in repositories {
            let (Some(name), Some(arn)) = (repository.repository_name(), repository.repository_arn()) else {
                continue;
            };
            if !name.starts_with(&prefix) {
                continue;
            }
            let listed = self
                .0
                .client
                .list_tags_for_resource()
                .resource_arn(arn)
                .send()
                .await
                .op("ListTagsForResource")?;
            let tags = tags_of(listed.tags());
            if tags.get(TAG_ENVIRONMENT).is_none_or(|e| e != environment) {
                continue;
            }
            let (keep_images, policy) = tokio::try_join!(self.kept_images(name), self.repository_policy(name))?;
            let spec = RepositorySpec {
                name: name.to_owned(),
                scan_on_push: repository
                    .image_scanning_configuration()
                    .is_some_and(ImageScanningConfiguration::scan_on_push),
                immutable_tags: repository.image_tag_mutability() == Some(&ImageTagMutability::Immutable),
                encryption: repository
                    .encryption_configuration()
                    .map_or("AES256", |e| e.encryption_type().as_str())
                    .to_owned(),
                keep_images,
                policy,
            };
            found.push(
                Found::new(name, tags, move |_| Spec::EcrRepository(spec)).with_info(|info| {
                    info.arn = Some(arn.to_owned());
                    info.uri = repository.repository_uri().map(str::to_owned);
                }),
            );
        }
        Ok(found)
    }

    async fn create(&self, request: Create<'_, RepositorySpec>) -> Result<String, AwsError> {
        let (spec, tags) = (request.spec, request.tags);
        let created = self
            .0
            .client
            .create_repository()
            .repository_name(&spec.name)
            .image_tag_mutability(mutability(spec.immutable_tags))
            .image_scanning_configuration(
                ImageScanningConfiguration::builder()
                    .scan_on_push(spec.scan_on_push)
                    .build(),
            )
            .encryption_configuration(
                EncryptionConfiguration::builder()
                    .encryption_type(EncryptionType::from(spec.encryption.as_str()))
                    .build()
                    .map_err(|error| AwsError::Other {
                        operation: "CreateRepository",
                        detail: error.to_string(),
                    })?,
            )
            .set_tags(Some(sdk_tags(tags)))
            .send()
            .await
            .op("CreateRepository");
        match created {
            // A create retried after a lost answer, or an apply killed before the policy.
            Err(error) if error.code() == Some("RepositoryAlreadyExistsException") => {}
            other => drop(other?),
        }
        self.put_lifecycle_policy(spec).await?;
        if !spec.policy.is_empty() {
            self.sync_repository_policy(&spec.name, spec).await?;
        }
        Ok(spec.name.clone())
    }

    async fn update(&self, request: Update<'_, RepositorySpec>) -> Result<(), AwsError> {
        let (name, spec) = (request.physical_id, request.spec);
        if request.changed(RepositorySpec::SCAN_ON_PUSH) {
            self.0
                .client
                .put_image_scanning_configuration()
                .repository_name(name)
                .image_scanning_configuration(
                    ImageScanningConfiguration::builder()
                        .scan_on_push(spec.scan_on_push)
                        .build(),
                )
                .send()
                .await
                .op("PutImageScanningConfiguration")?;
        }
        if request.changed(RepositorySpec::IMMUTABLE_TAGS) {
            self.0
                .client
                .put_image_tag_mutability()
                .repository_name(name)
                .image_tag_mutability(mutability(spec.immutable_tags))
                .send()
                .await
                .op("PutImageTagMutability")?;
        }
        if request.changed(RepositorySpec::KEEP_IMAGES) {
            self.put_lifecycle_policy(spec).await?;
        }
        if request.changed(RepositorySpec::POLICY) {
            self.sync_repository_policy(name, spec).await?;
        }
        sync_tags(
            self.0,
            recorded_arn(request.info, name, "TagResource")?,
            request.tags,
            request.current_tags,
        )
        .await
    }

    /// With its images: an environment's images go with it (`force`).
    async fn delete(&self, request: Delete<'_, RepositorySpec>) -> Result<(), AwsError> {
        match self
            .0
            .client
            .delete_repository()
            .repository_name(request.physical_id)
            .force(true)
            .send()
            .await
            .op("DeleteRepository")
        {
            Err(error) if error.code() == Some("RepositoryNotFoundException") => Ok(()),
            other => other.map(drop),
        }
    }

    fn outputs(&self, read: &Read<'_, Self::Spec>, outputs: &mut Outputs) {
        outputs.registry_url = read.resource.info.uri.clone();
    }
}
