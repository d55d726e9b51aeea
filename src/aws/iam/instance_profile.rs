//! Instance profiles: how an EC2 instance takes on its role.

use super::{Iam, role_name, sdk_tags, tags_of};
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::tags::sync_tags;
use crate::model::{InstanceProfileSpec, Spec};

pub(crate) struct InstanceProfiles<'a>(pub(crate) &'a Iam);

impl Resource for InstanceProfiles<'_> {
    type Spec = InstanceProfileSpec;

    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let path = self.0.environment_path(environment);
        let mut found = Vec::new();
        let profiles: Vec<_> = all_pages!(
            self.0.client.list_instance_profiles().path_prefix(&path),
            "ListInstanceProfiles"
        )?;
        for profile in profiles {
            let name = profile.instance_profile_name().to_owned();
            // GetInstanceProfile carries the tags (ListInstanceProfiles does not).
            let detail = self
                .0
                .client
                .get_instance_profile()
                .instance_profile_name(&name)
                .send()
                .await
                .op("GetInstanceProfile")?;
            let tags = tags_of(detail.instance_profile().map(|p| p.tags()).unwrap_or_default());
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

    async fn create(&self, request: Create<'_, InstanceProfileSpec>) -> Result<String, AwsError> {
        let (spec, tags, resolved) = (request.spec, request.tags, request.resolved);

        let output = self
            .0
            .client
            .create_instance_profile()
            .instance_profile_name(&spec.name)
            .path(&spec.path)
            .set_tags(Some(sdk_tags(tags)))
            .send()
            .await
            .op("CreateInstanceProfile")?;
        self.add_role(spec, resolved).await?;
        Ok(output
            .instance_profile()
            .map(|p| p.arn().to_owned())
            .unwrap_or_default())
    }

    async fn update(&self, request: Update<'_, InstanceProfileSpec>) -> Result<(), AwsError> {
        if request.changed(InstanceProfileSpec::ROLE) {
            self.swap_role(request.spec, request.observed, request.resolved).await?;
        }
        sync_tags(self, &request.spec.name, request.tags, request.current_tags).await
    }

    async fn delete(&self, request: Delete<'_, InstanceProfileSpec>) -> Result<(), AwsError> {
        let name = request.observed.name.as_str();

        let profile = match self
            .0
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
            self.0
                .client
                .remove_role_from_instance_profile()
                .instance_profile_name(name)
                .role_name(role.role_name())
                .send()
                .await
                .op("RemoveRoleFromInstanceProfile")?;
        }
        self.0
            .client
            .delete_instance_profile()
            .instance_profile_name(name)
            .send()
            .await
            .op("DeleteInstanceProfile")?;
        Ok(())
    }
}

impl InstanceProfiles<'_> {
    /// Puts the spec's role into the profile.
    async fn add_role(&self, spec: &InstanceProfileSpec, resolved: &crate::apply::Resolved) -> Result<(), AwsError> {
        self.0
            .client
            .add_role_to_instance_profile()
            .instance_profile_name(&spec.name)
            .role_name(role_name(&resolved.physical(&spec.role)?))
            .send()
            .await
            .op("AddRoleToInstanceProfile")
            .map(drop)
    }

    /// An instance profile holds one role: the old one leaves before the new one joins.
    async fn swap_role(
        &self,
        spec: &InstanceProfileSpec,
        observed: &InstanceProfileSpec,
        resolved: &crate::apply::Resolved,
    ) -> Result<(), AwsError> {
        if let Ok(old) = resolved.physical(&observed.role)
            && !old.is_empty()
        {
            self.0
                .client
                .remove_role_from_instance_profile()
                .instance_profile_name(&spec.name)
                .role_name(role_name(&old))
                .send()
                .await
                .op("RemoveRoleFromInstanceProfile")?;
        }
        self.add_role(spec, resolved).await?;
        Ok(())
    }
}

crate::aws::tags::tag_api!(
    InstanceProfiles<'_> [0.client],
    instance_profile_name,
    tag_instance_profile("TagInstanceProfile", tags => sdk_tags(tags)),
    untag_instance_profile("UntagInstanceProfile")
);
