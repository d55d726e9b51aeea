//! The ECR adapter: the environment's repository (a managed resource), and what `push` and
//! image resolution ask of ECR: a registry login and the most recently pushed image.

mod repository;

pub(crate) use repository::Repositories;

use std::fmt;

use aws_sdk_ecr::Client;
use aws_sdk_ecr::types::Tag;

use super::error::{AwsError, Classify};
use super::permissions::{Arn, Call, LIST, On, read, reads_data, write};
use crate::model::Tags;

#[derive(Debug, Clone)]
pub struct Ecr {
    client: Client,
}

/// An image in a repository, named by digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedImage {
    /// `<registry>/<repository>@sha256:...`: what a task definition or user data runs.
    pub reference: String,
    pub digest: String,
    pub tags: Vec<String>,
    /// RFC 3339, as ECR reports it.
    pub pushed_at: Option<String>,
}

/// A registry login from GetAuthorizationToken: valid for 12 hours, never printed.
pub struct RegistryLogin {
    pub username: String,
    pub password: String,
    /// `https://<account>.dkr.ecr.<region>.amazonaws.com`.
    pub endpoint: String,
}

impl fmt::Debug for RegistryLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryLogin")
            .field("username", &self.username)
            .field("password", &"(redacted)")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl Ecr {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: crate::aws::classifier::client!(aws_sdk_ecr, config),
        }
    }

    /// The repository's URI (`<registry>/<name>`), or None when it does not exist.
    pub async fn repository_uri(&self, name: &str) -> Result<Option<String>, AwsError> {
        match self
            .client
            .describe_repositories()
            .repository_names(name)
            .send()
            .await
            .op("DescribeRepositories")
        {
            Ok(output) => Ok(output
                .repositories()
                .first()
                .and_then(|r| r.repository_uri())
                .map(str::to_owned)),
            Err(error) if error.code() == Some("RepositoryNotFoundException") => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The image pushed last to repository `name`, or None when there is no repository or no
    /// image in it.
    pub async fn latest_image(&self, name: &str) -> Result<Option<PushedImage>, AwsError> {
        let Some(uri) = self.repository_uri(name).await? else {
            return Ok(None);
        };
        let images = match all_pages!(self.client.describe_images().repository_name(name), "DescribeImages") {
            Ok(images) => images,
            Err(error) if error.code() == Some("RepositoryNotFoundException") => return Ok(None),
            Err(error) => return Err(error),
        };
        // Ties (the same second on the emulator) go to the later one listed.
        let latest = images
            .iter()
            .filter(|image| image.image_digest().is_some())
            .max_by_key(|image| image.image_pushed_at().map(|t| (t.secs(), t.subsec_nanos())));
        Ok(latest.map(|image| {
            let digest = image.image_digest().unwrap_or_default().to_owned();
            PushedImage {
                reference: format!("{uri}@{digest}"),
                digest,
                tags: image.image_tags().to_vec(),
                pushed_at: image.image_pushed_at().map(ToString::to_string),
            }
        }))
    }

    /// A login for the account's registry.
    pub async fn registry_login(&self) -> Result<RegistryLogin, AwsError> {
        let output = self
            .client
            .get_authorization_token()
            .send()
            .await
            .op("GetAuthorizationToken")?;
        let malformed = |detail: &str| AwsError::Other {
            operation: "GetAuthorizationToken",
            detail: detail.to_owned(),
        };
        let data = output
            .authorization_data()
            .first()
            .ok_or_else(|| malformed("AWS returned no authorization data"))?;
        let token = data
            .authorization_token()
            .ok_or_else(|| malformed("AWS returned no token"))?;
        // The token is base64 of `user:password`.
        let decoded = aws_smithy_types::base64::decode(token)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| malformed("the token is not base64 text"))?;
        let (username, password) = decoded
            .split_once(':')
            .ok_or_else(|| malformed("the token is not `user:password`"))?;
        Ok(RegistryLogin {
            username: username.to_owned(),
            password: password.to_owned(),
            endpoint: data.proxy_endpoint().unwrap_or_default().to_owned(),
        })
    }
}

// ECR tags repositories by ARN.
crate::aws::tags::tag_api!(
    Ecr,
    resource_arn,
    tag_resource("TagResource", tags => sdk_tags(tags)),
    untag_resource("UntagResource")
);

fn tags_of(tags: &[Tag]) -> Tags {
    tags.iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

fn sdk_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

/// What the ECR adapter calls (see `aws::permissions`).
pub(crate) const CALLS: &[Call] = &[
    read("ecr:DescribeRepositories", On::Anything(LIST)),
    read("ecr:ListTagsForResource", On::Own(&[Arn::Repository])),
    read("ecr:GetLifecyclePolicy", On::Own(&[Arn::Repository])),
    read("ecr:GetRepositoryPolicy", On::Own(&[Arn::Repository])),
    read("ecr:DescribeImages", On::Own(&[Arn::Repository])),
    write("ecr:CreateRepository", On::Own(&[Arn::Repository])),
    write("ecr:TagResource", On::Own(&[Arn::Repository])),
    write("ecr:UntagResource", On::Own(&[Arn::Repository])),
    write("ecr:PutImageScanningConfiguration", On::Own(&[Arn::Repository])),
    write("ecr:PutImageTagMutability", On::Own(&[Arn::Repository])),
    write("ecr:PutLifecyclePolicy", On::Own(&[Arn::Repository])),
    write("ecr:SetRepositoryPolicy", On::Own(&[Arn::Repository])),
    write("ecr:DeleteRepositoryPolicy", On::Own(&[Arn::Repository])),
    write("ecr:DeleteRepository", On::Own(&[Arn::Repository])),
];

/// What a push needs: ECR's token for the container engine, and the registry calls the engine
/// makes with it on the environment's repository.
pub(crate) const PUSH: &[Call] = &[
    reads_data(
        "ecr:GetAuthorizationToken",
        On::Anything("ECR's authorization token is for the whole registry, not one repository"),
    ),
    read("ecr:DescribeImages", On::Own(&[Arn::Repository])),
    reads_data("ecr:BatchCheckLayerAvailability", On::Own(&[Arn::Repository])),
    reads_data("ecr:BatchGetImage", On::Own(&[Arn::Repository])),
    reads_data("ecr:GetDownloadUrlForLayer", On::Own(&[Arn::Repository])),
    write("ecr:InitiateLayerUpload", On::Own(&[Arn::Repository])),
    write("ecr:UploadLayerPart", On::Own(&[Arn::Repository])),
    write("ecr:CompleteLayerUpload", On::Own(&[Arn::Repository])),
    write("ecr:PutImage", On::Own(&[Arn::Repository])),
];
