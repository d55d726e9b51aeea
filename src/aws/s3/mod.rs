//! S3: the bucket a load balancer writes its access logs to. Created private and encrypted,
//! with its policy before any load balancer points at it (ELB checks that it may write when
//! access logs are turned on), emptied and deleted with the environment.

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint, CreateBucketConfiguration,
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, ObjectIdentifier,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
};

use super::error::{AwsError, Classify};
use super::found::Found;
use super::permissions::{Arn, Call, On, read, write};
use super::resource::{Create, Delete, Resource, Update};
use super::tags::{TagApi, sync_tags};
use crate::model::{LogBucketSpec, Spec, TAG_ENVIRONMENT, Tags};

mod log_bucket;

pub(crate) use log_bucket::LogBuckets;

#[derive(Debug, Clone)]
pub struct S3 {
    client: Client,
    region: String,
}

impl S3 {
    /// Path-style addressing against a custom endpoint (the local emulator has no DNS for
    /// `<bucket>.127.0.0.1`); AWS itself gets the default virtual-hosted style.
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        let client = Client::from_conf(
            aws_sdk_s3::config::Builder::from(config)
                .retry_classifier(crate::aws::classifier::HtmlServerError)
                .interceptor(crate::aws::classifier::AttemptMark)
                .force_path_style(config.endpoint_url().is_some())
                .build(),
        );
        let region = config.region().map(ToString::to_string).unwrap_or_default();
        Self { client, region }
    }

    async fn tags(&self, bucket: &str) -> Result<Tags, AwsError> {
        match self
            .client
            .get_bucket_tagging()
            .bucket(bucket)
            .send()
            .await
            .op("GetBucketTagging")
        {
            Ok(output) => Ok(output
                .tag_set()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect()),
            Err(error) if error.code() == Some("NoSuchTagSet") => Ok(Tags::new()),
            Err(error) => Err(error),
        }
    }

    /// S3 replaces a bucket's whole tag set at once; the set goes empty with a delete.
    async fn put_tags(&self, bucket: &str, tags: &Tags) -> Result<(), AwsError> {
        if tags.is_empty() {
            return self
                .client
                .delete_bucket_tagging()
                .bucket(bucket)
                .send()
                .await
                .op("DeleteBucketTagging")
                .map(drop);
        }
        let tag_set = tags
            .iter()
            .map(|(key, value)| Tag::builder().key(key).value(value).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AwsError::unbuilt("PutBucketTagging", e))?;
        let tagging = Tagging::builder()
            .set_tag_set(Some(tag_set))
            .build()
            .map_err(|e| AwsError::unbuilt("PutBucketTagging", e))?;
        self.client
            .put_bucket_tagging()
            .bucket(bucket)
            .tagging(tagging)
            .send()
            .await
            .op("PutBucketTagging")
            .map(drop)
    }
}

impl TagApi for S3 {
    async fn tag(&self, bucket: &str, tags: &Tags) -> Result<(), AwsError> {
        let mut all = self.tags(bucket).await?;
        all.extend(tags.clone());
        self.put_tags(bucket, &all).await
    }

    async fn untag(&self, bucket: &str, keys: &[String]) -> Result<(), AwsError> {
        let mut all = self.tags(bucket).await?;
        all.retain(|key, _| !keys.contains(key));
        self.put_tags(bucket, &all).await
    }
}

/// What the access log bucket's adapter calls, as IAM names them (S3's actions are not its
/// operations' names: `ListObjectVersions` is `s3:ListBucketVersions`; see `aws::permissions`).
pub(crate) const CALLS: &[Call] = &[
    read(
        "s3:ListAllMyBuckets",
        On::Anything("ListBuckets lists the account's buckets: no resource-level permission"),
    ),
    read("s3:GetBucketTagging", On::Own(&[Arn::LogBucket])),
    read("s3:GetEncryptionConfiguration", On::Own(&[Arn::LogBucket])),
    read("s3:GetLifecycleConfiguration", On::Own(&[Arn::LogBucket])),
    read("s3:GetBucketPolicy", On::Own(&[Arn::LogBucket])),
    read("s3:GetBucketPublicAccessBlock", On::Own(&[Arn::LogBucket])),
    write("s3:CreateBucket", On::Own(&[Arn::LogBucket])),
    write("s3:PutBucketTagging", On::Own(&[Arn::LogBucket])),
    write("s3:PutEncryptionConfiguration", On::Own(&[Arn::LogBucket])),
    write("s3:PutLifecycleConfiguration", On::Own(&[Arn::LogBucket])),
    write("s3:PutBucketPolicy", On::Own(&[Arn::LogBucket])),
    write("s3:DeleteBucketPolicy", On::Own(&[Arn::LogBucket])),
    write("s3:PutBucketPublicAccessBlock", On::Own(&[Arn::LogBucket])),
    // Emptying the bucket before deleting it.
    write("s3:ListBucketVersions", On::Own(&[Arn::LogBucket])),
    write("s3:DeleteObject", On::Own(&[Arn::LogObjects])),
    write("s3:DeleteObjectVersion", On::Own(&[Arn::LogObjects])),
    write("s3:DeleteBucket", On::Own(&[Arn::LogBucket])),
];
