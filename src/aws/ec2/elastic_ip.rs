//! Elastic IP addresses (for NAT gateways).

use aws_sdk_ec2::types::{DomainType, ResourceType};

use super::{Ec2, env_filter, from_sdk_tags, tag_specification};
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::retry::delete_with_retry;
use crate::aws::tags::sync_tags;
use crate::model::{ElasticIpSpec, Spec};

pub(crate) struct ElasticIps<'a>(pub(crate) &'a Ec2);

impl Resource for ElasticIps<'_> {
    type Spec = ElasticIpSpec;

    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        // DescribeAddresses is not paginated: it returns every address at once.
        let output = self
            .0
            .client
            .describe_addresses()
            .filters(env_filter(environment))
            .send()
            .await
            .op("DescribeAddresses")?;
        Ok(output
            .addresses()
            .iter()
            .map(|a| {
                Found::new(a.allocation_id().unwrap_or_default(), from_sdk_tags(a.tags()), |_| {
                    Spec::ElasticIp(ElasticIpSpec {})
                })
            })
            .collect())
    }

    async fn create(&self, request: Create<'_, ElasticIpSpec>) -> Result<String, AwsError> {
        let output = self
            .0
            .client
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(tag_specification(ResourceType::ElasticIp, request.tags))
            .send()
            .await
            .op("AllocateAddress")?;
        Ok(output.allocation_id().unwrap_or_default().to_owned())
    }

    async fn update(&self, request: Update<'_, ElasticIpSpec>) -> Result<(), AwsError> {
        sync_tags(self.0, request.physical_id, request.tags, request.current_tags).await
    }

    async fn delete(&self, request: Delete<'_, ElasticIpSpec>) -> Result<(), AwsError> {
        let allocation = request.physical_id;
        delete_with_retry(allocation, request.progress, || async {
            self.0
                .client
                .release_address()
                .allocation_id(allocation)
                .send()
                .await
                .op("ReleaseAddress")
                .map(drop)
        })
        .await
    }
}
