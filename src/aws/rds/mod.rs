//! The RDS adapter: DB subnet groups, Aurora PostgreSQL clusters and their instances, one
//! file each. Named by identifier; tagged by ARN, which discovery records.

mod cluster;
mod instance;
mod subnet_group;

pub(crate) use cluster::Clusters;
pub(crate) use instance::Instances;
pub(crate) use subnet_group::SubnetGroups;

use aws_sdk_rds::Client;
use aws_sdk_rds::types::Tag;

use super::error::{AwsError, Classify};
use super::permissions::{Arn, Call, LIST, On, read, write};
use super::wait::{Check, Goal};
use crate::model::{TAG_ENVIRONMENT, Tags};

#[derive(Debug, Clone)]
pub struct Rds {
    client: Client,
}

impl Rds {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: crate::aws::classifier::client!(aws_sdk_rds, config),
        }
    }

    /// The cluster's status and its writer's.
    pub async fn cluster_status(&self, identifier: &str) -> Result<Option<super::DatabaseStatus>, AwsError> {
        let output = match self
            .client
            .describe_db_clusters()
            .db_cluster_identifier(identifier)
            .send()
            .await
            .op("DescribeDBClusters")
        {
            Ok(output) => output,
            Err(error) if error.code() == Some("DBClusterNotFoundFault") => return Ok(None),
            Err(error) => return Err(error),
        };
        let Some(cluster) = output.db_clusters().first() else {
            return Ok(None);
        };
        let writer = cluster
            .db_cluster_members()
            .iter()
            .find(|m| m.is_cluster_writer() == Some(true))
            .and_then(|m| m.db_instance_identifier())
            .map(str::to_owned);
        let writer_status = match &writer {
            Some(writer) => self
                .client
                .describe_db_instances()
                .db_instance_identifier(writer)
                .send()
                .await
                .op("DescribeDBInstances")?
                .db_instances()
                .first()
                .and_then(|i| i.db_instance_status())
                .map(str::to_owned),
            None => None,
        };
        Ok(Some(super::DatabaseStatus {
            cluster: identifier.to_owned(),
            status: cluster.status().unwrap_or("unknown").to_owned(),
            writer,
            writer_status,
        }))
    }
}

crate::aws::tags::tag_api!(
    Rds,
    resource_name,
    add_tags_to_resource("AddTagsToResource", tags => sdk_tags(tags)),
    remove_tags_from_resource("RemoveTagsFromResource")
);

fn ours(tags: &Tags, environment: &str) -> bool {
    tags.get(TAG_ENVIRONMENT).is_some_and(|e| e == environment)
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

/// States from which a cluster or an instance does not become available without someone
/// acting (the SDK's own waiters stop on the same ones).
const DATABASE_STUCK: [&str; 8] = [
    "failed",
    "inaccessible-encryption-credentials",
    "incompatible-network",
    "incompatible-parameters",
    "incompatible-restore",
    "storage-full",
    "deleting",
    "deleted",
];

/// What one look at a cluster's or an instance's status means for a wait (`None`: the
/// describe call found nothing).
fn database_check(status: Option<&str>, goal: Goal) -> Check<()> {
    match (goal, status) {
        (_, None) => goal.absent(),
        (Goal::Ready, Some("available")) => Check::Done(()),
        (Goal::Ready, Some(status)) if DATABASE_STUCK.contains(&status) => Check::Failed(status.to_owned()),
        (_, Some(status)) => Check::Pending(status.to_owned()),
    }
}

/// What the Aurora adapters call (see `aws::permissions`).
pub(crate) const CALLS: &[Call] = &[
    read("rds:DescribeDBClusters", On::Anything(LIST)),
    read("rds:DescribeDBInstances", On::Anything(LIST)),
    read("rds:DescribeDBSubnetGroups", On::Anything(LIST)),
    read(
        "rds:ListTagsForResource",
        On::Own(&[Arn::DbCluster, Arn::DbInstance, Arn::DbSubnetGroup]),
    ),
    write("rds:CreateDBSubnetGroup", On::Creating(&[Arn::DbSubnetGroup])),
    write("rds:ModifyDBSubnetGroup", On::Own(&[Arn::DbSubnetGroup])),
    write("rds:DeleteDBSubnetGroup", On::Own(&[Arn::DbSubnetGroup])),
    write("rds:CreateDBCluster", On::Creating(&[Arn::DbCluster])),
    write("rds:CreateDBCluster", On::Own(&[Arn::DbSubnetGroup, Arn::DbDefaults])),
    write("rds:ModifyDBCluster", On::Own(&[Arn::DbCluster, Arn::DbDefaults])),
    write("rds:DeleteDBCluster", On::Own(&[Arn::DbCluster, Arn::DbFinalSnapshot])),
    write("rds:CreateDBInstance", On::Creating(&[Arn::DbInstance])),
    write(
        "rds:CreateDBInstance",
        On::Own(&[Arn::DbCluster, Arn::DbSubnetGroup, Arn::DbDefaults]),
    ),
    write("rds:ModifyDBInstance", On::Own(&[Arn::DbInstance, Arn::DbDefaults])),
    write("rds:DeleteDBInstance", On::Own(&[Arn::DbInstance])),
    write(
        "rds:AddTagsToResource",
        On::Own(&[
            Arn::DbCluster,
            Arn::DbInstance,
            Arn::DbSubnetGroup,
            Arn::DbFinalSnapshot,
        ]),
    ),
    write(
        "rds:RemoveTagsFromResource",
        On::Own(&[Arn::DbCluster, Arn::DbInstance, Arn::DbSubnetGroup]),
    ),
];

/// What AWS checks on deployer's behalf: a cluster created with `ManageMasterUserPassword` has
/// RDS create, tag and later delete its master password secret as the caller (AWS's guide,
/// "Password management with Amazon RDS and AWS Secrets Manager"), encrypted with the
/// account's default key for Secrets Manager.
pub(crate) const IMPLIED: &[Call] = &[
    write("secretsmanager:CreateSecret", On::Own(&[Arn::DbSecret])),
    write("secretsmanager:TagResource", On::Own(&[Arn::DbSecret])),
    write("secretsmanager:RotateSecret", On::Own(&[Arn::DbSecret])),
    write("secretsmanager:DeleteSecret", On::Own(&[Arn::DbSecret])),
    write(
        "kms:DescribeKey",
        On::Anything("the default key of Secrets Manager has an id AWS gives each account"),
    ),
    write("iam:CreateServiceLinkedRole", On::ServiceLinked(&["rds.amazonaws.com"])),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_database_stops_the_wait_and_a_creating_one_does_not() {
        assert!(matches!(database_check(Some("failed"), Goal::Ready), Check::Failed(s) if s == "failed"));
        assert!(matches!(
            database_check(Some("creating"), Goal::Ready),
            Check::Pending(s) if s == "creating"
        ));
        assert!(matches!(
            database_check(Some("available"), Goal::Ready),
            Check::Done(())
        ));
        assert!(matches!(database_check(None, Goal::Ready), Check::Pending(s) if s == "not visible yet"));
    }

    #[test]
    fn a_deleting_database_is_waited_for_until_describe_no_longer_finds_it() {
        assert!(matches!(
            database_check(Some("deleting"), Goal::Gone),
            Check::Pending(_)
        ));
        assert!(matches!(
            database_check(Some("available"), Goal::Gone),
            Check::Pending(_)
        ));
        assert!(matches!(database_check(None, Goal::Gone), Check::Done(())));
    }
}
