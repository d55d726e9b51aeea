//! `deployer bootstrap`'s OpenID Connect identity provider (GitHub Actions'), found by its
//! tags like every other resource; no environment has one (discovery asks nothing for them).

use std::collections::BTreeSet;

use super::{Iam, sdk_tags, tags_of};
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::tags::sync_tags;
use crate::model::{BOOTSTRAP, OidcProviderSpec, Spec, Tags};

pub(crate) struct OidcProviders<'a>(pub(crate) &'a Iam);

impl Iam {
    /// Every OpenID Connect provider of the account: its ARN, issuer URL (`https://…`),
    /// audiences and tags.
    async fn oidc_providers(&self) -> Result<Vec<(String, OidcProviderSpec, Tags)>, AwsError> {
        let listed = self
            .client
            .list_open_id_connect_providers()
            .send()
            .await
            .op("ListOpenIDConnectProviders")?;
        let mut providers = Vec::new();
        for arn in listed.open_id_connect_provider_list().iter().filter_map(|p| p.arn()) {
            let provider = match self
                .client
                .get_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .send()
                .await
                .op("GetOpenIDConnectProvider")
            {
                Err(error) if error.is_not_found() => continue,
                other => other?,
            };
            let url = provider.url().unwrap_or_default();
            let url = if url.starts_with("https://") {
                url.to_owned()
            } else {
                format!("https://{url}")
            };
            let spec = OidcProviderSpec {
                url,
                audiences: provider.client_id_list().iter().cloned().collect(),
            };
            providers.push((arn.to_owned(), spec, tags_of(provider.tags())));
        }
        Ok(providers)
    }

    /// Bootstrap's roles in regions other than this one (the identity provider is the
    /// account's, shared by every region's bootstrap).
    pub async fn bootstrap_roles_elsewhere(&self) -> Result<Vec<String>, AwsError> {
        let here = self.environment_path(BOOTSTRAP);
        let every_region = format!("/deployer/{BOOTSTRAP}/");
        let roles: Vec<_> = all_pages!(self.client.list_roles().path_prefix(&every_region), "ListRoles")?;
        Ok(roles
            .into_iter()
            .filter(|role| role.path() != here)
            .map(|role| role.arn().to_owned())
            .collect())
    }

    /// The ARN of the account's provider for `url`, whoever made it.
    pub async fn oidc_provider_for(&self, url: &str) -> Result<Option<String>, AwsError> {
        Ok(self
            .oidc_providers()
            .await?
            .into_iter()
            .find(|(_, spec, _)| spec.url == url)
            .map(|(arn, ..)| arn))
    }
}

impl Resource for OidcProviders<'_> {
    type Spec = OidcProviderSpec;

    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        if environment != BOOTSTRAP {
            return Ok(Vec::new());
        }
        Ok(self
            .0
            .oidc_providers()
            .await?
            .into_iter()
            .map(|(arn, spec, tags)| Found::new(arn, tags, move |_| Spec::IamOidcProvider(spec)))
            .collect())
    }

    async fn create(&self, request: Create<'_, OidcProviderSpec>) -> Result<String, AwsError> {
        let spec = request.spec;
        let created = self
            .0
            .client
            .create_open_id_connect_provider()
            .url(&spec.url)
            .set_client_id_list(Some(spec.audiences.iter().cloned().collect()))
            .set_tags(Some(sdk_tags(request.tags)))
            .send()
            .await
            .op("CreateOpenIDConnectProvider")?;
        Ok(created.open_id_connect_provider_arn().unwrap_or_default().to_owned())
    }

    async fn update(&self, request: Update<'_, OidcProviderSpec>) -> Result<(), AwsError> {
        let arn = request.physical_id;
        if request.changed(OidcProviderSpec::AUDIENCES) {
            let (wanted, current): (&BTreeSet<String>, &BTreeSet<String>) =
                (&request.spec.audiences, &request.observed.audiences);
            for audience in wanted.difference(current) {
                self.0
                    .client
                    .add_client_id_to_open_id_connect_provider()
                    .open_id_connect_provider_arn(arn)
                    .client_id(audience)
                    .send()
                    .await
                    .op("AddClientIDToOpenIDConnectProvider")?;
            }
            for audience in current.difference(wanted) {
                self.0
                    .client
                    .remove_client_id_from_open_id_connect_provider()
                    .open_id_connect_provider_arn(arn)
                    .client_id(audience)
                    .send()
                    .await
                    .op("RemoveClientIDFromOpenIDConnectProvider")?;
            }
        }
        sync_tags(self, arn, request.tags, request.current_tags).await
    }

    async fn delete(&self, request: Delete<'_, OidcProviderSpec>) -> Result<(), AwsError> {
        match self
            .0
            .client
            .delete_open_id_connect_provider()
            .open_id_connect_provider_arn(request.physical_id)
            .send()
            .await
            .op("DeleteOpenIDConnectProvider")
        {
            Err(error) if error.is_not_found() => Ok(()),
            other => other.map(drop),
        }
    }
}

crate::aws::tags::tag_api!(
    OidcProviders<'_> [0.client],
    open_id_connect_provider_arn,
    tag_open_id_connect_provider("TagOpenIDConnectProvider", tags => sdk_tags(tags)),
    untag_open_id_connect_provider("UntagOpenIDConnectProvider")
);
