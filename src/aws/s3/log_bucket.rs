//! The access log bucket: private, encrypted, expiring, writable only by the load balancer's log delivery.

use super::*;

pub(crate) struct LogBuckets<'a>(pub(crate) &'a S3);

impl Resource for LogBuckets<'_> {
    type Spec = LogBucketSpec;

    /// S3 cannot filter buckets by tag: deployer's names (`deployer-<env>-logs-…-<region>`)
    /// narrow the list to this region's candidates, whose tags are then read.
    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let prefix = crate::model::names::log_bucket_prefix(environment);
        let suffix = format!("-{}", self.0.region);
        let buckets: Vec<_> = all_pages!(
            self.0.client.list_buckets().prefix(&prefix).max_buckets(1000),
            "ListBuckets"
        )?;
        let mut found = Vec::new();
        for bucket in buckets {
            let Some(name) = bucket.name().filter(|n| n.starts_with(&prefix) && n.ends_with(&suffix)) else {
                continue;
            };
            let tags = self.0.tags(name).await?;
            if tags.get(TAG_ENVIRONMENT).is_none_or(|e| e != environment) {
                continue;
            }
            let spec = self.observe(name).await?;
            found.push(Found::new(name, tags, move |_| Spec::LogBucket(spec)));
        }
        Ok(found)
    }

    /// A bucket of this name that already exists and is the account's own (`BucketAlreadyOwnedByYou`)
    /// is an earlier apply's that stopped before tagging it: it is configured and tagged now.
    async fn create(&self, request: Create<'_, LogBucketSpec>) -> Result<String, AwsError> {
        let spec = request.spec;
        let mut create = self.0.client.create_bucket().bucket(&spec.name);
        // us-east-1 is S3's default location and refuses to be named as a constraint.
        if self.0.region != "us-east-1" {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(self.0.region.as_str()))
                    .build(),
            );
        }
        match create.send().await.op("CreateBucket") {
            Ok(_) => {}
            Err(error) if error.code() == Some("BucketAlreadyOwnedByYou") => {}
            Err(error) => return Err(error),
        }
        // Public access is blocked before the policy lands, so the bucket is never open.
        self.block_public_access(&spec.name).await?;
        self.encrypt(&spec.name).await?;
        self.expire(&spec.name, spec.expiration_days).await?;
        self.put_policy(&spec.name, &spec.policy).await?;
        self.0.put_tags(&spec.name, request.tags).await?;
        Ok(spec.name.clone())
    }

    async fn update(&self, request: Update<'_, LogBucketSpec>) -> Result<(), AwsError> {
        let (bucket, spec) = (request.physical_id, request.spec);
        if request.changed(LogBucketSpec::BLOCK_PUBLIC_ACCESS) {
            self.block_public_access(bucket).await?;
        }
        if request.changed(LogBucketSpec::ENCRYPTION) {
            self.encrypt(bucket).await?;
        }
        if request.changed(LogBucketSpec::EXPIRATION_DAYS) {
            self.expire(bucket, spec.expiration_days).await?;
        }
        if request.changed(LogBucketSpec::POLICY) {
            self.put_policy(bucket, &spec.policy).await?;
        }
        sync_tags(self.0, bucket, request.tags, request.current_tags).await
    }

    /// The logs go with the bucket: S3 deletes only empty buckets. The load balancer stopped
    /// writing before this step (it lets go of the bucket first). The policy goes first, so
    /// no statement of it (or one added by hand) can refuse the emptying.
    async fn delete(&self, request: Delete<'_, LogBucketSpec>) -> Result<(), AwsError> {
        let bucket = request.physical_id;
        match self
            .0
            .client
            .delete_bucket_policy()
            .bucket(bucket)
            .send()
            .await
            .op("DeleteBucketPolicy")
        {
            Err(error) if error.code() == Some("NoSuchBucket") => return Ok(()),
            other => other?,
        };
        match self.empty(bucket).await {
            Err(error) if error.code() == Some("NoSuchBucket") => return Ok(()),
            other => other?,
        }
        match self
            .0
            .client
            .delete_bucket()
            .bucket(bucket)
            .send()
            .await
            .op("DeleteBucket")
        {
            Err(error) if error.code() == Some("NoSuchBucket") => Ok(()),
            other => other.map(drop),
        }
    }
}

/// What one lifecycle rule is called, so the bucket's own rule is told from others.
const EXPIRY_RULE: &str = "expire-access-logs";

impl LogBuckets<'_> {
    /// The bucket's settings as AWS reports them; a setting never made reads as off.
    async fn observe(&self, bucket: &str) -> Result<LogBucketSpec, AwsError> {
        let client = &self.0.client;
        let (access, encryption, lifecycle, policy) = tokio::join!(
            client.get_public_access_block().bucket(bucket).send(),
            client.get_bucket_encryption().bucket(bucket).send(),
            client.get_bucket_lifecycle_configuration().bucket(bucket).send(),
            client.get_bucket_policy().bucket(bucket).send(),
        );
        let absent = |error: &AwsError| {
            matches!(
                error.code(),
                Some(
                    "NoSuchPublicAccessBlockConfiguration"
                        | "ServerSideEncryptionConfigurationNotFoundError"
                        | "NoSuchLifecycleConfiguration"
                        | "NoSuchBucketPolicy"
                )
            )
        };
        let block_public_access = match access.op("GetPublicAccessBlock") {
            Ok(output) => output.public_access_block_configuration().is_some_and(|c| {
                c.block_public_acls() == Some(true)
                    && c.ignore_public_acls() == Some(true)
                    && c.block_public_policy() == Some(true)
                    && c.restrict_public_buckets() == Some(true)
            }),
            Err(error) if absent(&error) => false,
            Err(error) => return Err(error),
        };
        let encryption = match encryption.op("GetBucketEncryption") {
            Ok(output) => output
                .server_side_encryption_configuration()
                .and_then(|c| c.rules().first())
                .and_then(|r| r.apply_server_side_encryption_by_default())
                .map(|d| d.sse_algorithm().as_str().to_owned())
                .unwrap_or_default(),
            Err(error) if absent(&error) => String::new(),
            Err(error) => return Err(error),
        };
        let expiration_days = match lifecycle.op("GetBucketLifecycleConfiguration") {
            Ok(output) => output
                .rules()
                .iter()
                .find(|r| r.id() == Some(EXPIRY_RULE) && r.status() == &ExpirationStatus::Enabled)
                .and_then(|r| r.expiration())
                .and_then(|e| e.days())
                .map_or(0, |d| d.clamp(0, i32::from(u16::MAX)) as u16),
            Err(error) if absent(&error) => 0,
            Err(error) => return Err(error),
        };
        let policy = match policy.op("GetBucketPolicy") {
            Ok(output) => canonical_json(output.policy().unwrap_or_default()),
            Err(error) if absent(&error) => String::new(),
            Err(error) => return Err(error),
        };
        Ok(LogBucketSpec {
            name: bucket.to_owned(),
            expiration_days,
            encryption,
            block_public_access,
            policy,
        })
    }

    async fn block_public_access(&self, bucket: &str) -> Result<(), AwsError> {
        let all = PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        self.0
            .client
            .put_public_access_block()
            .bucket(bucket)
            .public_access_block_configuration(all)
            .send()
            .await
            .op("PutPublicAccessBlock")
            .map(drop)
    }

    /// S3-managed keys: ELB delivers access logs to no other kind of encryption.
    async fn encrypt(&self, bucket: &str) -> Result<(), AwsError> {
        let by_default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::Aes256)
            .build()
            .map_err(|e| AwsError::unbuilt("PutBucketEncryption", e))?;
        let configuration = ServerSideEncryptionConfiguration::builder()
            .rules(
                ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(by_default)
                    .build(),
            )
            .build()
            .map_err(|e| AwsError::unbuilt("PutBucketEncryption", e))?;
        self.0
            .client
            .put_bucket_encryption()
            .bucket(bucket)
            .server_side_encryption_configuration(configuration)
            .send()
            .await
            .op("PutBucketEncryption")
            .map(drop)
    }

    async fn expire(&self, bucket: &str, days: u16) -> Result<(), AwsError> {
        let rule = LifecycleRule::builder()
            .id(EXPIRY_RULE)
            .filter(LifecycleRuleFilter::builder().prefix("").build())
            .status(ExpirationStatus::Enabled)
            .expiration(LifecycleExpiration::builder().days(i32::from(days)).build())
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(1)
                    .build(),
            )
            .build()
            .map_err(|e| AwsError::unbuilt("PutBucketLifecycleConfiguration", e))?;
        let configuration = BucketLifecycleConfiguration::builder()
            .rules(rule)
            .build()
            .map_err(|e| AwsError::unbuilt("PutBucketLifecycleConfiguration", e))?;
        self.0
            .client
            .put_bucket_lifecycle_configuration()
            .bucket(bucket)
            .lifecycle_configuration(configuration)
            .send()
            .await
            .op("PutBucketLifecycleConfiguration")
            .map(drop)
    }

    async fn put_policy(&self, bucket: &str, policy: &str) -> Result<(), AwsError> {
        self.0
            .client
            .put_bucket_policy()
            .bucket(bucket)
            .policy(policy)
            .send()
            .await
            .op("PutBucketPolicy")
            .map(drop)
    }

    /// Deletes every object and every version of one, 1,000 per call (S3's limit).
    async fn empty(&self, bucket: &str) -> Result<(), AwsError> {
        loop {
            let listed = self
                .0
                .client
                .list_object_versions()
                .bucket(bucket)
                .send()
                .await
                .op("ListObjectVersions")?;
            let versions = listed
                .versions()
                .iter()
                .map(|v| (v.key(), v.version_id()))
                .chain(listed.delete_markers().iter().map(|m| (m.key(), m.version_id())));
            let objects = versions
                .filter_map(|(key, version)| {
                    ObjectIdentifier::builder()
                        .set_key(key.map(str::to_owned))
                        .set_version_id(version.filter(|v| *v != "null").map(str::to_owned))
                        .build()
                        .ok()
                })
                .collect::<Vec<_>>();
            if objects.is_empty() {
                return Ok(());
            }
            let delete = aws_sdk_s3::types::Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| AwsError::unbuilt("DeleteObjects", e))?;
            let output = self
                .0
                .client
                .delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .op("DeleteObjects")?;
            if let Some(error) = output.errors().first() {
                return Err(AwsError::Other {
                    operation: "DeleteObjects",
                    detail: format!(
                        "{}: {}",
                        error.key().unwrap_or_default(),
                        error.message().unwrap_or_default()
                    ),
                });
            }
        }
    }
}

/// Policies compared as canonical JSON (S3 returns them as stored, spacing and all).
fn canonical_json(document: &str) -> String {
    serde_json::from_str::<serde_json::Value>(document).map_or_else(|_| document.to_owned(), |v| v.to_string())
}
