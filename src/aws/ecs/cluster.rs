//! ECS clusters (Container Insights on); their services are found with them.

use super::service::find_services;
use super::{Ecs, sdk_tags, tags_of};
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::tags::sync_tags;
use crate::model::{EcsClusterSpec, Spec, TAG_ENVIRONMENT, Tags};
use aws_sdk_ecs::types::ClusterField;

pub(crate) struct Clusters<'a>(pub(crate) &'a Ecs);

impl Resource for Clusters<'_> {
    type Spec = EcsClusterSpec;

    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let ours = |tags: &Tags| tags.get(TAG_ENVIRONMENT).is_some_and(|e| e == environment);
        let arns: Vec<String> = all_pages!(self.0.client.list_clusters(), "ListClusters")?;
        let mut found = Vec::new();
        // DescribeClusters takes at most 100 clusters a call.
        for batch in arns.chunks(100) {
            let output = self
                .0
                .client
                .describe_clusters()
                .set_clusters(Some(batch.to_vec()))
                .include(ClusterField::Tags)
                .send()
                .await
                .op("DescribeClusters")?;
            for cluster in output.clusters() {
                let tags = tags_of(cluster.tags());
                if !ours(&tags) || cluster.status() == Some("INACTIVE") {
                    continue;
                }
                let arn = cluster.cluster_arn().unwrap_or_default().to_owned();
                let name = cluster.cluster_name().unwrap_or_default().to_owned();
                // AWS lists services only per cluster.
                found.extend(find_services(self.0, &arn, environment).await?);
                found.push(Found::new(arn, tags, move |_| {
                    Spec::EcsCluster(EcsClusterSpec { name })
                }));
            }
        }
        Ok(found)
    }

    async fn create(&self, request: Create<'_, EcsClusterSpec>) -> Result<String, AwsError> {
        let (spec, tags) = (request.spec, request.tags);

        let output = self
            .0
            .client
            .create_cluster()
            .cluster_name(&spec.name)
            .settings(
                aws_sdk_ecs::types::ClusterSetting::builder()
                    .name(aws_sdk_ecs::types::ClusterSettingName::ContainerInsights)
                    .value("enabled")
                    .build(),
            )
            .set_tags(Some(sdk_tags(tags)))
            .send()
            .await
            .op("CreateCluster")?;
        Ok(output
            .cluster()
            .and_then(|c| c.cluster_arn())
            .unwrap_or_default()
            .to_owned())
    }

    /// The name forces a replacement: only tags change in place.
    async fn update(&self, request: Update<'_, EcsClusterSpec>) -> Result<(), AwsError> {
        sync_tags(self.0, request.physical_id, request.tags, request.current_tags).await
    }

    async fn delete(&self, request: Delete<'_, EcsClusterSpec>) -> Result<(), AwsError> {
        let (arn, progress) = (request.physical_id, request.progress);

        crate::aws::retry::delete_with_retry(arn, progress, || async {
            match self
                .0
                .client
                .delete_cluster()
                .cluster(arn)
                .send()
                .await
                .op("DeleteCluster")
            {
                Err(error) if error.code().is_some_and(|c| c.starts_with("ClusterContains")) => {
                    Err(AwsError::Service {
                        operation: "DeleteCluster",
                        code: "DependencyViolation".into(),
                        message: error.to_string(),
                    })
                }
                Err(error) if error.code() == Some("ClusterNotFoundException") => Ok(()),
                other => other.map(drop),
            }
        })
        .await
    }
}
