//! The IAM adapter: roles and instance profiles, all under the path `/deployer/<env>/` so one
//! ListRoles call scoped by path finds an environment's roles.

use std::collections::BTreeSet;

use aws_sdk_iam::Client;
use aws_sdk_iam::types::Tag;

use super::error::{AwsError, Classify};
use super::found::Found;
use crate::apply::Resolved;
use crate::model::{InstanceProfileSpec, RoleSpec, Spec, Tags};

/// The one inline policy deployer writes on each role.
const INLINE_POLICY_NAME: &str = "deployer";

#[derive(Debug, Clone)]
pub struct Iam {
    client: Client,
}

impl Iam {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: Client::new(config),
        }
    }

    pub(crate) async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let path = format!("/deployer/{environment}/");
        let roles: Vec<_> = self
            .client
            .list_roles()
            .path_prefix(&path)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .op("ListRoles")?;
        let mut found = Vec::new();
        for role in roles {
            let name = role.role_name().to_owned();
            let tags = self
                .client
                .list_role_tags()
                .role_name(&name)
                .send()
                .await
                .op("ListRoleTags")?;
            let tags: Tags = tags
                .tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect();
            let attached = self
                .client
                .list_attached_role_policies()
                .role_name(&name)
                .send()
                .await
                .op("ListAttachedRolePolicies")?;
            let managed_policies: BTreeSet<String> = attached
                .attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_owned))
                .collect();
            let inline_policy = match self
                .client
                .get_role_policy()
                .role_name(&name)
                .policy_name(INLINE_POLICY_NAME)
                .send()
                .await
                .op("GetRolePolicy")
            {
                Ok(output) => canonical_document(output.policy_document()),
                Err(error) if error.is_not_found() => String::new(),
                Err(error) => return Err(error),
            };
            let trusted_service = role
                .assume_role_policy_document()
                .map(trusted_service)
                .unwrap_or_default();
            let role_path = role.path().to_owned();
            found.push(Found::new(role.arn(), tags, move |_| {
                Spec::IamRole(RoleSpec {
                    name,
                    path: role_path,
                    trusted_service,
                    managed_policies,
                    inline_policy,
                })
            }));
        }
        let profiles: Vec<_> = self
            .client
            .list_instance_profiles()
            .path_prefix(&path)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .op("ListInstanceProfiles")?;
        for profile in profiles {
            let name = profile.instance_profile_name().to_owned();
            // GetInstanceProfile carries the tags (ListInstanceProfiles does not).
            let detail = self
                .client
                .get_instance_profile()
                .instance_profile_name(&name)
                .send()
                .await
                .op("GetInstanceProfile")?;
            let tags: Tags = detail
                .instance_profile()
                .map(|p| p.tags())
                .unwrap_or_default()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect();
            let role = profile.roles().first().map(|r| r.arn().to_owned()).unwrap_or_default();
            let profile_path = profile.path().to_owned();
            found.push(Found::new(profile.arn(), tags, move |lookup| {
                Spec::InstanceProfile(InstanceProfileSpec {
                    name,
                    path: profile_path,
                    role: lookup(&role),
                })
            }));
        }
        Ok(found)
    }

    pub async fn create_role(&self, spec: &RoleSpec, tags: &Tags) -> Result<String, AwsError> {
        let output = self
            .client
            .create_role()
            .role_name(&spec.name)
            .path(&spec.path)
            .assume_role_policy_document(trust_policy(&spec.trusted_service))
            .set_tags(Some(sdk_tags(tags)))
            .send()
            .await
            .op("CreateRole")?;
        self.sync_policies(
            &spec.name,
            spec,
            &RoleSpec {
                managed_policies: BTreeSet::new(),
                inline_policy: String::new(),
                ..spec.clone()
            },
        )
        .await?;
        Ok(output.role().map(|r| r.arn().to_owned()).unwrap_or_default())
    }

    pub async fn update_role(
        &self,
        spec: &RoleSpec,
        observed: &RoleSpec,
        tags: &Tags,
        current: &Tags,
    ) -> Result<(), AwsError> {
        if spec.trusted_service != observed.trusted_service {
            self.client
                .update_assume_role_policy()
                .role_name(&spec.name)
                .policy_document(trust_policy(&spec.trusted_service))
                .send()
                .await
                .op("UpdateAssumeRolePolicy")?;
        }
        self.sync_policies(&spec.name, spec, observed).await?;
        let stale: Vec<String> = super::stale_tag_keys(tags, current).into_iter().cloned().collect();
        if !stale.is_empty() {
            self.client
                .untag_role()
                .role_name(&spec.name)
                .set_tag_keys(Some(stale))
                .send()
                .await
                .op("UntagRole")?;
        }
        if tags != current {
            self.client
                .tag_role()
                .role_name(&spec.name)
                .set_tags(Some(sdk_tags(tags)))
                .send()
                .await
                .op("TagRole")?;
        }
        Ok(())
    }

    async fn sync_policies(&self, role: &str, spec: &RoleSpec, observed: &RoleSpec) -> Result<(), AwsError> {
        for arn in spec.managed_policies.difference(&observed.managed_policies) {
            self.client
                .attach_role_policy()
                .role_name(role)
                .policy_arn(arn)
                .send()
                .await
                .op("AttachRolePolicy")?;
        }
        for arn in observed.managed_policies.difference(&spec.managed_policies) {
            self.client
                .detach_role_policy()
                .role_name(role)
                .policy_arn(arn)
                .send()
                .await
                .op("DetachRolePolicy")?;
        }
        if spec.inline_policy != observed.inline_policy {
            self.client
                .put_role_policy()
                .role_name(role)
                .policy_name(INLINE_POLICY_NAME)
                .policy_document(&spec.inline_policy)
                .send()
                .await
                .op("PutRolePolicy")?;
        }
        Ok(())
    }

    /// IAM refuses to delete a role with policies or instance profiles still attached.
    pub async fn delete_role(&self, name: &str) -> Result<(), AwsError> {
        let attached = match self
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
                self.client
                    .detach_role_policy()
                    .role_name(name)
                    .policy_arn(arn)
                    .send()
                    .await
                    .op("DetachRolePolicy")?;
            }
        }
        let inline = self
            .client
            .list_role_policies()
            .role_name(name)
            .send()
            .await
            .op("ListRolePolicies")?;
        for policy in inline.policy_names() {
            self.client
                .delete_role_policy()
                .role_name(name)
                .policy_name(policy)
                .send()
                .await
                .op("DeleteRolePolicy")?;
        }
        let profiles = self
            .client
            .list_instance_profiles_for_role()
            .role_name(name)
            .send()
            .await
            .op("ListInstanceProfilesForRole")?;
        for profile in profiles.instance_profiles() {
            self.client
                .remove_role_from_instance_profile()
                .instance_profile_name(profile.instance_profile_name())
                .role_name(name)
                .send()
                .await
                .op("RemoveRoleFromInstanceProfile")?;
        }
        match self.client.delete_role().role_name(name).send().await.op("DeleteRole") {
            Err(error) if error.is_not_found() => Ok(()),
            other => other.map(drop),
        }
    }

    pub async fn create_instance_profile(
        &self,
        spec: &InstanceProfileSpec,
        tags: &Tags,
        resolved: &Resolved,
    ) -> Result<String, AwsError> {
        let output = self
            .client
            .create_instance_profile()
            .instance_profile_name(&spec.name)
            .path(&spec.path)
            .set_tags(Some(sdk_tags(tags)))
            .send()
            .await
            .op("CreateInstanceProfile")?;
        self.client
            .add_role_to_instance_profile()
            .instance_profile_name(&spec.name)
            .role_name(role_name(&resolved.physical(&spec.role)?))
            .send()
            .await
            .op("AddRoleToInstanceProfile")?;
        Ok(output
            .instance_profile()
            .map(|p| p.arn().to_owned())
            .unwrap_or_default())
    }

    pub async fn update_instance_profile(
        &self,
        spec: &InstanceProfileSpec,
        observed: &InstanceProfileSpec,
        resolved: &Resolved,
    ) -> Result<(), AwsError> {
        if spec.role == observed.role {
            return Ok(());
        }
        if let Ok(old) = resolved.physical(&observed.role)
            && !old.is_empty()
        {
            self.client
                .remove_role_from_instance_profile()
                .instance_profile_name(&spec.name)
                .role_name(role_name(&old))
                .send()
                .await
                .op("RemoveRoleFromInstanceProfile")?;
        }
        self.client
            .add_role_to_instance_profile()
            .instance_profile_name(&spec.name)
            .role_name(role_name(&resolved.physical(&spec.role)?))
            .send()
            .await
            .op("AddRoleToInstanceProfile")?;
        Ok(())
    }

    pub async fn delete_instance_profile(&self, name: &str) -> Result<(), AwsError> {
        let profile = match self
            .client
            .get_instance_profile()
            .instance_profile_name(name)
            .send()
            .await
            .op("GetInstanceProfile")
        {
            Err(error) if error.is_not_found() => return Ok(()),
            other => other?,
        };
        for role in profile.instance_profile().map(|p| p.roles()).unwrap_or_default() {
            self.client
                .remove_role_from_instance_profile()
                .instance_profile_name(name)
                .role_name(role.role_name())
                .send()
                .await
                .op("RemoveRoleFromInstanceProfile")?;
        }
        self.client
            .delete_instance_profile()
            .instance_profile_name(name)
            .send()
            .await
            .op("DeleteInstanceProfile")?;
        Ok(())
    }
}

/// `arn:aws:iam::123:role/deployer/dev/dev-instance` → `dev-instance`.
fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

fn trust_policy(service: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]
    })
    .to_string()
}

/// IAM returns policy documents URL-encoded; compare them as canonical JSON.
fn canonical_document(encoded: &str) -> String {
    let decoded = percent_encoding::percent_decode_str(encoded).decode_utf8_lossy();
    serde_json::from_str::<serde_json::Value>(&decoded).map_or_else(|_| decoded.into_owned(), |v| v.to_string())
}

fn trusted_service(encoded: &str) -> String {
    let decoded = percent_encoding::percent_decode_str(encoded).decode_utf8_lossy();
    let Ok(document) = serde_json::from_str::<serde_json::Value>(&decoded) else {
        return String::new();
    };
    let statement = &document["Statement"];
    let first = if statement.is_array() { &statement[0] } else { statement };
    match &first["Principal"]["Service"] {
        serde_json::Value::String(service) => service.clone(),
        serde_json::Value::Array(services) => services.first().and_then(|s| s.as_str()).unwrap_or_default().to_owned(),
        _ => String::new(),
    }
}

fn sdk_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_documents_decode_to_canonical_json() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22ecs-tasks.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D";
        assert_eq!(trusted_service(encoded), "ecs-tasks.amazonaws.com");
        assert_eq!(canonical_document(encoded), trust_policy("ecs-tasks.amazonaws.com"));
    }
}
