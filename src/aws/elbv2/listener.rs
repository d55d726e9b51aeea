//! Listeners: the load balancer's ports, forwarding to the target group (HTTP, or HTTPS with
//! an ACM certificate) or redirecting to HTTPS.

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, ProtocolEnum, RedirectActionConfig, RedirectActionStatusCodeEnum,
};

use super::{Elbv2, sdk_tags};
use crate::apply::Resolved;
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::resource::Read;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::aws::tags::sync_tags;
use crate::model::Outputs;
use crate::model::{ListenerAction, ListenerSpec, Spec};

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
            .protocol(ProtocolEnum::from(spec.protocol.as_str()))
            .port(i32::from(spec.port))
            .set_certificates(certificates(spec))
            .set_ssl_policy(spec.ssl_policy.clone())
            .default_actions(action(spec, resolved)?)
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
        let spec = request.spec;
        if request.changed_any(&[
            ListenerSpec::PORT,
            ListenerSpec::PROTOCOL,
            ListenerSpec::CERTIFICATE,
            ListenerSpec::SSL_POLICY,
            ListenerSpec::ACTION,
        ]) {
            self.0
                .client
                .modify_listener()
                .listener_arn(request.physical_id)
                .port(i32::from(spec.port))
                .protocol(ProtocolEnum::from(spec.protocol.as_str()))
                .set_certificates(certificates(spec))
                .set_ssl_policy(spec.ssl_policy.clone())
                .default_actions(action(spec, request.resolved)?)
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

    fn outputs(&self, read: &Read<'_, Self::Spec>, outputs: &mut Outputs) {
        if read.spec.protocol == "HTTPS" {
            outputs.serves_https();
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
        let protocol = listener.protocol().map_or("", |p| p.as_str()).to_owned();
        // Only an HTTPS listener has a certificate and a TLS policy (the emulator reports a
        // policy on HTTP listeners too).
        let secure = protocol == "HTTPS";
        let certificate = listener
            .certificates()
            .first()
            .and_then(|c| c.certificate_arn())
            .filter(|_| secure)
            .map(str::to_owned);
        let ssl_policy = listener.ssl_policy().filter(|_| secure).map(str::to_owned);
        let first = listener.default_actions().first();
        let redirect = first
            .and_then(|a| a.redirect_config())
            .filter(|r| r.protocol() == Some("HTTPS"))
            .map(|r| r.port().and_then(|p| p.parse().ok()).unwrap_or(443));
        let target = first.and_then(|a| a.target_group_arn()).unwrap_or_default().to_owned();
        let balancer = balancer.to_owned();
        found.push(Found::new(arn, tags, move |lookup| {
            Spec::Listener(ListenerSpec {
                load_balancer: lookup(&balancer),
                port,
                protocol,
                certificate,
                ssl_policy,
                action: match redirect {
                    Some(port) => ListenerAction::RedirectToHttps(port),
                    None => ListenerAction::Forward(lookup(&target)),
                },
            })
        }));
    }
    Ok(found)
}

fn certificates(spec: &ListenerSpec) -> Option<Vec<Certificate>> {
    spec.certificate
        .as_ref()
        .map(|arn| vec![Certificate::builder().certificate_arn(arn).build()])
}

fn action(spec: &ListenerSpec, resolved: &Resolved) -> Result<Action, AwsError> {
    Ok(match &spec.action {
        ListenerAction::Forward(target) => Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(resolved.physical(target)?)
            .build(),
        // Same host, path and query: only the scheme and port change.
        ListenerAction::RedirectToHttps(port) => Action::builder()
            .r#type(ActionTypeEnum::Redirect)
            .redirect_config(
                RedirectActionConfig::builder()
                    .protocol("HTTPS")
                    .port(port.to_string())
                    .status_code(RedirectActionStatusCodeEnum::Http301)
                    .build(),
            )
            .build(),
    })
}
