//! The access log bucket's spec.

use serde::Serialize;

use crate::model::spec::{Attribute, Reference, ResourceSpec};

/// The S3 bucket a load balancer writes its access logs to: private, encrypted with
/// S3-managed keys (the only kind ELB delivers to), each file expired after `expiration_days`,
/// writable only by the region's ELB log delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogBucketSpec {
    /// Bucket names are global: `deployer-<env>-logs-<account>-<region>`.
    pub name: String,
    /// Days S3 keeps each log file (a lifecycle rule).
    pub expiration_days: u16,
    /// `AES256`.
    pub encryption: String,
    /// All four public access blocks on.
    pub block_public_access: bool,
    /// The bucket policy, canonical JSON.
    pub policy: String,
}

/// The attribute names `aws/` acts on, spelled once.
impl LogBucketSpec {
    pub const BLOCK_PUBLIC_ACCESS: &'static str = "block_public_access";
    pub const ENCRYPTION: &'static str = "encryption";
    pub const EXPIRATION_DAYS: &'static str = "expiration_days";
    pub const POLICY: &'static str = "policy";
}

impl ResourceSpec for LogBucketSpec {
    fn physical_name(&self) -> Option<&str> {
        Some(&self.name)
    }

    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("name", &self.name, true),
            Attribute::scalar(Self::EXPIRATION_DAYS, self.expiration_days, false),
            Attribute::scalar(Self::ENCRYPTION, &self.encryption, false),
            Attribute::scalar(Self::BLOCK_PUBLIC_ACCESS, self.block_public_access, false),
            Attribute::scalar(Self::POLICY, &self.policy, false),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        Vec::new()
    }
}
