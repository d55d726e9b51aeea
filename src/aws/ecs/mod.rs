//! The ECS adapter: clusters, Fargate task definitions and services, one file each, all
//! named by ARN.

mod cluster;
mod service;
mod task_definition;

pub(crate) use cluster::Clusters;
pub(crate) use service::Services;
pub(crate) use task_definition::TaskDefinitions;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::Tag;

use super::error::{AwsError, Classify};
use super::tags::TagApi;
use crate::model::Tags;

#[derive(Debug, Clone)]
pub struct Ecs {
    client: Client,
}

impl Ecs {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: crate::aws::classifier::client!(aws_sdk_ecs, config),
        }
    }
}

/// ECS tags clusters, services and task definitions alike, by ARN.
impl TagApi for Ecs {
    async fn tag(&self, arn: &str, tags: &Tags) -> Result<(), AwsError> {
        self.client
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(sdk_tags(tags)))
            .send()
            .await
            .op("TagResource")
            .map(drop)
    }

    async fn untag(&self, arn: &str, keys: &[String]) -> Result<(), AwsError> {
        self.client
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(keys.to_vec()))
            .send()
            .await
            .op("UntagResource")
            .map(drop)
    }
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
