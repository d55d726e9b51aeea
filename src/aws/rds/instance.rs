//! Aurora instances: the cluster's writer and readers.

use std::time::Duration;

use super::{Rds, database_check, ours, sdk_tags, tags_of};
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::found::recorded_arn;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::tags::sync_tags;
use crate::aws::wait::{Goal, Wait, poll};
use crate::model::{DbInstanceSpec, Spec};

pub(crate) struct Instances<'a>(pub(crate) &'a Rds);

impl Resource for Instances<'_> {
    type Spec = DbInstanceSpec;
    /// Aurora instances take 5 to 15 minutes to create or delete on real AWS.
    const TIMEOUT: Duration = Duration::from_secs(45 * 60);

    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let mut found = Vec::new();
        let instances: Vec<_> = all_pages!(self.0.client.describe_db_instances(), "DescribeDBInstances")?;
        for instance in instances {
            let tags = tags_of(instance.tag_list());
            if !ours(&tags, environment) || instance.db_instance_status() == Some("deleting") {
                continue;
            }
            let identifier = instance.db_instance_identifier().unwrap_or_default().to_owned();
            let cluster = instance.db_cluster_identifier().unwrap_or_default().to_owned();
            let instance_class = instance.db_instance_class().unwrap_or_default().to_owned();
            let engine = instance.engine().unwrap_or_default().to_owned();
            let availability_zone = instance.availability_zone().unwrap_or_default().to_owned();
            let spec_identifier = identifier.clone();
            let arn = instance.db_instance_arn().map(str::to_owned);
            let found_instance = Found::new(identifier, tags, move |lookup| {
                Spec::DbInstance(DbInstanceSpec {
                    identifier: spec_identifier,
                    cluster: lookup(&cluster),
                    instance_class,
                    engine,
                    availability_zone,
                })
            });
            found.push(found_instance.with_info(|info| info.arn = arn));
        }
        Ok(found)
    }

    async fn create(&self, request: Create<'_, DbInstanceSpec>) -> Result<String, AwsError> {
        let (spec, tags, resolved) = (request.spec, request.tags, request.resolved);

        self.0
            .client
            .create_db_instance()
            .db_instance_identifier(&spec.identifier)
            .db_cluster_identifier(resolved.physical(&spec.cluster)?)
            .db_instance_class(&spec.instance_class)
            .engine(&spec.engine)
            .availability_zone(&spec.availability_zone)
            .publicly_accessible(false)
            .set_tags(Some(sdk_tags(tags)))
            .send()
            .await
            .op("CreateDBInstance")?;
        let wait = request.wait(format!(
            "database instance {} to be available (Aurora takes minutes)",
            spec.identifier
        ));
        self.wait(&spec.identifier, Goal::Ready, wait).await?;
        Ok(spec.identifier.clone())
    }

    async fn update(&self, request: Update<'_, DbInstanceSpec>) -> Result<(), AwsError> {
        let spec = request.spec;
        if request.changed(DbInstanceSpec::INSTANCE_CLASS) {
            self.0
                .client
                .modify_db_instance()
                .db_instance_identifier(&spec.identifier)
                .db_instance_class(&spec.instance_class)
                .apply_immediately(true)
                .send()
                .await
                .op("ModifyDBInstance")?;
        }
        let arn = recorded_arn(request.info, &spec.identifier, "AddTagsToResource")?;
        sync_tags(self.0, arn, request.tags, request.current_tags).await
    }

    async fn delete(&self, request: Delete<'_, DbInstanceSpec>) -> Result<(), AwsError> {
        let identifier = request.physical_id;

        match self
            .0
            .client
            .delete_db_instance()
            .db_instance_identifier(identifier)
            .send()
            .await
            .op("DeleteDBInstance")
        {
            Err(error) if error.code() == Some("DBInstanceNotFound") => return Ok(()),
            other => other?,
        };
        self.wait(
            identifier,
            Goal::Gone,
            request.wait(format!("database instance {identifier} to be deleted")),
        )
        .await
    }
}

impl Instances<'_> {
    async fn wait(&self, identifier: &str, goal: Goal, wait: Wait<'_>) -> Result<(), AwsError> {
        poll(wait, || async move {
            match self
                .0
                .client
                .describe_db_instances()
                .db_instance_identifier(identifier)
                .send()
                .await
                .op("DescribeDBInstances")
            {
                Ok(output) => Ok(database_check(
                    output.db_instances().first().and_then(|i| i.db_instance_status()),
                    goal,
                )),
                Err(error) if error.code() == Some("DBInstanceNotFound") => Ok(goal.absent()),
                Err(error) => Err(error),
            }
        })
        .await
    }
}
