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
use super::tags::TagApi;
use crate::model::{TAG_ENVIRONMENT, Tags};

#[derive(Debug, Clone)]
pub struct Rds {
    client: Client,
}

impl Rds {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: Client::new(config),
        }
    }
}

impl TagApi for Rds {
    async fn tag(&self, arn: &str, tags: &Tags) -> Result<(), AwsError> {
        self.client
            .add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(sdk_tags(tags)))
            .send()
            .await
            .op("AddTagsToResource")
            .map(drop)
    }

    async fn untag(&self, arn: &str, keys: &[String]) -> Result<(), AwsError> {
        self.client
            .remove_tags_from_resource()
            .resource_name(arn)
            .set_tag_keys(Some(keys.to_vec()))
            .send()
            .await
            .op("RemoveTagsFromResource")
            .map(drop)
    }
}

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
