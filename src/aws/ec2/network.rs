//! Creating, changing and deleting VPCs, subnets, gateways, addresses and route tables.

use std::collections::BTreeSet;

use aws_sdk_ec2::client::Waiters;
use aws_sdk_ec2::types::{AttributeBooleanValue, DomainType, ResourceType};

use super::{Ec2, NAT_TIMEOUT, delete_with_retry, tag_specification};
use crate::apply::{Progress, Resolved};
use crate::aws::error::{AwsError, Classify};
use crate::model::*;

impl Ec2 {
    pub async fn create_vpc(&self, spec: &VpcSpec, tags: &Tags) -> Result<String, AwsError> {
        let output = self
            .client
            .create_vpc()
            .cidr_block(&spec.cidr)
            .tag_specifications(tag_specification(ResourceType::Vpc, tags))
            .send()
            .await
            .op("CreateVpc")?;
        let id = output.vpc().and_then(|v| v.vpc_id()).unwrap_or_default().to_owned();
        self.set_vpc_dns(&id, spec).await?;
        Ok(id)
    }

    /// AWS takes one VPC attribute per call.
    pub async fn set_vpc_dns(&self, vpc: &str, spec: &VpcSpec) -> Result<(), AwsError> {
        let flag = |value| AttributeBooleanValue::builder().value(value).build();
        self.client
            .modify_vpc_attribute()
            .vpc_id(vpc)
            .enable_dns_support(flag(spec.dns_support))
            .send()
            .await
            .op("ModifyVpcAttribute")?;
        self.client
            .modify_vpc_attribute()
            .vpc_id(vpc)
            .enable_dns_hostnames(flag(spec.dns_hostnames))
            .send()
            .await
            .op("ModifyVpcAttribute")?;
        Ok(())
    }

    pub async fn delete_vpc(&self, vpc: &str, progress: Progress<'_>) -> Result<(), AwsError> {
        delete_with_retry(vpc, progress, || async {
            self.client
                .delete_vpc()
                .vpc_id(vpc)
                .send()
                .await
                .op("DeleteVpc")
                .map(drop)
        })
        .await
    }

    pub async fn create_subnet(&self, spec: &SubnetSpec, tags: &Tags, resolved: &Resolved) -> Result<String, AwsError> {
        let output = self
            .client
            .create_subnet()
            .vpc_id(resolved.physical(&spec.vpc)?)
            .cidr_block(&spec.cidr)
            .availability_zone(&spec.availability_zone)
            .tag_specifications(tag_specification(ResourceType::Subnet, tags))
            .send()
            .await
            .op("CreateSubnet")?;
        Ok(output
            .subnet()
            .and_then(|s| s.subnet_id())
            .unwrap_or_default()
            .to_owned())
    }

    pub async fn delete_subnet(&self, subnet: &str, progress: Progress<'_>) -> Result<(), AwsError> {
        delete_with_retry(subnet, progress, || async {
            self.client
                .delete_subnet()
                .subnet_id(subnet)
                .send()
                .await
                .op("DeleteSubnet")
                .map(drop)
        })
        .await
    }

    pub async fn create_internet_gateway(
        &self,
        spec: &InternetGatewaySpec,
        tags: &Tags,
        resolved: &Resolved,
    ) -> Result<String, AwsError> {
        let output = self
            .client
            .create_internet_gateway()
            .tag_specifications(tag_specification(ResourceType::InternetGateway, tags))
            .send()
            .await
            .op("CreateInternetGateway")?;
        let id = output
            .internet_gateway()
            .and_then(|g| g.internet_gateway_id())
            .unwrap_or_default()
            .to_owned();
        self.attach_internet_gateway(&id, None, spec, resolved).await?;
        Ok(id)
    }

    /// Moves the gateway to the desired VPC (detaching it from `current` first).
    pub async fn attach_internet_gateway(
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
            self.client
                .detach_internet_gateway()
                .internet_gateway_id(gateway)
                .vpc_id(current)
                .send()
                .await
                .op("DetachInternetGateway")?;
        }
        if let Some(wanted) = wanted {
            self.client
                .attach_internet_gateway()
                .internet_gateway_id(gateway)
                .vpc_id(wanted)
                .send()
                .await
                .op("AttachInternetGateway")?;
        }
        Ok(())
    }

    /// The VPC a gateway is attached to now, read fresh (the plan's view may be stale).
    pub async fn internet_gateway_vpc(&self, gateway: &str) -> Result<Option<String>, AwsError> {
        let output = self
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

    pub async fn delete_internet_gateway(&self, gateway: &str, progress: Progress<'_>) -> Result<(), AwsError> {
        let attached = match self.internet_gateway_vpc(gateway).await {
            Err(error) if error.is_not_found() => return Ok(()),
            other => other?,
        };
        if let Some(vpc) = attached {
            delete_with_retry(gateway, progress, || async {
                self.client
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
        delete_with_retry(gateway, progress, || async {
            self.client
                .delete_internet_gateway()
                .internet_gateway_id(gateway)
                .send()
                .await
                .op("DeleteInternetGateway")
                .map(drop)
        })
        .await
    }

    pub async fn allocate_address(&self, tags: &Tags) -> Result<String, AwsError> {
        let output = self
            .client
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(tag_specification(ResourceType::ElasticIp, tags))
            .send()
            .await
            .op("AllocateAddress")?;
        Ok(output.allocation_id().unwrap_or_default().to_owned())
    }

    pub async fn release_address(&self, allocation: &str, progress: Progress<'_>) -> Result<(), AwsError> {
        delete_with_retry(allocation, progress, || async {
            self.client
                .release_address()
                .allocation_id(allocation)
                .send()
                .await
                .op("ReleaseAddress")
                .map(drop)
        })
        .await
    }

    pub async fn create_nat_gateway(
        &self,
        spec: &NatGatewaySpec,
        tags: &Tags,
        client_token: &str,
        resolved: &Resolved,
        progress: Progress<'_>,
    ) -> Result<String, AwsError> {
        let output = self
            .client
            .create_nat_gateway()
            .subnet_id(resolved.physical(&spec.subnet)?)
            .allocation_id(resolved.physical(&spec.elastic_ip)?)
            .client_token(client_token)
            .tag_specifications(tag_specification(ResourceType::Natgateway, tags))
            .send()
            .await
            .op("CreateNatGateway")?;
        let id = output
            .nat_gateway()
            .and_then(|n| n.nat_gateway_id())
            .unwrap_or_default()
            .to_owned();
        let ready = output
            .nat_gateway()
            .and_then(|n| n.state())
            .is_some_and(|s| s.as_str() == "available");
        if !ready {
            progress.waiting(format!("NAT gateway {id} to become available (usually 1 to 5 minutes)"));
            self.client
                .wait_until_nat_gateway_available()
                .nat_gateway_ids(&id)
                .wait(NAT_TIMEOUT)
                .await
                .map_err(|_| AwsError::WaitTimeout {
                    what: format!("NAT gateway {id} to become available"),
                    waited: NAT_TIMEOUT,
                })?;
        }
        Ok(id)
    }

    pub async fn delete_nat_gateway(&self, nat: &str, progress: Progress<'_>) -> Result<(), AwsError> {
        match self
            .client
            .delete_nat_gateway()
            .nat_gateway_id(nat)
            .send()
            .await
            .op("DeleteNatGateway")
        {
            Err(error) if error.is_not_found() => return Ok(()),
            other => other?,
        };
        // Its address and subnet stay in use until the gateway is fully deleted.
        progress.waiting(format!("NAT gateway {nat} to be deleted"));
        self.client
            .wait_until_nat_gateway_deleted()
            .nat_gateway_ids(nat)
            .wait(NAT_TIMEOUT)
            .await
            .map_err(|_| AwsError::WaitTimeout {
                what: format!("NAT gateway {nat} to be deleted"),
                waited: NAT_TIMEOUT,
            })?;
        Ok(())
    }

    pub async fn create_route_table(
        &self,
        spec: &RouteTableSpec,
        tags: &Tags,
        resolved: &Resolved,
    ) -> Result<String, AwsError> {
        let output = self
            .client
            .create_route_table()
            .vpc_id(resolved.physical(&spec.vpc)?)
            .tag_specifications(tag_specification(ResourceType::RouteTable, tags))
            .send()
            .await
            .op("CreateRouteTable")?;
        let id = output
            .route_table()
            .and_then(|t| t.route_table_id())
            .unwrap_or_default()
            .to_owned();
        self.sync_route_table(&id, spec, resolved).await?;
        Ok(id)
    }

    /// Makes the table's routes and subnet associations exactly the desired ones, reading its
    /// current contents first (association ids are needed to remove one).
    pub async fn sync_route_table(
        &self,
        table: &str,
        spec: &RouteTableSpec,
        resolved: &Resolved,
    ) -> Result<(), AwsError> {
        let output = self
            .client
            .describe_route_tables()
            .route_table_ids(table)
            .send()
            .await
            .op("DescribeRouteTables")?;
        let current = output.route_tables().first();
        let routes = current.map(|t| t.routes()).unwrap_or_default();
        let associations = current.map(|t| t.associations()).unwrap_or_default();

        let mut wanted_destinations = BTreeSet::new();
        for route in &spec.routes {
            wanted_destinations.insert(route.destination.as_str());
            let (gateway, nat) = match &route.target {
                RouteTarget::InternetGateway(r) => (Some(resolved.physical(r)?), None),
                RouteTarget::NatGateway(r) => (None, Some(resolved.physical(r)?)),
                RouteTarget::Other(_) => continue,
            };
            let existing = routes
                .iter()
                .find(|r| r.destination_cidr_block() == Some(route.destination.as_str()));
            match existing {
                Some(r) if r.gateway_id() == gateway.as_deref() && r.nat_gateway_id() == nat.as_deref() => {}
                Some(_) => {
                    self.client
                        .replace_route()
                        .route_table_id(table)
                        .destination_cidr_block(&route.destination)
                        .set_gateway_id(gateway)
                        .set_nat_gateway_id(nat)
                        .send()
                        .await
                        .op("ReplaceRoute")?;
                }
                None => {
                    self.client
                        .create_route()
                        .route_table_id(table)
                        .destination_cidr_block(&route.destination)
                        .set_gateway_id(gateway)
                        .set_nat_gateway_id(nat)
                        .send()
                        .await
                        .op("CreateRoute")?;
                }
            }
        }
        for route in routes {
            let Some(destination) = route.destination_cidr_block() else {
                continue;
            };
            if route.gateway_id() == Some("local") || wanted_destinations.contains(destination) {
                continue;
            }
            self.client
                .delete_route()
                .route_table_id(table)
                .destination_cidr_block(destination)
                .send()
                .await
                .op("DeleteRoute")?;
        }

        let mut wanted_subnets = BTreeSet::new();
        for subnet in &spec.subnets {
            wanted_subnets.insert(resolved.physical(subnet)?);
        }
        let associated: BTreeSet<&str> = associations.iter().filter_map(|a| a.subnet_id()).collect();
        for subnet in &wanted_subnets {
            if !associated.contains(subnet.as_str()) {
                self.client
                    .associate_route_table()
                    .route_table_id(table)
                    .subnet_id(subnet)
                    .send()
                    .await
                    .op("AssociateRouteTable")?;
            }
        }
        for association in associations {
            let (Some(subnet), Some(association_id)) =
                (association.subnet_id(), association.route_table_association_id())
            else {
                continue;
            };
            if !association.main().unwrap_or(false) && !wanted_subnets.contains(subnet) {
                self.client
                    .disassociate_route_table()
                    .association_id(association_id)
                    .send()
                    .await
                    .op("DisassociateRouteTable")?;
            }
        }
        Ok(())
    }

    pub async fn delete_route_table(&self, table: &str, progress: Progress<'_>) -> Result<(), AwsError> {
        let output = match self
            .client
            .describe_route_tables()
            .route_table_ids(table)
            .send()
            .await
            .op("DescribeRouteTables")
        {
            Err(error) if error.is_not_found() => return Ok(()),
            other => other?,
        };
        for association in output.route_tables().iter().flat_map(|t| t.associations()) {
            if association.main().unwrap_or(false) {
                continue;
            }
            if let Some(id) = association.route_table_association_id() {
                match self
                    .client
                    .disassociate_route_table()
                    .association_id(id)
                    .send()
                    .await
                    .op("DisassociateRouteTable")
                {
                    Err(error) if !error.is_not_found() => return Err(error),
                    _ => {}
                }
            }
        }
        delete_with_retry(table, progress, || async {
            self.client
                .delete_route_table()
                .route_table_id(table)
                .send()
                .await
                .op("DeleteRouteTable")
                .map(drop)
        })
        .await
    }

    /// Rewrites a resource's tags to exactly `wanted` (AWS-owned `aws:` tags untouched).
    pub async fn sync_tags(&self, resource: &str, wanted: &Tags, current: &Tags) -> Result<(), AwsError> {
        let stale: Vec<_> = crate::aws::stale_tag_keys(wanted, current)
            .into_iter()
            .map(|k| aws_sdk_ec2::types::Tag::builder().key(k).build())
            .collect();
        if !stale.is_empty() {
            self.client
                .delete_tags()
                .resources(resource)
                .set_tags(Some(stale))
                .send()
                .await
                .op("DeleteTags")?;
        }
        if wanted != current {
            self.client
                .create_tags()
                .resources(resource)
                .set_tags(Some(super::to_sdk_tags(wanted)))
                .send()
                .await
                .op("CreateTags")?;
        }
        Ok(())
    }
}
