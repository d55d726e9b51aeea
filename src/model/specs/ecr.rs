//! The image repository's spec.

use serde::Serialize;

use crate::model::spec::{Attribute, Reference, ResourceSpec};

use super::*;

/// The environment's container registry: an ECR repository for the API's images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepositorySpec {
    pub name: String,
    pub scan_on_push: bool,
    /// A pushed tag can never point at other content, so a tag in history means one image.
    pub immutable_tags: bool,
    /// `AES256` (S3-managed keys); AWS cannot change it after creation.
    pub encryption: String,
    /// The lifecycle policy expires all but this many most recent images.
    pub keep_images: u16,
    /// The repository policy, canonical JSON; empty: none. deployer wants none: without one only
    /// the account's own principals whose IAM policies allow it may pull or push (another
    /// account needs a grant here), so any policy found is someone else's and is removed.
    pub policy: String,
}

impl RepositorySpec {
    /// The lifecycle policy document for `keep_images`, canonical JSON.
    pub fn lifecycle_policy(&self) -> String {
        serde_json::json!({
            "rules": [{
                "rulePriority": 1,
                "description": format!("keep the {} most recent images", self.keep_images),
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": self.keep_images
                },
                "action": {"type": "expire"}
            }]
        })
        .to_string()
    }

    /// The number of images a lifecycle policy keeps, when it is the one `lifecycle_policy`
    /// writes; anything else reads as 0, which no desired spec has, so the plan replaces it.
    pub fn kept_by(policy: &str) -> u16 {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(policy) else {
            return 0;
        };
        let rules = value["rules"].as_array().map_or(&[][..], Vec::as_slice);
        match rules {
            [rule]
                if rule["selection"]["tagStatus"] == "any"
                    && rule["selection"]["countType"] == "imageCountMoreThan"
                    && rule["action"]["type"] == "expire" =>
            {
                rule["selection"]["countNumber"]
                    .as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                    .unwrap_or(0)
            }
            _ => 0,
        }
    }
}

/// The attribute names `aws/` acts on, spelled once.
impl RepositorySpec {
    pub const IMMUTABLE_TAGS: &'static str = "immutable_tags";
    pub const KEEP_IMAGES: &'static str = "keep_images";
    pub const POLICY: &'static str = "policy";
    pub const SCAN_ON_PUSH: &'static str = "scan_on_push";
}

impl ResourceSpec for RepositorySpec {
    fn physical_name(&self) -> Option<&str> {
        Some(&self.name)
    }

    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("name", &self.name, true),
            Attribute::scalar("encryption", &self.encryption, true),
            Attribute::scalar(Self::SCAN_ON_PUSH, self.scan_on_push, false),
            Attribute::scalar(Self::IMMUTABLE_TAGS, self.immutable_tags, false),
            Attribute::scalar(Self::KEEP_IMAGES, self.keep_images, false),
            Attribute::scalar(Self::POLICY, document_or_none(&self.policy), false),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::RepositorySpec;

    #[test]
    fn lifecycle_policy_reads_back_as_what_it_keeps() {
        let spec = RepositorySpec {
            name: "deployer/staging/api".into(),
            scan_on_push: true,
            immutable_tags: true,
            encryption: "AES256".into(),
            keep_images: 30,
            policy: String::new(),
        };
        assert_eq!(RepositorySpec::kept_by(&spec.lifecycle_policy()), 30);
        // Someone else's policy (here: untagged images only) is not ours: the plan fixes it.
        let other = spec.lifecycle_policy().replace("\"any\"", "\"untagged\"");
        assert_eq!(RepositorySpec::kept_by(&other), 0);
        assert_eq!(RepositorySpec::kept_by("not json"), 0);
    }
}
