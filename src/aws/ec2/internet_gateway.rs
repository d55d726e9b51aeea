//! Internet gateways, attached to the environment's VPC.

use aws_sdk_ec2::types::ResourceType;

use super::{Ec2, env_filter, from_sdk_tags, tag_specification};
use crate::apply::Resolved;
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::retry::delete_with_retry;
use crate::aws::tags::sync_tags;
use crate::model::{InternetGatewaySpec, Spec};

pub(crate) struct InternetGateways<'a>(pub(crate) &'a Ec2);

impl Resource for InternetGateways<'_> {
    type Spec = InternetGatewaySpec;

    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let gateways: Vec<_> = all_pages!(
            self.0
                .client
                .describe_internet_gateways()
                .filters(env_filter(environment)),
            "DescribeInternetGateways"
        )?;
        Ok(gateways
            .into_iter()
            .map(|g| {
                let vpc = g.attachments().first().and_then(|a| a.vpc_id()).map(str::to_owned);
                Found::new(
                    g.internet_gateway_id().unwrap_or_default(),
                    from_sdk_tags(g.tags()),
                    move |lookup| {
                        Spec::InternetGateway(InternetGatewaySpec {
                            vpc: vpc.as_deref().map(lookup),
                        })
                    },
                )
            })
            .collect())
    }

    async fn create(&self, request: Create<'_, InternetGatewaySpec>) -> Result<String, AwsError> {
        let output = self
            .0
            .client
            .create_internet_gateway()
            .tag_specifications(tag_specification(ResourceType::InternetGateway, request.tags))
            .send()
            .await
            .op("CreateInternetGateway")?;
        let id = output
            .internet_gateway()
            .and_then(|g| g.internet_gateway_id())
            .unwrap_or_default()
            .to_owned();
        self.attach(&id, None, request.spec, request.resolved).await?;
        Ok(id)
    }

    async fn update(&self, request: Update<'_, InternetGatewaySpec>) -> Result<(), AwsError> {
        if request.changed(InternetGatewaySpec::VPC) {
            // Read fresh: the plan's view of the attachment may be stale.
            let attached = self.attached_vpc(request.physical_id).await?;
            self.attach(request.physical_id, attached.as_deref(), request.spec, request.resolved)
                .await?;
        }
        sync_tags(self.0, request.physical_id, request.tags, request.current_tags).await
    }

    async fn delete(&self, request: Delete<'_, InternetGatewaySpec>) -> Result<(), AwsError> {
        let gateway = request.physical_id;
        let attached = match self.attached_vpc(gateway).await {
            Err(error) if error.is_not_found() => return Ok(()),
            other => other?,
        };
        if let Some(vpc) = attached {
            delete_with_retry(gateway, request.progress, || async {
                self.0
                    .client
                    .detach_internet_gateway()
                    .internet_gateway_id(gateway)
                    .vpc_id(&vpc)
                    .send()
                    .await
                    .op("DetachInternetGateway")
                    .map(drop)
            })
            .await?;
        }
        delete_with_retry(gateway, request.progress, || async {
            self.0
                .client
                .delete_internet_gateway()
                .internet_gateway_id(gateway)
                .send()
                .await
                .op("DeleteInternetGateway")
                .map(drop)
        })
        .await
    }
}

impl InternetGateways<'_> {
    /// Moves the gateway to the desired VPC (detaching it from `current` first).
    async fn attach(
        &self,
        gateway: &str,
        current: Option<&str>,
        spec: &InternetGatewaySpec,
        resolved: &Resolved,
    ) -> Result<(), AwsError> {
        let wanted = spec.vpc.as_ref().map(|vpc| resolved.physical(vpc)).transpose()?;
        if current == wanted.as_deref() {
            return Ok(());
        }
        if let Some(current) = current {
            self.0
                .client
                .detach_internet_gateway()
                .internet_gateway_id(gateway)
                .vpc_id(current)
                .send()
                .await
                .op("DetachInternetGateway")?;
        }
        if let Some(wanted) = wanted {
            self.0
                .client
                .attach_internet_gateway()
                .internet_gateway_id(gateway)
                .vpc_id(wanted)
                .send()
                .await
                .op("AttachInternetGateway")?;
        }
        Ok(())
    }

    /// The VPC a gateway is attached to now.
    async fn attached_vpc(&self, gateway: &str) -> Result<Option<String>, AwsError> {
        let output = self
            .0
            .client
            .describe_internet_gateways()
            .internet_gateway_ids(gateway)
            .send()
            .await
            .op("DescribeInternetGateways")?;
        Ok(output
            .internet_gateways()
            .first()
            .and_then(|g| g.attachments().first())
            .and_then(|a| a.vpc_id())
            .map(str::to_owned))
    }
}
