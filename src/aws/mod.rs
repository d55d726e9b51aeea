//! Everything that talks to AWS: one adapter per service, SDK configuration, error
//! classification, and the operator that carries out plan steps. No other module imports an
//! SDK crate.

mod ec2;
mod error;

pub use ec2::Ec2;
pub use error::AwsError;

use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::apply::{Operator, Progress, Resolved, Step, StepKind};
use crate::model::{ObservedResource, Spec, TAG_SPEC};

/// Where and as whom to talk to AWS; unset fields fall back to the standard AWS chain
/// (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ~/.aws/config).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "no AWS region is configured\n  help: set `region:` in the environment file, pass --region, or set AWS_REGION"
)]
pub struct NoRegion;

/// The service clients for one region.
#[derive(Debug, Clone)]
pub struct Aws {
    pub ec2: Ec2,
}

impl Aws {
    pub async fn connect(settings: &Settings) -> Result<Self, NoRegion> {
        let config = load_config(settings).await;
        if config.region().is_none() {
            return Err(NoRegion);
        }
        Ok(Self {
            ec2: Ec2::new(&config),
        })
    }

    /// Everything tagged as part of `environment`.
    pub async fn discover(&self, environment: &str) -> Result<Vec<ObservedResource>, AwsError> {
        self.ec2.discover(environment).await
    }
}

async fn load_config(settings: &Settings) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(endpoint) = &settings.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

/// Carries out plan steps for one environment.
pub struct Provider<'a> {
    pub aws: &'a Aws,
    pub environment: &'a str,
}

impl Operator for Provider<'_> {
    type Error = AwsError;

    async fn execute<'a>(
        &'a self,
        step: &'a Step<'a>,
        resolved: Resolved,
        progress: Progress<'a>,
    ) -> Result<Option<String>, AwsError> {
        match step.kind {
            StepKind::Create => {
                let desired = step
                    .change
                    .desired
                    .as_ref()
                    .expect("a create has a desired spec");
                self.create(step, &desired.spec, &desired.tags, &resolved, progress)
                    .await
                    .map(Some)
            }
            StepKind::Update => self.update(step, &resolved).await.map(|()| None),
            StepKind::Delete => {
                let observed = step
                    .change
                    .observed
                    .as_ref()
                    .expect("a delete has an observed resource");
                self.delete(observed, &resolved, progress)
                    .await
                    .map(|()| None)
            }
        }
    }
}

impl Provider<'_> {
    async fn create(
        &self,
        step: &Step<'_>,
        spec: &Spec,
        tags: &crate::model::Tags,
        resolved: &Resolved,
        progress: Progress<'_>,
    ) -> Result<String, AwsError> {
        let ec2 = &self.aws.ec2;
        match spec {
            Spec::Vpc(s) => ec2.create_vpc(s, tags).await,
            Spec::Subnet(s) => ec2.create_subnet(s, tags, resolved).await,
            Spec::InternetGateway(s) => ec2.create_internet_gateway(s, tags, resolved).await,
            Spec::ElasticIp(_) => ec2.allocate_address(tags).await,
            Spec::NatGateway(s) => {
                ec2.create_nat_gateway(s, tags, &self.client_token(step, tags), resolved, progress)
                    .await
            }
            Spec::RouteTable(s) => ec2.create_route_table(s, tags, resolved).await,
            Spec::SecurityGroup(s) => ec2.create_security_group(s, tags, resolved).await,
            Spec::SecurityGroupRules(s) => {
                let group = resolved.physical(&s.group)?;
                ec2.sync_rules(&group, s, resolved).await?;
                Ok(group)
            }
        }
    }

    /// Updates change only what AWS can change in place; the planner turned everything else
    /// into a replacement.
    async fn update(&self, step: &Step<'_>, resolved: &Resolved) -> Result<(), AwsError> {
        let ec2 = &self.aws.ec2;
        let desired = step
            .change
            .desired
            .as_ref()
            .expect("an update has a desired spec");
        let observed = step
            .change
            .observed
            .as_ref()
            .expect("an update has an observed resource");
        let physical = &observed.physical_id;
        match &desired.spec {
            Spec::Vpc(s) => ec2.set_vpc_dns(physical, s).await?,
            Spec::InternetGateway(s) => {
                let current = ec2.internet_gateway_vpc(physical).await?;
                ec2.attach_internet_gateway(physical, current.as_deref(), s, resolved)
                    .await?;
            }
            Spec::RouteTable(s) => ec2.sync_route_table(physical, s, resolved).await?,
            Spec::SecurityGroupRules(s) => ec2.sync_rules(physical, s, resolved).await?,
            Spec::Subnet(_) | Spec::ElasticIp(_) | Spec::NatGateway(_) | Spec::SecurityGroup(_) => {
            }
        }
        if desired.spec.kind().has_tags() {
            ec2.sync_tags(physical, &desired.tags, &observed.tags)
                .await?;
        }
        Ok(())
    }

    async fn delete(
        &self,
        observed: &ObservedResource,
        resolved: &Resolved,
        progress: Progress<'_>,
    ) -> Result<(), AwsError> {
        let ec2 = &self.aws.ec2;
        let physical = &observed.physical_id;
        match &observed.spec {
            Spec::Vpc(_) => ec2.delete_vpc(physical, progress).await,
            Spec::Subnet(_) => ec2.delete_subnet(physical, progress).await,
            Spec::InternetGateway(_) => ec2.delete_internet_gateway(physical, progress).await,
            Spec::ElasticIp(_) => ec2.release_address(physical, progress).await,
            Spec::NatGateway(_) => ec2.delete_nat_gateway(physical, progress).await,
            Spec::RouteTable(_) => ec2.delete_route_table(physical, progress).await,
            Spec::SecurityGroup(_) => ec2.delete_security_group(physical, progress).await,
            Spec::SecurityGroupRules(_) => ec2.revoke_all_rules(physical, resolved).await,
        }
    }

    /// Same environment, resource and spec: same token, so a retried create on real AWS
    /// returns the resource the first attempt made instead of a second one.
    fn client_token(&self, step: &Step<'_>, tags: &crate::model::Tags) -> String {
        let hash = tags.get(TAG_SPEC).map_or("", String::as_str);
        let mut token = format!("{}-{}-{hash}", self.environment, step.id);
        token.truncate(64);
        token
    }
}
