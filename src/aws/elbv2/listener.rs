//! Listeners: the load balancer's port, forwarding to the target group.

use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum, ProtocolEnum};

use super::{Elbv2, sdk_tags};
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::tags::sync_tags;
use crate::model::{ListenerSpec, Spec};

pub(crate) struct Listeners<'a>(pub(crate) &'a Elbv2);

impl Resource for Listeners<'_> {
    type Spec = ListenerSpec;

    /// Found with their load balancer, by `LoadBalancers::discover` (AWS lists listeners only
    /// per load balancer).
    async fn discover(&self, _environment: &str) -> Result<Vec<Found>, AwsError> {
        Ok(Vec::new())
    }

    async fn create(&self, request: Create<'_, ListenerSpec>) -> Result<String, AwsError> {
        let (spec, resolved) = (request.spec, request.resolved);
        let output = self
            .0
            .client
            .create_listener()
            .load_balancer_arn(resolved.physical(&spec.load_balancer)?)
            .protocol(ProtocolEnum::Http)
            .port(i32::from(spec.port))
            .default_actions(forward(resolved.physical(&spec.target_group)?))
            .set_tags(Some(sdk_tags(request.tags)))
            .send()
            .await
            .op("CreateListener")?;
        Ok(output
            .listeners()
            .first()
            .and_then(|l| l.listener_arn())
            .unwrap_or_default()
            .to_owned())
    }

    async fn update(&self, request: Update<'_, ListenerSpec>) -> Result<(), AwsError> {
        if request.changed_any(&["port", "target_group"]) {
            self.0
                .client
                .modify_listener()
                .listener_arn(request.physical_id)
                .port(i32::from(request.spec.port))
                .default_actions(forward(request.resolved.physical(&request.spec.target_group)?))
                .send()
                .await
                .op("ModifyListener")?;
        }
        sync_tags(self.0, request.physical_id, request.tags, request.current_tags).await
    }

    async fn delete(&self, request: Delete<'_, ListenerSpec>) -> Result<(), AwsError> {
        match self
            .0
            .client
            .delete_listener()
            .listener_arn(request.physical_id)
            .send()
            .await
            .op("DeleteListener")
        {
            Err(error) if error.is_not_found() => Ok(()),
            other => other.map(drop),
        }
    }
}

/// The environment's listeners of one load balancer.
pub(super) async fn find_listeners(elbv2: &Elbv2, balancer: &str, environment: &str) -> Result<Vec<Found>, AwsError> {
    let listeners = elbv2
        .client
        .describe_listeners()
        .load_balancer_arn(balancer)
        .send()
        .await
        .op("DescribeListeners")?;
    let arns: Vec<String> = listeners
        .listeners()
        .iter()
        .filter_map(|l| l.listener_arn().map(str::to_owned))
        .collect();
    let mut tags = elbv2.environment_tags(&arns, environment).await?;
    let mut found = Vec::new();
    for listener in listeners.listeners() {
        let arn = listener.listener_arn().unwrap_or_default().to_owned();
        let Some(tags) = tags.remove(&arn) else {
            continue;
        };
        let port = listener.port().unwrap_or_default() as u16;
        let target = listener
            .default_actions()
            .first()
            .and_then(|a| a.target_group_arn())
            .unwrap_or_default()
            .to_owned();
        let balancer = balancer.to_owned();
        found.push(Found::new(arn, tags, move |lookup| {
            Spec::Listener(ListenerSpec {
                load_balancer: lookup(&balancer),
                port,
                target_group: lookup(&target),
            })
        }));
    }
    Ok(found)
}

fn forward(target_group: String) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(target_group)
        .build()
}
