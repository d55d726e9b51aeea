//! Subnets. Every attribute forces a replacement, so an update only brings tags up to date.

use aws_sdk_ec2::types::ResourceType;

use super::{Ec2, env_filter, from_sdk_tags, tag_specification};
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::resource::Read;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::retry::delete_with_retry;
use crate::aws::tags::sync_tags;
use crate::model::Outputs;
use crate::model::{Spec, SubnetSpec};

pub(crate) struct Subnets<'a>(pub(crate) &'a Ec2);

impl Resource for Subnets<'_> {
    type Spec = SubnetSpec;

    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let subnets: Vec<_> = all_pages!(
            self.0.client.describe_subnets().filters(env_filter(environment)),
            "DescribeSubnets"
        )?;
        Ok(subnets
            .into_iter()
            .map(|s| {
                let vpc = s.vpc_id().unwrap_or_default().to_owned();
                let cidr = s.cidr_block().unwrap_or_default().to_owned();
                let availability_zone = s.availability_zone().unwrap_or_default().to_owned();
                Found::new(
                    s.subnet_id().unwrap_or_default(),
                    from_sdk_tags(s.tags()),
                    move |lookup| {
                        Spec::Subnet(SubnetSpec {
                            vpc: lookup(&vpc),
                            cidr,
                            availability_zone,
                        })
                    },
                )
            })
            .collect())
    }

    async fn create(&self, request: Create<'_, SubnetSpec>) -> Result<String, AwsError> {
        let spec = request.spec;
        let output = self
            .0
            .client
            .create_subnet()
            .vpc_id(request.resolved.physical(&spec.vpc)?)
            .cidr_block(&spec.cidr)
            .availability_zone(&spec.availability_zone)
            .tag_specifications(tag_specification(ResourceType::Subnet, request.tags))
            .send()
            .await
            .op("CreateSubnet")?;
        Ok(output
            .subnet()
            .and_then(|s| s.subnet_id())
            .unwrap_or_default()
            .to_owned())
    }

    async fn update(&self, request: Update<'_, SubnetSpec>) -> Result<(), AwsError> {
        sync_tags(self.0, request.physical_id, request.tags, request.current_tags).await
    }

    async fn delete(&self, request: Delete<'_, SubnetSpec>) -> Result<(), AwsError> {
        let subnet = request.physical_id;
        delete_with_retry(subnet, request.progress, || async {
            self.0
                .client
                .delete_subnet()
                .subnet_id(subnet)
                .send()
                .await
                .op("DeleteSubnet")
                .map(drop)
        })
        .await
    }

    fn outputs(&self, read: &Read<'_, Self::Spec>, outputs: &mut Outputs) {
        let physical = read.resource.physical_id.clone();
        if read.resource.id.as_str().starts_with("subnet-public-") {
            outputs.public_subnet_ids.push(physical);
        } else {
            outputs.private_subnet_ids.push(physical);
        }
    }
}
