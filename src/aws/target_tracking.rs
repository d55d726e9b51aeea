//! Target tracking, what both scalers share (the ECS service's Application Auto Scaling
//! target and policies in `app_scaling/service_scaling.rs`, the EC2 Auto Scaling group's
//! policies in `asg/group_scaling.rs`): the policy names, cooldowns, the request-count label
//! and reading policies back. Both are target tracking: AWS adds capacity when the metric
//! runs above the target and removes it below, within min and max, and owns the desired count
//! from then on (deployer sets it at creation only).
//!
//! Neither scalable targets nor policies carry tags in every implementation (the emulator keeps
//! none), so they are found by deployer's names: the environment's own service
//! (`service/<env>/api`) or group (`<env>-app`), and policies called `deployer-cpu` and
//! `deployer-requests`.

use super::error::AwsError;
use crate::apply::Resolved;
use crate::model::{DimensionValue, Ref, RequestScaling, ScalingPolicies, TAG_ENVIRONMENT, TAG_ID, Tags};

pub(super) const CPU_POLICY: &str = "deployer-cpu";
pub(super) const REQUESTS_POLICY: &str = "deployer-requests";
/// Scale out after a minute of high load, in only after five of low: capacity comes fast and
/// goes slowly.
pub(super) const SCALE_OUT_COOLDOWN: i32 = 60;
pub(super) const SCALE_IN_COOLDOWN: i32 = 300;

/// The tags discovery gives a resource it finds by name: its environment and logical id.
pub(super) fn owned(environment: &str, id: &str) -> Tags {
    Tags::from([
        (TAG_ENVIRONMENT.to_owned(), environment.to_owned()),
        (TAG_ID.to_owned(), id.to_owned()),
    ])
}

/// `app/<lb>/<id>/targetgroup/<tg>/<id>`: how both scalers name the target group whose
/// requests they count, from the two ARNs.
pub(super) fn resource_label(requests: &RequestScaling, resolved: &Resolved) -> Result<String, AwsError> {
    let balancer = resolved.physical(&requests.load_balancer)?;
    let group = resolved.physical(&requests.target_group)?;
    // Each by the end of its ARN, as CloudWatch names them in metrics (and the alarms do).
    let (balancer_name, group_name) = (
        DimensionValue::of_physical(&balancer),
        DimensionValue::of_physical(&group),
    );
    if balancer_name != balancer && group_name != group && group_name.starts_with("targetgroup/") {
        Ok(format!("{balancer_name}/{group_name}"))
    } else {
        Err(AwsError::Other {
            operation: "PutScalingPolicy",
            detail: format!("cannot name the target group {group} behind {balancer} for request counting"),
        })
    }
}

/// The requests policy read back: the environment's own load balancer and target group by
/// their names, anything else as it is.
pub(super) fn requests_from(per_target: f64, label: &str, environment: &str) -> RequestScaling {
    let parts: Vec<&str> = label.split('/').collect();
    let ours = parts.len() == 6
        && parts[1] == crate::model::names::load_balancer(environment)
        && crate::model::is_target_group_name(environment, parts[4]);
    let (load_balancer, target_group) = if ours {
        (Ref::to("load-balancer"), Ref::to("target-group"))
    } else {
        (Ref::External(label.to_owned()), Ref::External(label.to_owned()))
    };
    RequestScaling {
        per_target: per_target.round().max(0.0) as u32,
        load_balancer,
        target_group,
    }
}

/// What a policy tracks and at which value, read back.
pub(super) struct Tracked {
    pub(super) name: String,
    pub(super) target: f64,
    pub(super) label: Option<String>,
}

pub(super) fn policies_from(tracked: &[Tracked], environment: &str) -> ScalingPolicies {
    let cpu = tracked.iter().find(|t| t.name == CPU_POLICY);
    let requests = tracked.iter().find(|t| t.name == REQUESTS_POLICY);
    ScalingPolicies {
        cpu_percent: cpu.map_or(0, |t| t.target.round().max(0.0) as u16),
        requests: requests.map(|t| requests_from(t.target, t.label.as_deref().unwrap_or_default(), environment)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_label_names_the_load_balancer_and_target_group_by_their_arns() {
        let resolved = Resolved::new(
            [
                (
                    "load-balancer",
                    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/staging-lb/50dc6c495c0c9188",
                ),
                (
                    "target-group",
                    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/staging-app-0a1b2c/943f017f100becff",
                ),
            ]
            .into_iter()
            .map(|(id, arn)| (crate::model::Id::from(id), arn.to_owned()))
            .collect(),
        );
        let requests = RequestScaling {
            per_target: 1000,
            load_balancer: Ref::to("load-balancer"),
            target_group: Ref::to("target-group"),
        };
        let label = resource_label(&requests, &resolved).unwrap();
        assert_eq!(
            label,
            "app/staging-lb/50dc6c495c0c9188/targetgroup/staging-app-0a1b2c/943f017f100becff"
        );
        assert_eq!(requests_from(1000.0, &label, "staging"), requests);
        let foreign = requests_from(5.0, &label, "production");
        assert_eq!(foreign.target_group, Ref::External(label.clone()));
    }
}
