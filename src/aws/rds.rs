//! The RDS adapter: DB subnet groups, Aurora PostgreSQL clusters and their instances.

use std::time::{Duration, Instant};

use aws_sdk_rds::Client;
use aws_sdk_rds::client::Waiters;
use aws_sdk_rds::types::Tag;

use super::elb::physical_all;
use super::error::{AwsError, Classify};
use super::found::Found;
use crate::apply::{Progress, Resolved};
use crate::model::{DbClusterSpec, DbInstanceSpec, DbSubnetGroupSpec, Spec, TAG_ENVIRONMENT, TAG_FINAL_SNAPSHOT, Tags};

/// Aurora clusters and instances take 5 to 15 minutes to create or delete on real AWS.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(45 * 60);
const POLL_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct Rds {
    client: Client,
}

fn tags_of(tags: &[Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned())))
        .collect()
}

fn sdk_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

impl Rds {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: Client::new(config),
        }
    }

    pub(crate) async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let ours = |tags: &Tags| tags.get(TAG_ENVIRONMENT).is_some_and(|e| e == environment);
        let mut found = Vec::new();
        let groups: Vec<_> = self
            .client
            .describe_db_subnet_groups()
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .op("DescribeDBSubnetGroups")?;
        for group in groups {
            let Some(arn) = group.db_subnet_group_arn() else {
                continue;
            };
            let listed = self
                .client
                .list_tags_for_resource()
                .resource_name(arn)
                .send()
                .await
                .op("ListTagsForResource")?;
            let tags = tags_of(listed.tag_list());
            if !ours(&tags) {
                continue;
            }
            let name = group.db_subnet_group_name().unwrap_or_default().to_owned();
            let subnets: Vec<String> = group
                .subnets()
                .iter()
                .filter_map(|s| s.subnet_identifier().map(str::to_owned))
                .collect();
            let spec_name = name.clone();
            found.push(Found::new(name, tags, move |lookup| {
                Spec::DbSubnetGroup(DbSubnetGroupSpec {
                    name: spec_name,
                    subnets: subnets.iter().map(|s| lookup(s)).collect(),
                })
            }));
        }
        let clusters: Vec<_> = self
            .client
            .describe_db_clusters()
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .op("DescribeDBClusters")?;
        for cluster in clusters {
            let tags = tags_of(cluster.tag_list());
            if !ours(&tags) || cluster.status() == Some("deleting") {
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
                .with_info("endpoint", endpoint.as_deref()),
            );
        }
        let instances: Vec<_> = self
            .client
            .describe_db_instances()
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .op("DescribeDBInstances")?;
        for instance in instances {
            let tags = tags_of(instance.tag_list());
            if !ours(&tags) || instance.db_instance_status() == Some("deleting") {
                continue;
            }
            let identifier = instance.db_instance_identifier().unwrap_or_default().to_owned();
            let cluster = instance.db_cluster_identifier().unwrap_or_default().to_owned();
            let instance_class = instance.db_instance_class().unwrap_or_default().to_owned();
            let engine = instance.engine().unwrap_or_default().to_owned();
            let spec_identifier = identifier.clone();
            found.push(Found::new(identifier, tags, move |lookup| {
                Spec::DbInstance(DbInstanceSpec {
                    identifier: spec_identifier,
                    cluster: lookup(&cluster),
                    instance_class,
                    engine,
                })
            }));
        }
        Ok(found)
    }

    pub async fn create_subnet_group(
        &self,
        spec: &DbSubnetGroupSpec,
        tags: &Tags,
        resolved: &Resolved,
    ) -> Result<String, AwsError> {
        self.client
            .create_db_subnet_group()
            .db_subnet_group_name(&spec.name)
            .db_subnet_group_description(format!("deployer: {}", spec.name))
            .set_subnet_ids(Some(physical_all(&spec.subnets, resolved)?))
            .set_tags(Some(sdk_tags(tags)))
            .send()
            .await
            .op("CreateDBSubnetGroup")?;
        Ok(spec.name.clone())
    }

    pub async fn update_subnet_group(&self, spec: &DbSubnetGroupSpec, resolved: &Resolved) -> Result<(), AwsError> {
        self.client
            .modify_db_subnet_group()
            .db_subnet_group_name(&spec.name)
            .set_subnet_ids(Some(physical_all(&spec.subnets, resolved)?))
            .send()
            .await
            .op("ModifyDBSubnetGroup")?;
        Ok(())
    }

    pub async fn delete_subnet_group(&self, name: &str, progress: Progress<'_>) -> Result<(), AwsError> {
        super::retry::delete_with_retry(name, progress, || async {
            match self
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

    /// The master password is generated and kept by RDS in Secrets Manager: it never passes
    /// through deployer, the YAML or the logs.
    pub async fn create_cluster(
        &self,
        spec: &DbClusterSpec,
        tags: &Tags,
        resolved: &Resolved,
        progress: Progress<'_>,
    ) -> Result<String, AwsError> {
        self.client
            .create_db_cluster()
            .db_cluster_identifier(&spec.identifier)
            .engine(&spec.engine)
            .engine_version(&spec.engine_version)
            .master_username(&spec.master_username)
            .manage_master_user_password(true)
            .database_name(&spec.database_name)
            .db_subnet_group_name(resolved.physical(&spec.subnet_group)?)
            .set_vpc_security_group_ids(Some(physical_all(&spec.security_groups, resolved)?))
            .storage_encrypted(spec.storage_encrypted)
            .deletion_protection(spec.deletion_protection)
            .backup_retention_period(i32::from(spec.backup_retention_days))
            .copy_tags_to_snapshot(true)
            .set_tags(Some(sdk_tags(tags)))
            .send()
            .await
            .op("CreateDBCluster")?;
        self.wait_cluster(&spec.identifier, "available", progress).await?;
        Ok(spec.identifier.clone())
    }

    async fn wait_cluster(&self, identifier: &str, wanted: &str, progress: Progress<'_>) -> Result<(), AwsError> {
        let started = Instant::now();
        loop {
            let status = match self
                .client
                .describe_db_clusters()
                .db_cluster_identifier(identifier)
                .send()
                .await
                .op("DescribeDBClusters")
            {
                Ok(output) => output.db_clusters().first().and_then(|c| c.status()).map(str::to_owned),
                Err(error) if error.code() == Some("DBClusterNotFoundFault") => None,
                Err(error) => return Err(error),
            };
            match status.as_deref() {
                Some(status) if status == wanted => return Ok(()),
                None if wanted == "deleted" => return Ok(()),
                _ => {}
            }
            if started.elapsed() > DATABASE_TIMEOUT {
                return Err(AwsError::WaitTimeout {
                    what: format!("database cluster {identifier} to be {wanted}"),
                    waited: DATABASE_TIMEOUT,
                });
            }
            progress.waiting(format!(
                "database cluster {identifier} to be {wanted} (now {}; Aurora takes minutes)",
                status.as_deref().unwrap_or("absent")
            ));
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    pub async fn update_cluster(
        &self,
        spec: &DbClusterSpec,
        tags: &Tags,
        current: &Tags,
        resolved: &Resolved,
        progress: Progress<'_>,
    ) -> Result<(), AwsError> {
        self.client
            .modify_db_cluster()
            .db_cluster_identifier(&spec.identifier)
            .engine_version(&spec.engine_version)
            .set_vpc_security_group_ids(Some(physical_all(&spec.security_groups, resolved)?))
            .deletion_protection(spec.deletion_protection)
            .backup_retention_period(i32::from(spec.backup_retention_days))
            .apply_immediately(true)
            .send()
            .await
            .op("ModifyDBCluster")?;
        self.sync_tags(&self.cluster_arn(&spec.identifier).await?, tags, current)
            .await?;
        self.wait_cluster(&spec.identifier, "available", progress).await
    }

    async fn cluster_arn(&self, identifier: &str) -> Result<String, AwsError> {
        let output = self
            .client
            .describe_db_clusters()
            .db_cluster_identifier(identifier)
            .send()
            .await
            .op("DescribeDBClusters")?;
        Ok(output
            .db_clusters()
            .first()
            .and_then(|c| c.db_cluster_arn())
            .unwrap_or_default()
            .to_owned())
    }

    async fn sync_tags(&self, arn: &str, wanted: &Tags, current: &Tags) -> Result<(), AwsError> {
        let stale: Vec<String> = super::stale_tag_keys(wanted, current).into_iter().cloned().collect();
        if !stale.is_empty() {
            self.client
                .remove_tags_from_resource()
                .resource_name(arn)
                .set_tag_keys(Some(stale))
                .send()
                .await
                .op("RemoveTagsFromResource")?;
        }
        if wanted != current {
            self.client
                .add_tags_to_resource()
                .resource_name(arn)
                .set_tags(Some(sdk_tags(wanted)))
                .send()
                .await
                .op("AddTagsToResource")?;
        }
        Ok(())
    }

    /// Deletion protection is lifted first: reaching this step means the user confirmed the
    /// destroy (protected environments need the typed name or --allow-destroy).
    pub async fn delete_cluster(
        &self,
        identifier: &str,
        observed: &DbClusterSpec,
        tags: &Tags,
        progress: Progress<'_>,
    ) -> Result<(), AwsError> {
        if observed.deletion_protection {
            self.client
                .modify_db_cluster()
                .db_cluster_identifier(identifier)
                .deletion_protection(false)
                .apply_immediately(true)
                .send()
                .await
                .op("ModifyDBCluster")?;
        }
        let mut request = self.client.delete_db_cluster().db_cluster_identifier(identifier);
        request = if tags.get(TAG_FINAL_SNAPSHOT).is_some_and(|v| v == "true") {
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default();
            let snapshot = format!("{identifier}-final-{stamp}");
            progress.waiting(format!("final snapshot {snapshot}"));
            request.final_db_snapshot_identifier(snapshot)
        } else {
            request.skip_final_snapshot(true)
        };
        match request.send().await.op("DeleteDBCluster") {
            Err(error) if error.code() == Some("DBClusterNotFoundFault") => return Ok(()),
            other => other?,
        };
        self.wait_cluster(identifier, "deleted", progress).await
    }

    pub async fn create_instance(
        &self,
        spec: &DbInstanceSpec,
        tags: &Tags,
        resolved: &Resolved,
        progress: Progress<'_>,
    ) -> Result<String, AwsError> {
        self.client
            .create_db_instance()
            .db_instance_identifier(&spec.identifier)
            .db_cluster_identifier(resolved.physical(&spec.cluster)?)
            .db_instance_class(&spec.instance_class)
            .engine(&spec.engine)
            .publicly_accessible(false)
            .set_tags(Some(sdk_tags(tags)))
            .send()
            .await
            .op("CreateDBInstance")?;
        progress.waiting(format!(
            "database instance {} to be available (Aurora takes minutes)",
            spec.identifier
        ));
        self.client
            .wait_until_db_instance_available()
            .db_instance_identifier(&spec.identifier)
            .wait(DATABASE_TIMEOUT)
            .await
            .map_err(|_| AwsError::WaitTimeout {
                what: format!("database instance {} to be available", spec.identifier),
                waited: DATABASE_TIMEOUT,
            })?;
        Ok(spec.identifier.clone())
    }

    pub async fn update_instance(&self, spec: &DbInstanceSpec, tags: &Tags, current: &Tags) -> Result<(), AwsError> {
        let output = self
            .client
            .modify_db_instance()
            .db_instance_identifier(&spec.identifier)
            .db_instance_class(&spec.instance_class)
            .apply_immediately(true)
            .send()
            .await
            .op("ModifyDBInstance")?;
        let arn = output
            .db_instance()
            .and_then(|i| i.db_instance_arn())
            .unwrap_or_default()
            .to_owned();
        self.sync_tags(&arn, tags, current).await
    }

    pub async fn delete_instance(&self, identifier: &str, progress: Progress<'_>) -> Result<(), AwsError> {
        match self
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
        progress.waiting(format!("database instance {identifier} to be deleted"));
        self.client
            .wait_until_db_instance_deleted()
            .db_instance_identifier(identifier)
            .wait(DATABASE_TIMEOUT)
            .await
            .map_err(|_| AwsError::WaitTimeout {
                what: format!("database instance {identifier} to be deleted"),
                waited: DATABASE_TIMEOUT,
            })?;
        Ok(())
    }
}
