//! Launch templates (each change is a new version made the default) and the default AMI.

use aws_sdk_ec2::types::{
    LaunchTemplateBlockDeviceMappingRequest, LaunchTemplateEbsBlockDeviceRequest, LaunchTemplateHttpTokensState,
    LaunchTemplateIamInstanceProfileSpecificationRequest, LaunchTemplateInstanceMetadataEndpointState,
    LaunchTemplateInstanceMetadataOptionsRequest, LaunchTemplateTagSpecificationRequest, RequestLaunchTemplateData,
    ResourceType,
};
use aws_smithy_types::base64;

use super::{Ec2, env_filter, filter, from_sdk_tags, tag_specification, to_sdk_tags};
use crate::apply::Resolved;
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::resource::Read;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::status::Revision;
use crate::aws::tags::sync_tags;
use crate::config::Architecture;
use crate::model::{LaunchTemplateSpec, RootVolume, Spec, TAG_ID, TAG_SPEC, Tags};

/// Containers reach the instance metadata service through one more network hop than the host.
const METADATA_HOP_LIMIT: i32 = 2;
/// Amazon Linux 2023 for x86_64, published by Amazon.
/// Amazon Linux 2023's standard AMIs, by name: `al2023-ami-2023.<version>-kernel-<k>-<arch>`.
const DEFAULT_IMAGE_PATTERN: &str = "al2023-ami-2023.*-";

impl Ec2 {
    /// The newest Amazon Linux 2023 AMI in the region.
    pub async fn latest_amazon_linux(&self, architecture: Architecture) -> Result<Option<String>, AwsError> {
        let output = self
            .client
            .describe_images()
            .owners("amazon")
            .filters(filter(
                "name",
                &format!("{DEFAULT_IMAGE_PATTERN}{}", architecture.ami()),
            ))
            .filters(filter("architecture", architecture.ami()))
            .filters(filter("state", "available"))
            .send()
            .await
            .op("DescribeImages")?;
        Ok(output
            .images()
            .iter()
            .max_by_key(|image| image.creation_date().unwrap_or_default().to_owned())
            .and_then(|image| image.image_id().map(str::to_owned)))
    }
}

impl Ec2 {
    /// The newest versions of launch template `id`, newest first, with the image each user
    /// data pulls; `current` is the default version (what new instances launch from).
    pub async fn template_versions(&self, id: &str) -> Result<Vec<crate::aws::Revision>, AwsError> {
        let output = self
            .client
            .describe_launch_template_versions()
            .launch_template_id(id)
            .max_results(crate::aws::status::REVISIONS)
            .send()
            .await
            .op("DescribeLaunchTemplateVersions")?;
        let mut versions: Vec<_> = output.launch_template_versions().to_vec();
        versions.sort_by_key(|v| std::cmp::Reverse(v.version_number()));
        Ok(versions
            .iter()
            .map(|version| {
                let user_data = version
                    .launch_template_data()
                    .and_then(|d| d.user_data())
                    .and_then(|encoded| base64::decode(encoded).ok())
                    .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                    .unwrap_or_default();
                crate::aws::Revision {
                    revision: version.version_number().unwrap_or_default().to_string(),
                    created_at: version
                        .create_time()
                        .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
                        .unwrap_or_default(),
                    created_by: version.created_by().map(str::to_owned),
                    image: pulled_image(&user_data).unwrap_or_default().to_owned(),
                    current: version.default_version() == Some(true),
                }
            })
            .collect())
    }
}

/// The image a user data script pulls (`docker pull '<image>'`).
fn pulled_image(user_data: &str) -> Option<&str> {
    word_after(user_data, "docker pull ")
}

/// The shell word after `prefix`, without the single quotes the `shell` filter puts around it
/// (an image or a log group name never holds a quote of its own).
fn word_after<'a>(user_data: &'a str, prefix: &str) -> Option<&'a str> {
    let word = user_data.split_once(prefix)?.1.split_whitespace().next()?;
    Some(
        word.strip_prefix('\'')
            .and_then(|w| w.strip_suffix('\''))
            .unwrap_or(word),
    )
}

pub(crate) struct LaunchTemplates<'a>(pub(crate) &'a Ec2);

impl Resource for LaunchTemplates<'_> {
    type Spec = LaunchTemplateSpec;

    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let templates: Vec<_> = all_pages!(
            self.0
                .client
                .describe_launch_templates()
                .filters(env_filter(environment)),
            "DescribeLaunchTemplates"
        )?;
        // Tags come from DescribeTags: the emulator's DescribeLaunchTemplates keeps showing the
        // tags from creation after CreateTags changed them (real AWS agrees with DescribeTags).
        let ids: Vec<String> = templates
            .iter()
            .filter_map(|t| t.launch_template_id().map(str::to_owned))
            .collect();
        let mut tags_by_id: std::collections::BTreeMap<String, Tags> = std::collections::BTreeMap::new();
        if !ids.is_empty() {
            let tags: Vec<_> = all_pages!(
                self.0.client.describe_tags().filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name("resource-id")
                        .set_values(Some(ids))
                        .build(),
                ),
                "DescribeTags"
            )?;
            for tag in tags {
                let (Some(id), Some(key)) = (tag.resource_id, tag.key) else {
                    continue;
                };
                if !key.starts_with("aws:") {
                    tags_by_id
                        .entry(id)
                        .or_default()
                        .insert(key, tag.value.unwrap_or_default());
                }
            }
        }
        let mut found = Vec::new();
        for template in templates {
            let id = template.launch_template_id().unwrap_or_default().to_owned();
            let versions = self
                .0
                .client
                .describe_launch_template_versions()
                .launch_template_id(&id)
                .versions("$Default")
                .send()
                .await
                .op("DescribeLaunchTemplateVersions")?;
            let Some(data) = versions
                .launch_template_versions()
                .first()
                .and_then(|v| v.launch_template_data())
            else {
                continue;
            };
            let name = template.launch_template_name().unwrap_or_default().to_owned();
            let image_id = data.image_id().unwrap_or_default().to_owned();
            let instance_type = data.instance_type().map(|t| t.as_str().to_owned()).unwrap_or_default();
            let groups: Vec<String> = data.security_group_ids().to_vec();
            let profile = data
                .iam_instance_profile()
                .and_then(|p| p.arn())
                .unwrap_or_default()
                .to_owned();
            let user_data = data
                .user_data()
                .and_then(|encoded| base64::decode(encoded).ok())
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .unwrap_or_default();
            // The user data names the group it logs to (`--log-opt awslogs-group=<name>`).
            let log_group = word_after(&user_data, "awslogs-group=").unwrap_or_default().to_owned();
            let image = pulled_image(&user_data).unwrap_or_default().to_owned();
            let root_volume = data.block_device_mappings().iter().find_map(|mapping| {
                let ebs = mapping.ebs()?;
                Some(RootVolume {
                    device: mapping.device_name()?.to_owned(),
                    size_gb: ebs.volume_size().map_or(0, |gb| gb.max(0) as u32),
                    volume_type: ebs.volume_type().map_or_else(String::new, |t| t.as_str().to_owned()),
                    encrypted: ebs.encrypted().unwrap_or(false),
                })
            });
            let tags = tags_by_id.remove(&id).unwrap_or_else(|| from_sdk_tags(template.tags()));
            found.push(Found::new(id, tags, move |lookup| {
                Spec::LaunchTemplate(LaunchTemplateSpec {
                    name,
                    image_id,
                    instance_type,
                    security_groups: groups.iter().map(|g| lookup(g)).collect(),
                    instance_profile: lookup(&profile),
                    image,
                    user_data,
                    root_volume,
                    log_group: lookup(&log_group),
                })
            }));
        }
        Ok(found)
    }

    async fn create(&self, request: Create<'_, LaunchTemplateSpec>) -> Result<String, AwsError> {
        let output = self
            .0
            .client
            .create_launch_template()
            .launch_template_name(&request.spec.name)
            .client_token(&request.client_token)
            .launch_template_data(launch_template_data(request.spec, request.tags, request.resolved)?)
            .tag_specifications(tag_specification(ResourceType::LaunchTemplate, request.tags))
            .send()
            .await
            .op("CreateLaunchTemplate")?;
        Ok(output
            .launch_template()
            .and_then(|t| t.launch_template_id())
            .unwrap_or_default()
            .to_owned())
    }

    /// A new version when what instances launch with changes, including the tags they
    /// inherit (the Auto Scaling group does not tag volumes); then the template's own tags.
    async fn update(&self, request: Update<'_, LaunchTemplateSpec>) -> Result<(), AwsError> {
        let data_changed = request.changed_any(&[
            LaunchTemplateSpec::IMAGE_ID,
            LaunchTemplateSpec::INSTANCE_TYPE,
            LaunchTemplateSpec::SECURITY_GROUPS,
            LaunchTemplateSpec::INSTANCE_PROFILE,
            LaunchTemplateSpec::USER_DATA,
        ]);
        if data_changed || inherited(request.tags) != inherited(request.current_tags) {
            self.new_default_version(request.physical_id, request.spec, request.tags, request.resolved)
                .await?;
        }
        sync_tags(self.0, request.physical_id, request.tags, request.current_tags).await
    }

    async fn delete(&self, request: Delete<'_, LaunchTemplateSpec>) -> Result<(), AwsError> {
        match self
            .0
            .client
            .delete_launch_template()
            .launch_template_id(request.physical_id)
            .send()
            .await
            .op("DeleteLaunchTemplate")
        {
            Err(error) if error.is_not_found() => Ok(()),
            other => other.map(drop),
        }
    }

    async fn revisions(&self, read: &Read<'_, Self::Spec>) -> Result<Option<Vec<Revision>>, AwsError> {
        Ok(Some(self.0.template_versions(&read.resource.physical_id).await?))
    }
}

impl LaunchTemplates<'_> {
    /// A complete new version (the emulator copies nothing from a source version, and a full
    /// version is clearer on real AWS too), made the default.
    async fn new_default_version(
        &self,
        id: &str,
        spec: &LaunchTemplateSpec,
        tags: &Tags,
        resolved: &Resolved,
    ) -> Result<(), AwsError> {
        let output = self
            .0
            .client
            .create_launch_template_version()
            .launch_template_id(id)
            .launch_template_data(launch_template_data(spec, tags, resolved)?)
            .send()
            .await
            .op("CreateLaunchTemplateVersion")?;
        let version = output
            .launch_template_version()
            .and_then(|v| v.version_number())
            .unwrap_or_default();
        self.0
            .client
            .modify_launch_template()
            .launch_template_id(id)
            .default_version(version.to_string())
            .send()
            .await
            .op("ModifyLaunchTemplate")?;
        Ok(())
    }
}

/// Instances and their volumes carry the environment's tags too (so they can be found), but
/// not the template's own bookkeeping (they are not the template).
fn inherited(tags: &Tags) -> Tags {
    tags.iter()
        .filter(|(k, _)| ![TAG_ID, TAG_SPEC].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn launch_template_data(
    spec: &LaunchTemplateSpec,
    tags: &Tags,
    resolved: &Resolved,
) -> Result<RequestLaunchTemplateData, AwsError> {
    let inherited = inherited(tags);
    let instance_tags = |resource_type| {
        LaunchTemplateTagSpecificationRequest::builder()
            .resource_type(resource_type)
            .set_tags(Some(to_sdk_tags(&inherited)))
            .build()
    };
    let root_volume = spec.root_volume.as_ref().map(|volume| {
        LaunchTemplateBlockDeviceMappingRequest::builder()
            .device_name(&volume.device)
            .ebs(
                LaunchTemplateEbsBlockDeviceRequest::builder()
                    .volume_size(volume.size_gb as i32)
                    .volume_type(volume.volume_type.as_str().into())
                    .encrypted(volume.encrypted)
                    .delete_on_termination(true)
                    .build(),
            )
            .build()
    });
    Ok(RequestLaunchTemplateData::builder()
        .image_id(&spec.image_id)
        .set_block_device_mappings(root_volume.map(|mapping| vec![mapping]))
        .instance_type(spec.instance_type.as_str().into())
        .set_security_group_ids(Some(resolved.physical_all(&spec.security_groups)?))
        .iam_instance_profile(
            LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                .arn(resolved.physical(&spec.instance_profile)?)
                .build(),
        )
        .user_data(base64::encode(spec.user_data.as_bytes()))
        .metadata_options(
            LaunchTemplateInstanceMetadataOptionsRequest::builder()
                .http_tokens(LaunchTemplateHttpTokensState::Required)
                .http_endpoint(LaunchTemplateInstanceMetadataEndpointState::Enabled)
                .http_put_response_hop_limit(METADATA_HOP_LIMIT)
                .build(),
        )
        .tag_specifications(instance_tags(ResourceType::Instance))
        .tag_specifications(instance_tags(ResourceType::Volume))
        .build())
}
