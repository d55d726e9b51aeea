//! NAT gateways: slow to create and to delete on real AWS, so both wait.

use std::time::Duration;

use aws_sdk_ec2::client::Waiters;
use aws_sdk_ec2::operation::describe_nat_gateways::DescribeNatGatewaysOutput;
use aws_sdk_ec2::types::ResourceType;

use super::{Ec2, env_filter, from_sdk_tags, tag_specification};
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::tags::sync_tags;
use crate::aws::wait::Waited;
use crate::model::{NatGatewaySpec, Spec};

/// NAT gateways take one to five minutes to become available on real AWS.
const NAT_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// NAT gateways in these states are gone or going; a new one may be created beside them.
const NAT_GONE: [&str; 3] = ["deleting", "deleted", "failed"];

pub(crate) struct NatGateways<'a>(pub(crate) &'a Ec2);

impl Resource for NatGateways<'_> {
    type Spec = NatGatewaySpec;

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
            request
                .progress
                .waiting(format!("NAT gateway {id} to become available (usually 1 to 5 minutes)"));
            self.0
                .client
                .wait_until_nat_gateway_available()
                .nat_gateway_ids(&id)
                .wait(NAT_TIMEOUT)
                .await
                .waited(
                    "DescribeNatGateways",
                    &format!("NAT gateway {id} to become available"),
                    nat_state,
                )?;
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
        request.progress.waiting(format!("NAT gateway {nat} to be deleted"));
        self.0
            .client
            .wait_until_nat_gateway_deleted()
            .nat_gateway_ids(nat)
            .wait(NAT_TIMEOUT)
            .await
            .waited(
                "DescribeNatGateways",
                &format!("NAT gateway {nat} to be deleted"),
                nat_state,
            )
    }
}

/// What the last poll said of the gateway: its state and, when it failed, AWS's reason.
fn nat_state(output: &DescribeNatGatewaysOutput) -> String {
    let Some(nat) = output.nat_gateways().first() else {
        return "absent".to_owned();
    };
    let state = nat.state().map_or("in an unknown state", |s| s.as_str());
    match nat.failure_message() {
        Some(message) => format!("{state} ({}: {message})", nat.failure_code().unwrap_or("no code")),
        None => state.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::operation::describe_nat_gateways::DescribeNatGatewaysError;
    use aws_sdk_ec2::types::{NatGateway, NatGatewayState};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::client::result::SdkError;
    use aws_smithy_runtime_api::client::waiters::FinalPoll;
    use aws_smithy_runtime_api::client::waiters::error::{ExceededMaxWait, FailureState, WaiterError};

    use super::*;

    type Outcome = Result<
        FinalPoll<DescribeNatGatewaysOutput, SdkError<DescribeNatGatewaysError, HttpResponse>>,
        WaiterError<DescribeNatGatewaysOutput, DescribeNatGatewaysError>,
    >;

    fn failed_gateway() -> DescribeNatGatewaysOutput {
        DescribeNatGatewaysOutput::builder()
            .nat_gateways(
                NatGateway::builder()
                    .nat_gateway_id("nat-1")
                    .state(NatGatewayState::Failed)
                    .failure_code("Gateway.NotAttached")
                    .failure_message("Network vpc-1 has no Internet gateway attached")
                    .build(),
            )
            .build()
    }

    #[test]
    fn a_failed_gateway_is_reported_as_failed_with_its_reason_not_as_a_timeout() {
        let outcome: Outcome = Err(WaiterError::FailureState(FailureState::new(FinalPoll::new(Ok(
            failed_gateway(),
        )))));
        let error = outcome
            .waited(
                "DescribeNatGateways",
                "NAT gateway nat-1 to become available",
                nat_state,
            )
            .unwrap_err();
        assert!(matches!(error, AwsError::FailedState { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            "NAT gateway nat-1 to become available failed: it is failed (Gateway.NotAttached: Network vpc-1 has no Internet gateway attached)"
        );
    }

    #[test]
    fn access_denied_while_polling_stays_access_denied() {
        use aws_smithy_runtime_api::client::waiters::error::OperationFailed;
        use aws_smithy_runtime_api::http::StatusCode;
        use aws_smithy_types::body::SdkBody;
        use aws_smithy_types::error::ErrorMetadata;

        let denied = DescribeNatGatewaysError::generic(
            ErrorMetadata::builder()
                .code("UnauthorizedOperation")
                .message("You are not authorized to perform this operation.")
                .build(),
        );
        let raw = HttpResponse::new(StatusCode::try_from(403).unwrap(), SdkBody::empty());
        let outcome: Outcome = Err(WaiterError::OperationFailed(OperationFailed::new(
            SdkError::service_error(denied, raw),
        )));
        let error = outcome
            .waited("DescribeNatGateways", "NAT gateway nat-1", nat_state)
            .unwrap_err();
        assert_eq!(error.code(), Some("UnauthorizedOperation"), "{error:?}");
        assert!(!matches!(error, AwsError::WaitTimeout { .. }));
    }

    #[test]
    fn exceeding_the_wait_is_a_timeout() {
        let waited = Duration::from_secs(900);
        let outcome: Outcome = Err(WaiterError::ExceededMaxWait(ExceededMaxWait::new(waited, waited, 40)));
        let error = outcome
            .waited("DescribeNatGateways", "NAT gateway nat-1", nat_state)
            .unwrap_err();
        assert!(
            matches!(error, AwsError::WaitTimeout { waited: w, .. } if w == waited),
            "{error:?}"
        );
    }
}
