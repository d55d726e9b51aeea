//! Aurora PostgreSQL clusters. The master password is generated and kept by RDS in Secrets
//! Manager: it never passes through deployer, the YAML or the logs.

use std::time::Duration;

use aws_sdk_rds::operation::modify_db_cluster::builders::ModifyDBClusterFluentBuilder;

use super::database_check;
use super::{Rds, ours, sdk_tags, tags_of};
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::found::recorded_arn;
use crate::aws::resource::Read;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::status::Health;
use crate::aws::tags::sync_tags;
use crate::aws::wait::{Goal, Wait, poll};
use crate::model::Outputs;
use crate::model::{DbClusterSpec, Spec, TAG_FINAL_SNAPSHOT, major_version};

pub(crate) struct Clusters<'a>(pub(crate) &'a Rds);

impl Resource for Clusters<'_> {
    type Spec = DbClusterSpec;
    /// Aurora clusters take 5 to 15 minutes to create or delete on real AWS.
    const TIMEOUT: Duration = Duration::from_secs(45 * 60);

    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let mut found = Vec::new();
        let clusters: Vec<_> = all_pages!(self.0.client.describe_db_clusters(), "DescribeDBClusters")?;
        for cluster in clusters {
            let tags = tags_of(cluster.tag_list());
            if !ours(&tags, environment) || cluster.status() == Some("deleting") {
                continue;
            }
            let identifier = cluster.db_cluster_identifier().unwrap_or_default().to_owned();
            let spec = DbClusterSpec {
                identifier: identifier.clone(),
                engine: cluster.engine().unwrap_or_default().to_owned(),
                engine_version: cluster.engine_version().unwrap_or_default().to_owned(),
                subnet_group: crate::model::Ref::External(cluster.db_subnet_group().unwrap_or_default().to_owned()),
                security_groups: Default::default(),
                storage_encrypted: cluster.storage_encrypted().unwrap_or(false),
                deletion_protection: cluster.deletion_protection().unwrap_or(false),
                backup_retention_days: cluster.backup_retention_period().unwrap_or_default() as u8,
                master_username: cluster.master_username().unwrap_or_default().to_owned(),
                database_name: cluster.database_name().unwrap_or_default().to_owned(),
            };
            let groups: Vec<String> = cluster
                .vpc_security_groups()
                .iter()
                .filter_map(|g| g.vpc_security_group_id().map(str::to_owned))
                .collect();
            let endpoint = cluster.endpoint().map(str::to_owned);
            found.push(
                Found::new(identifier, tags, move |lookup| {
                    let subnet_group = lookup(&spec.subnet_group.to_string());
                    Spec::DbCluster(DbClusterSpec {
                        subnet_group,
                        security_groups: groups.iter().map(|g| lookup(g)).collect(),
                        ..spec
                    })
                })
                .with_info(|info| {
                    info.endpoint = endpoint;
                    info.arn = cluster.db_cluster_arn().map(str::to_owned);
                }),
            );
        }
        Ok(found)
    }

    async fn create(&self, request: Create<'_, DbClusterSpec>) -> Result<String, AwsError> {
        let (spec, tags, resolved) = (request.spec, request.tags, request.resolved);

        self.0
            .client
            .create_db_cluster()
            .db_cluster_identifier(&spec.identifier)
            .engine(&spec.engine)
            .engine_version(&spec.engine_version)
            .master_username(&spec.master_username)
            .manage_master_user_password(true)
            .database_name(&spec.database_name)
            .db_subnet_group_name(resolved.physical(&spec.subnet_group)?)
            .set_vpc_security_group_ids(Some(resolved.physical_all(&spec.security_groups)?))
            .storage_encrypted(spec.storage_encrypted)
            .deletion_protection(spec.deletion_protection)
            .backup_retention_period(i32::from(spec.backup_retention_days))
            .copy_tags_to_snapshot(true)
            .set_tags(Some(sdk_tags(tags)))
            .send()
            .await
            .op("CreateDBCluster")?;
        let wait = request.wait(format!(
            "database cluster {} to be available (Aurora takes minutes)",
            spec.identifier
        ));
        self.wait(&spec.identifier, Goal::Ready, wait).await?;
        Ok(spec.identifier.clone())
    }

    /// Sends only the settings that changed: an engine version in the request is an upgrade.
    async fn update(&self, request: Update<'_, DbClusterSpec>) -> Result<(), AwsError> {
        let spec = request.spec;
        // One call carrying every changed setting, or none.
        let mut modify: Option<ModifyDBClusterFluentBuilder> = None;
        let start = || {
            self.0
                .client
                .modify_db_cluster()
                .db_cluster_identifier(&spec.identifier)
                .apply_immediately(true)
        };
        if request.changed(DbClusterSpec::ENGINE_VERSION) {
            // AWS refuses a new major without this flag (InvalidParameterCombination); the plan
            // said it is a major upgrade.
            let major = major_version(&spec.engine_version) != major_version(&request.observed.engine_version);
            modify = Some(
                modify
                    .unwrap_or_else(start)
                    .engine_version(&spec.engine_version)
                    .set_allow_major_version_upgrade(major.then_some(true)),
            );
        }
        if request.changed(DbClusterSpec::SECURITY_GROUPS) {
            let groups = request.resolved.physical_all(&spec.security_groups)?;
            modify = Some(modify.unwrap_or_else(start).set_vpc_security_group_ids(Some(groups)));
        }
        if request.changed(DbClusterSpec::DELETION_PROTECTION) {
            modify = Some(
                modify
                    .unwrap_or_else(start)
                    .deletion_protection(spec.deletion_protection),
            );
        }
        if request.changed(DbClusterSpec::BACKUP_RETENTION_DAYS) {
            let days = i32::from(spec.backup_retention_days);
            modify = Some(modify.unwrap_or_else(start).backup_retention_period(days));
        }
        if let Some(modify) = modify {
            modify.send().await.op("ModifyDBCluster")?;
            let wait = request.wait(format!("database cluster {} to apply the change", spec.identifier));
            self.wait(&spec.identifier, Goal::Ready, wait).await?;
        }
        let arn = recorded_arn(request.info, &spec.identifier, "AddTagsToResource")?;
        sync_tags(self.0, arn, request.tags, request.current_tags).await
    }

    /// Deletion protection is lifted first: reaching this step means the user confirmed the
    /// destroy (protected environments need the typed name or --allow-destroy).
    async fn delete(&self, request: Delete<'_, DbClusterSpec>) -> Result<(), AwsError> {
        let (identifier, observed, tags, progress) =
            (request.physical_id, request.observed, request.tags, request.progress);

        if observed.deletion_protection {
            self.0
                .client
                .modify_db_cluster()
                .db_cluster_identifier(identifier)
                .deletion_protection(false)
                .apply_immediately(true)
                .send()
                .await
                .op("ModifyDBCluster")?;
        }
        let mut delete = self.0.client.delete_db_cluster().db_cluster_identifier(identifier);
        delete = if tags.get(TAG_FINAL_SNAPSHOT).is_some_and(|v| v == "true") {
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default();
            let snapshot = format!("{identifier}-final-{stamp}");
            progress.waiting(format!("final snapshot {snapshot}"));
            delete.final_db_snapshot_identifier(snapshot)
        } else {
            delete.skip_final_snapshot(true)
        };
        match delete.send().await.op("DeleteDBCluster") {
            Err(error) if error.code() == Some("DBClusterNotFoundFault") => return Ok(()),
            other => other?,
        };
        self.wait(
            identifier,
            Goal::Gone,
            request.wait(format!("database cluster {identifier} to be deleted")),
        )
        .await
    }

    fn outputs(&self, read: &Read<'_, Self::Spec>, outputs: &mut Outputs) {
        outputs.database_endpoint = read.resource.info.endpoint.clone();
    }

    async fn health(&self, read: &Read<'_, Self::Spec>) -> Result<Option<Health>, AwsError> {
        Ok(self
            .0
            .cluster_status(&read.resource.physical_id)
            .await?
            .map(Health::Database))
    }
}

impl Clusters<'_> {
    async fn wait(&self, identifier: &str, goal: Goal, wait: Wait<'_>) -> Result<(), AwsError> {
        poll(wait, || async move {
            match self
                .0
                .client
                .describe_db_clusters()
                .db_cluster_identifier(identifier)
                .send()
                .await
                .op("DescribeDBClusters")
            {
                Ok(output) => Ok(database_check(
                    output.db_clusters().first().and_then(|c| c.status()),
                    goal,
                )),
                Err(error) if error.code() == Some("DBClusterNotFoundFault") => Ok(goal.absent()),
                Err(error) => Err(error),
            }
        })
        .await
    }
}
