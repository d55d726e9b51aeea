//! Application Load Balancers (internet-facing); their listeners are found with them.

use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::client::Waiters;
use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::DescribeLoadBalancersOutput;
use aws_sdk_elasticloadbalancingv2::types::{LoadBalancerSchemeEnum, LoadBalancerTypeEnum};

use super::listener::find_listeners;
use super::{Elbv2, sdk_tags};
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::tags::sync_tags;
use crate::aws::wait::Waited;
use crate::model::{LoadBalancerSpec, Spec};

/// ALBs usually become active in two to four minutes.
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

pub(crate) struct LoadBalancers<'a>(pub(crate) &'a Elbv2);

impl Resource for LoadBalancers<'_> {
    type Spec = LoadBalancerSpec;

    /// Finds the environment's load balancers, then their listeners (AWS lists listeners
    /// only per load balancer).
    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let balancers: Vec<_> = all_pages!(self.0.client.describe_load_balancers(), "DescribeLoadBalancers")?;
        let arns: Vec<String> = balancers
            .iter()
            .filter_map(|b| b.load_balancer_arn().map(str::to_owned))
            .collect();
        let mut tags = self.0.environment_tags(&arns, environment).await?;
        let mut found = Vec::new();
        for balancer in balancers {
            let arn = balancer.load_balancer_arn().unwrap_or_default().to_owned();
            let Some(tags) = tags.remove(&arn) else {
                continue;
            };
            found.extend(find_listeners(self.0, &arn, environment).await?);
            let name = balancer.load_balancer_name().unwrap_or_default().to_owned();
            let subnets: Vec<String> = balancer
                .availability_zones()
                .iter()
                .filter_map(|z| z.subnet_id().map(str::to_owned))
                .collect();
            let groups: Vec<String> = balancer.security_groups().to_vec();
            let dns = balancer.dns_name().map(str::to_owned);
            found.push(
                Found::new(arn, tags, move |lookup| {
                    Spec::LoadBalancer(LoadBalancerSpec {
                        name,
                        subnets: subnets.iter().map(|s| lookup(s)).collect(),
                        security_groups: groups.iter().map(|g| lookup(g)).collect(),
                    })
                })
                .with_info("dns_name", dns.as_deref()),
            );
        }
        Ok(found)
    }

    async fn create(&self, request: Create<'_, LoadBalancerSpec>) -> Result<String, AwsError> {
        let (spec, resolved) = (request.spec, request.resolved);
        let output = self
            .0
            .client
            .create_load_balancer()
            .name(&spec.name)
            .r#type(LoadBalancerTypeEnum::Application)
            .scheme(LoadBalancerSchemeEnum::InternetFacing)
            .set_subnets(Some(resolved.physical_all(&spec.subnets)?))
            .set_security_groups(Some(resolved.physical_all(&spec.security_groups)?))
            .set_tags(Some(sdk_tags(request.tags)))
            .send()
            .await
            .op("CreateLoadBalancer")?;
        let arn = output
            .load_balancers()
            .first()
            .and_then(|b| b.load_balancer_arn())
            .unwrap_or_default()
            .to_owned();
        request.progress.waiting(format!(
            "load balancer {} to become active (usually 2 to 4 minutes)",
            spec.name
        ));
        self.0
            .client
            .wait_until_load_balancer_available()
            .load_balancer_arns(&arn)
            .wait(ACTIVE_TIMEOUT)
            .await
            .waited(
                "DescribeLoadBalancers",
                &format!("load balancer {} to become active", spec.name),
                balancer_state,
            )?;
        Ok(arn)
    }

    async fn update(&self, request: Update<'_, LoadBalancerSpec>) -> Result<(), AwsError> {
        let (arn, spec, resolved) = (request.physical_id, request.spec, request.resolved);
        if request.changed("subnets") {
            self.0
                .client
                .set_subnets()
                .load_balancer_arn(arn)
                .set_subnets(Some(resolved.physical_all(&spec.subnets)?))
                .send()
                .await
                .op("SetSubnets")?;
        }
        if request.changed("security_groups") {
            self.0
                .client
                .set_security_groups()
                .load_balancer_arn(arn)
                .set_security_groups(Some(resolved.physical_all(&spec.security_groups)?))
                .send()
                .await
                .op("SetSecurityGroups")?;
        }
        sync_tags(self.0, arn, request.tags, request.current_tags).await
    }

    async fn delete(&self, request: Delete<'_, LoadBalancerSpec>) -> Result<(), AwsError> {
        let arn = request.physical_id;
        match self
            .0
            .client
            .delete_load_balancer()
            .load_balancer_arn(arn)
            .send()
            .await
            .op("DeleteLoadBalancer")
        {
            Err(error) if error.is_not_found() => return Ok(()),
            other => other?,
        };
        request.progress.waiting("the load balancer to be deleted");
        self.0
            .client
            .wait_until_load_balancers_deleted()
            .load_balancer_arns(arn)
            .wait(ACTIVE_TIMEOUT)
            .await
            .waited(
                "DescribeLoadBalancers",
                &format!("load balancer {arn} to be deleted"),
                balancer_state,
            )
    }
}

/// The state the last poll reported, with AWS's reason when there is one.
fn balancer_state(output: &DescribeLoadBalancersOutput) -> String {
    let state = output.load_balancers().first().and_then(|b| b.state());
    match state {
        Some(state) => {
            let code = state.code().map_or("unknown", |c| c.as_str());
            match state.reason() {
                Some(reason) => format!("{code} ({reason})"),
                None => code.to_owned(),
            }
        }
        None => "absent".to_owned(),
    }
}
