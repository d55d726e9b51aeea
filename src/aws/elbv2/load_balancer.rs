//! Application Load Balancers (internet-facing); their listeners are found with them.

use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::types::{
    LoadBalancer, LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerTypeEnum,
};

use super::listener::find_listeners;
use super::{Elbv2, sdk_tags};
use crate::apply::Resolved;
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::resource::Read;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::tags::sync_tags;
use crate::aws::wait::{Check, Goal, Wait, poll};
use crate::model::Outputs;
use crate::model::{LoadBalancerSpec, Spec};

pub(crate) struct LoadBalancers<'a>(pub(crate) &'a Elbv2);

impl Resource for LoadBalancers<'_> {
    type Spec = LoadBalancerSpec;
    /// ALBs usually become active in two to four minutes.
    const TIMEOUT: Duration = Duration::from_secs(10 * 60);

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
            // Listeners and attributes are separate reads of the same balancer: at once.
            let (listeners, attributes) =
                tokio::try_join!(find_listeners(self.0, &arn, environment), self.attributes(&arn))?;
            found.extend(listeners);
            let attribute = |key: &str| attributes.get(key).cloned().unwrap_or_default();
            let drop_invalid_header_fields = attribute(DROP_INVALID_HEADERS) == "true";
            let desync_mitigation_mode = attribute(DESYNC_MODE);
            let deletion_protection = attribute(DELETION_PROTECTION) == "true";
            let log_bucket = (attribute(ACCESS_LOGS) == "true").then(|| attribute(ACCESS_LOGS_BUCKET));
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
                        drop_invalid_header_fields,
                        desync_mitigation_mode,
                        deletion_protection,
                        access_logs: log_bucket.as_deref().map(lookup),
                    })
                })
                .with_info(|info| info.dns_name = dns),
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
        self.set_attributes(&arn, attributes(spec, resolved)?).await?;
        let wait = request.wait(format!(
            "load balancer {} to become active (usually 2 to 4 minutes)",
            spec.name
        ));
        self.wait(&arn, Goal::Ready, wait).await?;
        Ok(arn)
    }

    async fn update(&self, request: Update<'_, LoadBalancerSpec>) -> Result<(), AwsError> {
        let (arn, spec, resolved) = (request.physical_id, request.spec, request.resolved);
        if request.changed(LoadBalancerSpec::SUBNETS) {
            self.0
                .client
                .set_subnets()
                .load_balancer_arn(arn)
                .set_subnets(Some(resolved.physical_all(&spec.subnets)?))
                .send()
                .await
                .op("SetSubnets")?;
        }
        if request.changed(LoadBalancerSpec::SECURITY_GROUPS) {
            self.0
                .client
                .set_security_groups()
                .load_balancer_arn(arn)
                .set_security_groups(Some(resolved.physical_all(&spec.security_groups)?))
                .send()
                .await
                .op("SetSecurityGroups")?;
        }
        let changed: Vec<LoadBalancerAttribute> = attributes(spec, resolved)?
            .into_iter()
            .filter(|a| request.changed(attribute_name(a.key().unwrap_or_default())))
            .collect();
        if !changed.is_empty() {
            self.set_attributes(arn, changed).await?;
        }
        sync_tags(self.0, arn, request.tags, request.current_tags).await
    }

    /// Deletion protection is lifted first: reaching this step means the user confirmed the
    /// destroy (protected environments need the typed name or --allow-destroy).
    async fn delete(&self, request: Delete<'_, LoadBalancerSpec>) -> Result<(), AwsError> {
        let arn = request.physical_id;
        if request.observed.deletion_protection {
            let off = attribute(DELETION_PROTECTION, "false");
            match self.set_attributes(arn, vec![off]).await {
                Err(error) if error.is_not_found() => return Ok(()),
                other => other?,
            }
        }
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
        self.wait(
            arn,
            Goal::Gone,
            request.wait(format!("load balancer {arn} to be deleted")),
        )
        .await
    }

    fn outputs(&self, read: &Read<'_, Self::Spec>, outputs: &mut Outputs) {
        outputs.set_load_balancer(read.resource.info.dns_name.clone());
    }
}

impl LoadBalancers<'_> {
    async fn attributes(&self, arn: &str) -> Result<std::collections::BTreeMap<String, String>, AwsError> {
        let output = self
            .0
            .client
            .describe_load_balancer_attributes()
            .load_balancer_arn(arn)
            .send()
            .await
            .op("DescribeLoadBalancerAttributes")?;
        Ok(output
            .attributes()
            .iter()
            .filter_map(|a| Some((a.key()?.to_owned(), a.value()?.to_owned())))
            .collect())
    }

    async fn set_attributes(&self, arn: &str, attributes: Vec<LoadBalancerAttribute>) -> Result<(), AwsError> {
        self.0
            .client
            .modify_load_balancer_attributes()
            .load_balancer_arn(arn)
            .set_attributes(Some(attributes))
            .send()
            .await
            .op("ModifyLoadBalancerAttributes")?;
        Ok(())
    }

    async fn wait(&self, arn: &str, goal: Goal, wait: Wait<'_>) -> Result<(), AwsError> {
        poll(wait, || async move {
            match self
                .0
                .client
                .describe_load_balancers()
                .load_balancer_arns(arn)
                .send()
                .await
                .op("DescribeLoadBalancers")
            {
                Ok(output) => Ok(balancer_check(output.load_balancers().first(), goal)),
                Err(error) if error.is_not_found() => Ok(goal.absent()),
                Err(error) => Err(error),
            }
        })
        .await
    }
}

const DROP_INVALID_HEADERS: &str = "routing.http.drop_invalid_header_fields.enabled";
const DESYNC_MODE: &str = "routing.http.desync_mitigation_mode";
const DELETION_PROTECTION: &str = "deletion_protection.enabled";
const ACCESS_LOGS: &str = "access_logs.s3.enabled";
const ACCESS_LOGS_BUCKET: &str = "access_logs.s3.bucket";

fn attribute(key: &str, value: &str) -> LoadBalancerAttribute {
    LoadBalancerAttribute::builder().key(key).value(value).build()
}

/// The load balancer attributes deployer manages, as AWS names them. Access logs are
/// written at the bucket's root (`AWSLogs/<account>/…`, what the bucket policy allows).
fn attributes(spec: &LoadBalancerSpec, resolved: &Resolved) -> Result<Vec<LoadBalancerAttribute>, AwsError> {
    let mut attributes = vec![
        attribute(DROP_INVALID_HEADERS, &spec.drop_invalid_header_fields.to_string()),
        attribute(DESYNC_MODE, &spec.desync_mitigation_mode),
        attribute(DELETION_PROTECTION, &spec.deletion_protection.to_string()),
        attribute(ACCESS_LOGS, &spec.access_logs.is_some().to_string()),
    ];
    if let Some(bucket) = &spec.access_logs {
        attributes.push(attribute(ACCESS_LOGS_BUCKET, &resolved.physical(bucket)?));
    }
    Ok(attributes)
}

/// The spec attribute an AWS attribute key carries.
fn attribute_name(key: &str) -> &'static str {
    match key {
        DROP_INVALID_HEADERS => "drop_invalid_header_fields",
        DESYNC_MODE => "desync_mitigation_mode",
        ACCESS_LOGS | ACCESS_LOGS_BUCKET => "access_logs",
        _ => "deletion_protection",
    }
}

/// What one look at the load balancer means for a wait: its state, with AWS's reason when
/// there is one.
fn balancer_check(balancer: Option<&LoadBalancer>, goal: Goal) -> Check<()> {
    let Some(balancer) = balancer else {
        return goal.absent();
    };
    let state = balancer.state();
    let code = state.and_then(|s| s.code()).map_or("unknown", |c| c.as_str());
    let described = match state.and_then(|s| s.reason()) {
        Some(reason) => format!("{code} ({reason})"),
        None => code.to_owned(),
    };
    match (goal, code) {
        (Goal::Ready, "active") => Check::Done(()),
        (Goal::Ready, "failed") => Check::Failed(described),
        _ => Check::Pending(described),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_elasticloadbalancingv2::types::{LoadBalancerState, LoadBalancerStateEnum};

    use super::*;

    fn balancer(code: LoadBalancerStateEnum, reason: Option<&str>) -> LoadBalancer {
        let state = LoadBalancerState::builder()
            .code(code)
            .set_reason(reason.map(str::to_owned))
            .build();
        LoadBalancer::builder().state(state).build()
    }

    #[test]
    fn provisioning_is_waited_for_and_failed_stops_with_the_reason() {
        let provisioning = balancer(LoadBalancerStateEnum::Provisioning, None);
        assert!(matches!(balancer_check(Some(&provisioning), Goal::Ready), Check::Pending(s) if s == "provisioning"));
        let failed = balancer(LoadBalancerStateEnum::Failed, Some("subnet has no free addresses"));
        assert!(matches!(
            balancer_check(Some(&failed), Goal::Ready),
            Check::Failed(s) if s == "failed (subnet has no free addresses)"
        ));
        let active = balancer(LoadBalancerStateEnum::Active, None);
        assert!(matches!(balancer_check(Some(&active), Goal::Ready), Check::Done(())));
        assert!(matches!(balancer_check(None, Goal::Ready), Check::Pending(_)));
    }

    #[test]
    fn deleting_waits_until_describe_no_longer_finds_it() {
        let active = balancer(LoadBalancerStateEnum::Active, None);
        assert!(matches!(balancer_check(Some(&active), Goal::Gone), Check::Pending(_)));
        assert!(matches!(balancer_check(None, Goal::Gone), Check::Done(())));
    }
}
