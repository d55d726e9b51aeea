//! DB subnet groups: where Aurora places its instances.

use super::{Rds, ours, sdk_tags, tags_of};
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::found::recorded_arn;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::retry::delete_with_retry;
use crate::aws::tags::sync_tags;
use crate::model::{DbSubnetGroupSpec, Spec};

pub(crate) struct SubnetGroups<'a>(pub(crate) &'a Rds);

impl Resource for SubnetGroups<'_> {
    type Spec = DbSubnetGroupSpec;

    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let mut found = Vec::new();
        let groups: Vec<_> = all_pages!(self.0.client.describe_db_subnet_groups(), "DescribeDBSubnetGroups")?;
        for group in groups {
            let Some(arn) = group.db_subnet_group_arn() else {
                continue;
            };
            let listed = self
                .0
                .client
                .list_tags_for_resource()
                .resource_name(arn)
                .send()
                .await
                .op("ListTagsForResource")?;
            let tags = tags_of(listed.tag_list());
            if !ours(&tags, environment) {
                continue;
            }
            let name = group.db_subnet_group_name().unwrap_or_default().to_owned();
            let subnets: Vec<String> = group
                .subnets()
                .iter()
                .filter_map(|s| s.subnet_identifier().map(str::to_owned))
                .collect();
            let spec_name = name.clone();
            let found_group = Found::new(name, tags, move |lookup| {
                Spec::DbSubnetGroup(DbSubnetGroupSpec {
                    name: spec_name,
                    subnets: subnets.iter().map(|s| lookup(s)).collect(),
                })
            });
            found.push(found_group.with_info(|info| info.arn = Some(arn.to_owned())));
        }
        Ok(found)
    }

    async fn create(&self, request: Create<'_, DbSubnetGroupSpec>) -> Result<String, AwsError> {
        let (spec, tags, resolved) = (request.spec, request.tags, request.resolved);

        self.0
            .client
            .create_db_subnet_group()
            .db_subnet_group_name(&spec.name)
            .db_subnet_group_description(format!("deployer: {}", spec.name))
            .set_subnet_ids(Some(resolved.physical_all(&spec.subnets)?))
            .set_tags(Some(sdk_tags(tags)))
            .send()
            .await
            .op("CreateDBSubnetGroup")?;
        Ok(spec.name.clone())
    }

    /// ModifyDBSubnetGroup only when the subnets change: it is the one call here that moves
    /// the database, and the emulator drops the group when it is called.
    async fn update(&self, request: Update<'_, DbSubnetGroupSpec>) -> Result<(), AwsError> {
        let spec = request.spec;
        if request.changed(DbSubnetGroupSpec::SUBNETS) {
            self.0
                .client
                .modify_db_subnet_group()
                .db_subnet_group_name(&spec.name)
                .set_subnet_ids(Some(request.resolved.physical_all(&spec.subnets)?))
                .send()
                .await
                .op("ModifyDBSubnetGroup")?;
        }
        let arn = recorded_arn(request.info, &spec.name, "AddTagsToResource")?;
        sync_tags(self.0, arn, request.tags, request.current_tags).await
    }

    async fn delete(&self, request: Delete<'_, DbSubnetGroupSpec>) -> Result<(), AwsError> {
        let (name, progress) = (request.physical_id, request.progress);

        delete_with_retry(name, progress, || async {
            match self
                .0
                .client
                .delete_db_subnet_group()
                .db_subnet_group_name(name)
                .send()
                .await
                .op("DeleteDBSubnetGroup")
            {
                Err(error) if error.code() == Some("InvalidDBSubnetGroupStateFault") => Err(AwsError::Service {
                    operation: "DeleteDBSubnetGroup",
                    code: "DependencyViolation".into(),
                    message: error.to_string(),
                }),
                other => other.map(drop),
            }
        })
        .await
    }
}
