//! The IAM adapter: roles and instance profiles, one file each, all under the path
//! `/deployer/<env>/<region>/` so one list call scoped by path finds an environment's in this
//! region (IAM is global; each region's deployment keeps its own).

mod instance_profile;
mod managed_policy;
mod oidc_provider;
mod role;

pub(crate) use instance_profile::InstanceProfiles;
pub(crate) use managed_policy::ManagedPolicies;
pub(crate) use oidc_provider::OidcProviders;
pub(crate) use role::Roles;

use aws_sdk_iam::Client;
use aws_sdk_iam::types::Tag;

use super::permissions::{Arn, Call, LIST, On, read, write};
use crate::model::Tags;

#[derive(Debug, Clone)]
pub struct Iam {
    client: Client,
    /// The region deployer works in: IAM itself has none, the environment's roles do.
    region: String,
}

impl Iam {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: crate::aws::classifier::client!(aws_sdk_iam, config),
            region: config.region().map(ToString::to_string).unwrap_or_default(),
        }
    }

    /// The path that scopes an environment's roles and profiles in this region.
    fn environment_path(&self, environment: &str) -> String {
        crate::model::iam_path(environment, &self.region)
    }
}

fn tags_of(tags: &[Tag]) -> Tags {
    tags.iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

/// `arn:aws:iam::123:role/deployer/dev/us-east-1/dev-us-east-1-instance` → `dev-us-east-1-instance`.
pub(super) fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// IAM returns policy documents URL-encoded; compare them as canonical JSON.
pub(super) fn canonical_document(encoded: &str) -> String {
    let decoded = percent_encoding::percent_decode_str(encoded).decode_utf8_lossy();
    serde_json::from_str::<serde_json::Value>(&decoded).map_or_else(|_| decoded.into_owned(), |v| v.to_string())
}

pub(super) fn sdk_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

/// What the IAM adapters call (see `aws::permissions`).
pub(crate) const CALLS: &[Call] = &[
    read("iam:ListRoles", On::Anything(LIST)),
    read("iam:ListInstanceProfiles", On::Anything(LIST)),
    read("iam:GetRole", On::Own(&[Arn::Role])),
    read("iam:GetRolePolicy", On::Own(&[Arn::Role])),
    read("iam:ListRolePolicies", On::Own(&[Arn::Role])),
    read("iam:ListAttachedRolePolicies", On::Own(&[Arn::Role])),
    read("iam:ListInstanceProfilesForRole", On::Own(&[Arn::Role])),
    read("iam:GetInstanceProfile", On::Own(&[Arn::InstanceProfile])),
    write("iam:CreateRole", On::Own(&[Arn::Role])),
    write("iam:UpdateAssumeRolePolicy", On::Own(&[Arn::Role])),
    write("iam:PutRolePolicy", On::Own(&[Arn::Role])),
    write("iam:DeleteRolePolicy", On::Own(&[Arn::Role])),
    write("iam:AttachRolePolicy", On::Own(&[Arn::Role])),
    write("iam:DetachRolePolicy", On::Own(&[Arn::Role])),
    write("iam:PutRolePermissionsBoundary", On::Own(&[Arn::Role])),
    write("iam:DeleteRolePermissionsBoundary", On::Own(&[Arn::Role])),
    write("iam:TagRole", On::Own(&[Arn::Role])),
    write("iam:UntagRole", On::Own(&[Arn::Role])),
    write("iam:DeleteRole", On::Own(&[Arn::Role])),
    write("iam:CreateInstanceProfile", On::Own(&[Arn::InstanceProfile])),
    write("iam:AddRoleToInstanceProfile", On::Own(&[Arn::InstanceProfile])),
    write("iam:RemoveRoleFromInstanceProfile", On::Own(&[Arn::InstanceProfile])),
    write("iam:TagInstanceProfile", On::Own(&[Arn::InstanceProfile])),
    write("iam:UntagInstanceProfile", On::Own(&[Arn::InstanceProfile])),
    write("iam:DeleteInstanceProfile", On::Own(&[Arn::InstanceProfile])),
];

/// What `deployer bootstrap` calls beside the role calls above, as the administrator who
/// runs it: in no environment's policy (see `aws::permissions`).
pub(crate) const BOOTSTRAP: &[Call] = &[
    read("iam:ListOpenIDConnectProviders", On::Anything(LIST)),
    read("iam:GetOpenIDConnectProvider", On::Own(&[Arn::OidcProviders])),
    read("iam:ListPolicies", On::Anything(LIST)),
    read("iam:GetPolicyVersion", On::Own(&[Arn::CiPolicies])),
    read("iam:ListPolicyTags", On::Own(&[Arn::CiPolicies])),
    read("iam:ListPolicyVersions", On::Own(&[Arn::CiPolicies])),
    write("iam:CreateOpenIDConnectProvider", On::Own(&[Arn::GithubOidcProvider])),
    write(
        "iam:AddClientIDToOpenIDConnectProvider",
        On::Own(&[Arn::GithubOidcProvider]),
    ),
    write(
        "iam:RemoveClientIDFromOpenIDConnectProvider",
        On::Own(&[Arn::GithubOidcProvider]),
    ),
    write("iam:TagOpenIDConnectProvider", On::Own(&[Arn::GithubOidcProvider])),
    write("iam:UntagOpenIDConnectProvider", On::Own(&[Arn::GithubOidcProvider])),
    write("iam:DeleteOpenIDConnectProvider", On::Own(&[Arn::GithubOidcProvider])),
    write("iam:CreatePolicy", On::Own(&[Arn::CiPolicies])),
    write("iam:CreatePolicyVersion", On::Own(&[Arn::CiPolicies])),
    write("iam:DeletePolicyVersion", On::Own(&[Arn::CiPolicies])),
    write("iam:TagPolicy", On::Own(&[Arn::CiPolicies])),
    write("iam:UntagPolicy", On::Own(&[Arn::CiPolicies])),
    write("iam:DeletePolicy", On::Own(&[Arn::CiPolicies])),
];

/// What AWS checks on deployer's behalf: adding a role to an instance profile passes it to EC2.
pub(crate) const IMPLIED: &[Call] = &[write("iam:PassRole", On::PassedTo(&["ec2.amazonaws.com"]))];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_documents_decode_to_canonical_json() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22ecs-tasks.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D";
        let expected = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]
        });
        assert_eq!(canonical_document(encoded), expected.to_string());
        // Spacing and key order as another tool wrote them read as the same document; a
        // second statement does not.
        let spaced = r#"{ "Statement": [ { "Action": "sts:AssumeRole", "Principal": { "Service": "ecs-tasks.amazonaws.com" }, "Effect": "Allow" } ], "Version": "2012-10-17" }"#;
        assert_eq!(canonical_document(spaced), expected.to_string());
        let widened = spaced.replace("} ]", r#"}, {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "sts:AssumeRole"} ]"#);
        assert_ne!(canonical_document(&widened), expected.to_string());
    }
}
