//! The API's log group, with its retention.

use super::*;

pub(crate) struct LogGroups<'a>(pub(crate) &'a Logs);

impl Resource for LogGroups<'_> {
    type Spec = LogGroupSpec;

    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        // deployer names its groups `/deployer/<env>/...`; only those can be ours.
        let prefix = crate::model::names::log_group_prefix(environment);
        let groups: Vec<_> = all_pages!(
            self.0.client.describe_log_groups().log_group_name_prefix(&prefix),
            "DescribeLogGroups"
        )?;
        let mut found = Vec::new();
        for group in groups {
            let (Some(name), Some(arn)) = (group.log_group_name(), group_arn(&group)) else {
                continue;
            };
            let listed = self
                .0
                .client
                .list_tags_for_resource()
                .resource_arn(&arn)
                .send()
                .await
                .op("ListTagsForResource")?;
            let tags: Tags = listed
                .tags()
                .map(|tags: &HashMap<String, String>| tags.clone().into_iter().collect())
                .unwrap_or_default();
            if tags.get(TAG_ENVIRONMENT).is_none_or(|e| e != environment) {
                continue;
            }
            let spec = LogGroupSpec {
                name: name.to_owned(),
                retention_days: group
                    .retention_in_days()
                    .map_or(0, |d| d.clamp(0, i32::from(u16::MAX)) as u16),
            };
            found.push(Found::new(name, tags, move |_| Spec::LogGroup(spec)).with_info(|info| info.arn = Some(arn)));
        }
        Ok(found)
    }

    /// A group of this name that exists without deployer's tags was made by an earlier
    /// deployer's `awslogs-create-group`: it is adopted (tagged, given its retention).
    async fn create(&self, request: Create<'_, LogGroupSpec>) -> Result<String, AwsError> {
        let spec = request.spec;
        match self
            .0
            .client
            .create_log_group()
            .log_group_name(&spec.name)
            .set_tags(Some(request.tags.clone().into_iter().collect()))
            .send()
            .await
            .op("CreateLogGroup")
        {
            Ok(_) => {}
            Err(error) if error.code() == Some("ResourceAlreadyExistsException") => {
                if let Some(arn) = self.0.arn(&spec.name).await? {
                    self.0.tag(&arn, request.tags).await?;
                }
            }
            Err(error) => return Err(error),
        }
        self.0.put_retention(&spec.name, spec.retention_days).await?;
        Ok(spec.name.clone())
    }

    async fn update(&self, request: Update<'_, LogGroupSpec>) -> Result<(), AwsError> {
        let spec = request.spec;
        if request.changed(LogGroupSpec::RETENTION_DAYS) {
            self.0.put_retention(&spec.name, spec.retention_days).await?;
        }
        let arn = recorded_arn(request.info, &spec.name, "TagResource")?;
        sync_tags(self.0, arn, request.tags, request.current_tags).await
    }

    async fn delete(&self, request: Delete<'_, LogGroupSpec>) -> Result<(), AwsError> {
        match self
            .0
            .client
            .delete_log_group()
            .log_group_name(request.physical_id)
            .send()
            .await
            .op("DeleteLogGroup")
        {
            Err(error) if error.code() == Some("ResourceNotFoundException") => Ok(()),
            other => other.map(drop),
        }
    }
}
