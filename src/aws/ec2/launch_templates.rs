//! Launch templates (each change is a new version made the default) and the default AMI.

use aws_sdk_ec2::types::{
    LaunchTemplateHttpTokensState, LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMetadataEndpointState, LaunchTemplateInstanceMetadataOptionsRequest,
    LaunchTemplateTagSpecificationRequest, RequestLaunchTemplateData, ResourceType,
};
use aws_smithy_types::base64;

use super::{Ec2, filter, from_sdk_tags, tag_specification, to_sdk_tags};
use crate::apply::Resolved;
use crate::aws::elb::physical_all;
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::model::{LaunchTemplateSpec, Spec, TAG_ENVIRONMENT, TAG_ID, TAG_SPEC, Tags};

/// Containers reach the instance metadata service through one more network hop than the host.
const METADATA_HOP_LIMIT: i32 = 2;
/// Amazon Linux 2023 for x86_64, published by Amazon.
const DEFAULT_IMAGE_PATTERN: &str = "al2023-ami-2023.*-x86_64";

impl Ec2 {
    /// The newest Amazon Linux 2023 AMI in the region.
    pub async fn latest_amazon_linux(&self) -> Result<Option<String>, AwsError> {
        let output = self
            .client
            .describe_images()
            .owners("amazon")
            .filters(filter("name", DEFAULT_IMAGE_PATTERN))
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

    pub(crate) async fn find_launch_templates(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let templates: Vec<_> = self
            .client
            .describe_launch_templates()
            .filters(filter(&format!("tag:{TAG_ENVIRONMENT}"), environment))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .op("DescribeLaunchTemplates")?;
        // Tags come from DescribeTags: the emulator's DescribeLaunchTemplates keeps showing the
        // tags from creation after CreateTags changed them (real AWS agrees with DescribeTags).
        let ids: Vec<String> = templates
            .iter()
            .filter_map(|t| t.launch_template_id().map(str::to_owned))
            .collect();
        let mut tags_by_id: std::collections::BTreeMap<String, Tags> = std::collections::BTreeMap::new();
        if !ids.is_empty() {
            let tags: Vec<_> = self
                .client
                .describe_tags()
                .filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name("resource-id")
                        .set_values(Some(ids))
                        .build(),
                )
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .op("DescribeTags")?;
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
            let tags = tags_by_id.remove(&id).unwrap_or_else(|| from_sdk_tags(template.tags()));
            found.push(Found::new(id, tags, move |lookup| {
                Spec::LaunchTemplate(LaunchTemplateSpec {
                    name,
                    image_id,
                    instance_type,
                    security_groups: groups.iter().map(|g| lookup(g)).collect(),
                    instance_profile: lookup(&profile),
                    user_data,
                })
            }));
        }
        Ok(found)
    }

    fn launch_template_data(
        spec: &LaunchTemplateSpec,
        tags: &Tags,
        resolved: &Resolved,
    ) -> Result<RequestLaunchTemplateData, AwsError> {
        // Instances and their volumes carry the environment's tags too (so they can be found),
        // but not the template's own bookkeeping (they are not the template).
        let inherited: Tags = tags
            .iter()
            .filter(|(k, _)| ![TAG_ID, TAG_SPEC].contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let instance_tags = |resource_type| {
            LaunchTemplateTagSpecificationRequest::builder()
                .resource_type(resource_type)
                .set_tags(Some(to_sdk_tags(&inherited)))
                .build()
        };
        Ok(RequestLaunchTemplateData::builder()
            .image_id(&spec.image_id)
            .instance_type(spec.instance_type.as_str().into())
            .set_security_group_ids(Some(physical_all(&spec.security_groups, resolved)?))
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

    pub async fn create_launch_template(
        &self,
        spec: &LaunchTemplateSpec,
        tags: &Tags,
        resolved: &Resolved,
    ) -> Result<String, AwsError> {
        let output = self
            .client
            .create_launch_template()
            .launch_template_name(&spec.name)
            .launch_template_data(Self::launch_template_data(spec, tags, resolved)?)
            .tag_specifications(tag_specification(ResourceType::LaunchTemplate, tags))
            .send()
            .await
            .op("CreateLaunchTemplate")?;
        Ok(output
            .launch_template()
            .and_then(|t| t.launch_template_id())
            .unwrap_or_default()
            .to_owned())
    }

    /// A complete new version (the emulator copies nothing from a source version, and a full
    /// version is clearer on real AWS too), made the default.
    pub async fn update_launch_template(
        &self,
        id: &str,
        spec: &LaunchTemplateSpec,
        tags: &Tags,
        resolved: &Resolved,
    ) -> Result<(), AwsError> {
        let output = self
            .client
            .create_launch_template_version()
            .launch_template_id(id)
            .launch_template_data(Self::launch_template_data(spec, tags, resolved)?)
            .send()
            .await
            .op("CreateLaunchTemplateVersion")?;
        let version = output
            .launch_template_version()
            .and_then(|v| v.version_number())
            .unwrap_or_default();
        self.client
            .modify_launch_template()
            .launch_template_id(id)
            .default_version(version.to_string())
            .send()
            .await
            .op("ModifyLaunchTemplate")?;
        Ok(())
    }

    pub async fn delete_launch_template(&self, id: &str) -> Result<(), AwsError> {
        match self
            .client
            .delete_launch_template()
            .launch_template_id(id)
            .send()
            .await
            .op("DeleteLaunchTemplate")
        {
            Err(error) if error.is_not_found() => Ok(()),
            other => other.map(drop),
        }
    }
}
