//! Security groups (their rules are a resource of their own: `security_group_rules.rs`).

use aws_sdk_ec2::types::ResourceType;

use super::security_group_rules::rules_of;
use super::{Ec2, env_filter, from_sdk_tags, tag_specification};
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::resource::Read;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::retry::delete_with_retry;
use crate::aws::tags::sync_tags;
use crate::model::Outputs;
use crate::model::{Id, Ref, SecurityGroupRulesSpec, SecurityGroupSpec, Spec, TAG_ID};

pub(crate) struct SecurityGroups<'a>(pub(crate) &'a Ec2);

impl Resource for SecurityGroups<'_> {
    type Spec = SecurityGroupSpec;

    /// Finds the groups and, from the same answer, their rules.
    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let groups: Vec<_> = all_pages!(
            self.0
                .client
                .describe_security_groups()
                .filters(env_filter(environment)),
            "DescribeSecurityGroups"
        )?;
        let mut found = Vec::new();
        for g in groups {
            let physical = g.group_id().unwrap_or_default().to_owned();
            let tags = from_sdk_tags(g.tags());
            if let Some(id) = tags.get(TAG_ID) {
                let group_id = Id::new(id.clone());
                let mut rule_tags = tags.clone();
                rule_tags.insert(TAG_ID.to_owned(), format!("{id}-rules"));
                let (ingress, egress) = (g.ip_permissions().to_vec(), g.ip_permissions_egress().to_vec());
                found.push(
                    Found::new(physical.clone(), rule_tags, move |lookup| {
                        Spec::SecurityGroupRules(SecurityGroupRulesSpec {
                            group: Ref::Managed(group_id),
                            ingress: rules_of(&ingress, lookup),
                            egress: rules_of(&egress, lookup),
                        })
                    })
                    .part_of_another(),
                );
            }
            let vpc = g.vpc_id().unwrap_or_default().to_owned();
            let name = g.group_name().unwrap_or_default().to_owned();
            let description = g.description().unwrap_or_default().to_owned();
            found.push(Found::new(physical, tags, move |lookup| {
                Spec::SecurityGroup(SecurityGroupSpec {
                    vpc: lookup(&vpc),
                    name,
                    description,
                })
            }));
        }
        Ok(found)
    }

    async fn create(&self, request: Create<'_, SecurityGroupSpec>) -> Result<String, AwsError> {
        let spec = request.spec;
        let output = self
            .0
            .client
            .create_security_group()
            .vpc_id(request.resolved.physical(&spec.vpc)?)
            .group_name(&spec.name)
            .description(&spec.description)
            .tag_specifications(tag_specification(ResourceType::SecurityGroup, request.tags))
            .send()
            .await
            .op("CreateSecurityGroup")?;
        Ok(output.group_id().unwrap_or_default().to_owned())
    }

    /// Every attribute forces a replacement: only tags change in place.
    async fn update(&self, request: Update<'_, SecurityGroupSpec>) -> Result<(), AwsError> {
        sync_tags(self.0, request.physical_id, request.tags, request.current_tags).await
    }

    async fn delete(&self, request: Delete<'_, SecurityGroupSpec>) -> Result<(), AwsError> {
        let group = request.physical_id;
        delete_with_retry(group, request.progress, || async {
            self.0
                .client
                .delete_security_group()
                .group_id(group)
                .send()
                .await
                .op("DeleteSecurityGroup")
                .map(drop)
        })
        .await
    }

    fn outputs(&self, read: &Read<'_, Self::Spec>, outputs: &mut Outputs) {
        let role = read
            .resource
            .id
            .as_str()
            .trim_start_matches("security-group-")
            .to_owned();
        outputs
            .security_group_ids
            .insert(role, read.resource.physical_id.clone());
    }
}
