//! NAT gateways: slow to create and to delete on real AWS, so both wait.

use std::time::Duration;

use aws_sdk_ec2::types::{NatGateway, ResourceType};

use super::{Ec2, env_filter, from_sdk_tags, tag_specification};
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::resource::Read;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::tags::sync_tags;
use crate::aws::wait::{Check, Goal, Wait, poll};
use crate::model::Outputs;
use crate::model::{NatGatewaySpec, Spec};

/// NAT gateways in these states are gone or going; a new one may be created beside them.
const NAT_GONE: [&str; 3] = ["deleting", "deleted", "failed"];

pub(crate) struct NatGateways<'a>(pub(crate) &'a Ec2);

impl Resource for NatGateways<'_> {
    type Spec = NatGatewaySpec;
    /// NAT gateways take one to five minutes to become available on real AWS.
    const TIMEOUT: Duration = Duration::from_secs(15 * 60);

    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let nats: Vec<_> = all_pages!(
            self.0.client.describe_nat_gateways().filter(env_filter(environment)),
            "DescribeNatGateways"
        )?;
        Ok(nats
            .into_iter()
            .filter(|n| !n.state().is_some_and(|s| NAT_GONE.contains(&s.as_str())))
            .map(|n| {
                let subnet = n.subnet_id().unwrap_or_default().to_owned();
                let allocation = n
                    .nat_gateway_addresses()
                    .first()
                    .and_then(|a| a.allocation_id())
                    .unwrap_or_default()
                    .to_owned();
                Found::new(
                    n.nat_gateway_id().unwrap_or_default(),
                    from_sdk_tags(n.tags()),
                    move |lookup| {
                        Spec::NatGateway(NatGatewaySpec {
                            subnet: lookup(&subnet),
                            elastic_ip: lookup(&allocation),
                        })
                    },
                )
            })
            .collect())
    }

    async fn create(&self, request: Create<'_, NatGatewaySpec>) -> Result<String, AwsError> {
        let resolved = request.resolved;
        let output = self
            .0
            .client
            .create_nat_gateway()
            .subnet_id(resolved.physical(&request.spec.subnet)?)
            .allocation_id(resolved.physical(&request.spec.elastic_ip)?)
            .client_token(&request.client_token)
            .tag_specifications(tag_specification(ResourceType::Natgateway, request.tags))
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
            self.wait(
                &id,
                Goal::Ready,
                request.wait(format!("NAT gateway {id} to become available (usually 1 to 5 minutes)")),
            )
            .await?;
        }
        Ok(id)
    }

    async fn update(&self, request: Update<'_, NatGatewaySpec>) -> Result<(), AwsError> {
        sync_tags(self.0, request.physical_id, request.tags, request.current_tags).await
    }

    async fn delete(&self, request: Delete<'_, NatGatewaySpec>) -> Result<(), AwsError> {
        let nat = request.physical_id;
        match self
            .0
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
        self.wait(
            nat,
            Goal::Gone,
            request.wait(format!("NAT gateway {nat} to be deleted")),
        )
        .await
    }

    fn outputs(&self, read: &Read<'_, Self::Spec>, outputs: &mut Outputs) {
        outputs.nat_gateway_ids.push(read.resource.physical_id.clone());
    }
}

impl NatGateways<'_> {
    async fn wait(&self, id: &str, goal: Goal, wait: Wait<'_>) -> Result<(), AwsError> {
        poll(wait, || async move {
            match self
                .0
                .client
                .describe_nat_gateways()
                .nat_gateway_ids(id)
                .send()
                .await
                .op("DescribeNatGateways")
            {
                Ok(output) => Ok(nat_check(output.nat_gateways().first(), goal)),
                Err(error) if error.is_not_found() => Ok(goal.absent()),
                Err(error) => Err(error),
            }
        })
        .await
    }
}

/// What one look at the gateway means for a wait: its state and, when it failed, AWS's
/// reason.
fn nat_check(nat: Option<&NatGateway>, goal: Goal) -> Check<()> {
    let Some(nat) = nat else {
        return goal.absent();
    };
    let state = nat.state().map_or("in an unknown state", |s| s.as_str());
    let described = match nat.failure_message() {
        Some(message) => format!("{state} ({}: {message})", nat.failure_code().unwrap_or("no code")),
        None => state.to_owned(),
    };
    match (goal, state) {
        (Goal::Ready, "available") | (Goal::Gone, "deleted") => Check::Done(()),
        (Goal::Ready, "failed" | "deleting" | "deleted") => Check::Failed(described),
        _ => Check::Pending(described),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::types::NatGatewayState;

    use super::*;

    fn gateway(state: NatGatewayState) -> NatGateway {
        NatGateway::builder().nat_gateway_id("nat-1").state(state).build()
    }

    #[test]
    fn a_failed_gateway_stops_the_wait_with_aws_reason() {
        let failed = NatGateway::builder()
            .nat_gateway_id("nat-1")
            .state(NatGatewayState::Failed)
            .failure_code("Gateway.NotAttached")
            .failure_message("Network vpc-1 has no Internet gateway attached")
            .build();
        assert!(matches!(
            nat_check(Some(&failed), Goal::Ready),
            Check::Failed(reason) if reason == "failed (Gateway.NotAttached: Network vpc-1 has no Internet gateway attached)"
        ));
    }

    #[test]
    fn pending_and_not_yet_visible_gateways_are_waited_for() {
        let pending = gateway(NatGatewayState::Pending);
        assert!(matches!(nat_check(Some(&pending), Goal::Ready), Check::Pending(s) if s == "pending"));
        assert!(matches!(nat_check(None, Goal::Ready), Check::Pending(s) if s == "not visible yet"));
        assert!(matches!(
            nat_check(Some(&gateway(NatGatewayState::Available)), Goal::Ready),
            Check::Done(())
        ));
    }

    #[test]
    fn a_deleting_gateway_is_waited_for_until_deleted_or_gone() {
        let deleting = gateway(NatGatewayState::Deleting);
        assert!(matches!(nat_check(Some(&deleting), Goal::Gone), Check::Pending(_)));
        assert!(matches!(
            nat_check(Some(&gateway(NatGatewayState::Deleted)), Goal::Gone),
            Check::Done(())
        ));
        assert!(matches!(nat_check(None, Goal::Gone), Check::Done(())));
    }
}
