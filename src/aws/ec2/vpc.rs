//! VPCs.

use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType, VpcAttributeName};

use super::{Ec2, env_filter, from_sdk_tags, tag_specification};
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::resource::Read;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::retry::delete_with_retry;
use crate::aws::tags::sync_tags;
use crate::model::Outputs;
use crate::model::{Spec, VpcSpec};

pub(crate) struct Vpcs<'a>(pub(crate) &'a Ec2);

impl Resource for Vpcs<'_> {
    type Spec = VpcSpec;

    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let vpcs: Vec<_> = all_pages!(
            self.0.client.describe_vpcs().filters(env_filter(environment)),
            "DescribeVpcs"
        )?;
        let mut found = Vec::new();
        for vpc in vpcs {
            let id = vpc.vpc_id().unwrap_or_default().to_owned();
            // DescribeVpcs does not say; one attribute per call.
            let (dns_support, dns_hostnames) = tokio::try_join!(
                self.attribute(&id, VpcAttributeName::EnableDnsSupport),
                self.attribute(&id, VpcAttributeName::EnableDnsHostnames),
            )?;
            let spec = VpcSpec {
                cidr: vpc.cidr_block().unwrap_or_default().to_owned(),
                dns_support,
                dns_hostnames,
            };
            found.push(Found::new(id, from_sdk_tags(vpc.tags()), move |_| Spec::Vpc(spec)));
        }
        Ok(found)
    }

    async fn create(&self, request: Create<'_, VpcSpec>) -> Result<String, AwsError> {
        let output = self
            .0
            .client
            .create_vpc()
            .cidr_block(&request.spec.cidr)
            .tag_specifications(tag_specification(ResourceType::Vpc, request.tags))
            .send()
            .await
            .op("CreateVpc")?;
        let id = output.vpc().and_then(|v| v.vpc_id()).unwrap_or_default().to_owned();
        self.set_dns(&id, request.spec).await?;
        Ok(id)
    }

    async fn update(&self, request: Update<'_, VpcSpec>) -> Result<(), AwsError> {
        if request.changed_any(&[VpcSpec::DNS_SUPPORT, VpcSpec::DNS_HOSTNAMES]) {
            self.set_dns(request.physical_id, request.spec).await?;
        }
        sync_tags(self.0, request.physical_id, request.tags, request.current_tags).await
    }

    async fn delete(&self, request: Delete<'_, VpcSpec>) -> Result<(), AwsError> {
        let vpc = request.physical_id;
        delete_with_retry(vpc, request.progress, || async {
            self.0
                .client
                .delete_vpc()
                .vpc_id(vpc)
                .send()
                .await
                .op("DeleteVpc")
                .map(drop)
        })
        .await
    }

    fn outputs(&self, read: &Read<'_, Self::Spec>, outputs: &mut Outputs) {
        outputs.vpc_id = Some(read.resource.physical_id.clone());
    }
}

impl Vpcs<'_> {
    /// AWS takes one VPC attribute per call.
    async fn set_dns(&self, vpc: &str, spec: &VpcSpec) -> Result<(), AwsError> {
        let flag = |value| AttributeBooleanValue::builder().value(value).build();
        self.0
            .client
            .modify_vpc_attribute()
            .vpc_id(vpc)
            .enable_dns_support(flag(spec.dns_support))
            .send()
            .await
            .op("ModifyVpcAttribute")?;
        self.0
            .client
            .modify_vpc_attribute()
            .vpc_id(vpc)
            .enable_dns_hostnames(flag(spec.dns_hostnames))
            .send()
            .await
            .op("ModifyVpcAttribute")?;
        Ok(())
    }

    async fn attribute(&self, vpc: &str, attribute: VpcAttributeName) -> Result<bool, AwsError> {
        let output = self
            .0
            .client
            .describe_vpc_attribute()
            .vpc_id(vpc)
            .attribute(attribute.clone())
            .send()
            .await
            .op("DescribeVpcAttribute")?;
        let value = match attribute {
            VpcAttributeName::EnableDnsSupport => output.enable_dns_support().and_then(|v| v.value()),
            _ => output.enable_dns_hostnames().and_then(|v| v.value()),
        };
        Ok(value.unwrap_or(false))
    }
}
