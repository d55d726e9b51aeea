//! Route tables: routes and subnet associations made exactly the desired ones.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::ResourceType;

use super::{Ec2, env_filter, from_sdk_tags, tag_specification};
use crate::apply::Resolved;
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::retry::delete_with_retry;
use crate::aws::tags::sync_tags;
use crate::model::{Route, RouteTableSpec, RouteTarget, Spec};

pub(crate) struct RouteTables<'a>(pub(crate) &'a Ec2);

impl Resource for RouteTables<'_> {
    type Spec = RouteTableSpec;

    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let tables: Vec<_> = all_pages!(
            self.0.client.describe_route_tables().filters(env_filter(environment)),
            "DescribeRouteTables"
        )?;
        Ok(tables
            .into_iter()
            .map(|t| {
                let vpc = t.vpc_id().unwrap_or_default().to_owned();
                let routes: Vec<(String, RawTarget)> = t.routes().iter().filter_map(route_of).collect();
                let subnets: Vec<String> = t
                    .associations()
                    .iter()
                    .filter(|a| !a.main().unwrap_or(false))
                    .filter_map(|a| a.subnet_id().map(str::to_owned))
                    .collect();
                Found::new(
                    t.route_table_id().unwrap_or_default(),
                    from_sdk_tags(t.tags()),
                    move |lookup| {
                        Spec::RouteTable(RouteTableSpec {
                            vpc: lookup(&vpc),
                            routes: routes
                                .into_iter()
                                .map(|(destination, target)| Route {
                                    destination,
                                    target: match target {
                                        RawTarget::Gateway(id) if id.starts_with("igw-") => {
                                            RouteTarget::InternetGateway(lookup(&id))
                                        }
                                        RawTarget::Nat(id) => RouteTarget::NatGateway(lookup(&id)),
                                        RawTarget::Gateway(id) | RawTarget::Other(id) => RouteTarget::Other(id),
                                    },
                                })
                                .collect(),
                            subnets: subnets.iter().map(|s| lookup(s)).collect(),
                        })
                    },
                )
            })
            .collect())
    }

    async fn create(&self, request: Create<'_, RouteTableSpec>) -> Result<String, AwsError> {
        let output = self
            .0
            .client
            .create_route_table()
            .vpc_id(request.resolved.physical(&request.spec.vpc)?)
            .client_token(&request.client_token)
            .tag_specifications(tag_specification(ResourceType::RouteTable, request.tags))
            .send()
            .await
            .op("CreateRouteTable")?;
        let id = output
            .route_table()
            .and_then(|t| t.route_table_id())
            .unwrap_or_default()
            .to_owned();
        self.sync(&id, request.spec, request.resolved).await?;
        Ok(id)
    }

    async fn update(&self, request: Update<'_, RouteTableSpec>) -> Result<(), AwsError> {
        if request.changed_any(&[RouteTableSpec::ROUTES, RouteTableSpec::SUBNETS]) {
            self.sync(request.physical_id, request.spec, request.resolved).await?;
        }
        sync_tags(self.0, request.physical_id, request.tags, request.current_tags).await
    }

    async fn delete(&self, request: Delete<'_, RouteTableSpec>) -> Result<(), AwsError> {
        let table = request.physical_id;

        let output = match self
            .0
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
                    .0
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
        delete_with_retry(table, request.progress, || async {
            self.0
                .client
                .delete_route_table()
                .route_table_id(table)
                .send()
                .await
                .op("DeleteRouteTable")
                .map(drop)
        })
        .await
    }
}

impl RouteTables<'_> {
    /// Makes the table's routes and subnet associations exactly the desired ones, reading its
    /// current contents first (association ids are needed to remove one).
    async fn sync(&self, table: &str, spec: &RouteTableSpec, resolved: &Resolved) -> Result<(), AwsError> {
        let output = self
            .0
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
                    self.0
                        .client
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
                    self.0
                        .client
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
            self.0
                .client
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
                self.0
                    .client
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
                self.0
                    .client
                    .disassociate_route_table()
                    .association_id(association_id)
                    .send()
                    .await
                    .op("DisassociateRouteTable")?;
            }
        }
        Ok(())
    }
}

/// A route's target as described, before ids become references.
enum RawTarget {
    Gateway(String),
    Nat(String),
    Other(String),
}

/// A route as the model sees it; the VPC's implicit `local` route is not ours to manage.
fn route_of(route: &aws_sdk_ec2::types::Route) -> Option<(String, RawTarget)> {
    let destination = route.destination_cidr_block()?.to_owned();
    let target = if let Some(gateway) = route.gateway_id() {
        if gateway == "local" {
            return None;
        }
        RawTarget::Gateway(gateway.to_owned())
    } else if let Some(nat) = route.nat_gateway_id() {
        RawTarget::Nat(nat.to_owned())
    } else {
        let other = route
            .transit_gateway_id()
            .or(route.vpc_peering_connection_id())
            .or(route.network_interface_id())
            .or(route.instance_id())
            .unwrap_or("unknown target");
        RawTarget::Other(other.to_owned())
    };
    Some((destination, target))
}
