//! Everything that talks to AWS: one adapter per service, SDK configuration, error
//! classification, and the operator that carries out plan steps. No other module imports an
//! SDK crate.

mod asg;
mod ec2;
mod ecs;
mod elb;
mod elbv2;
mod error;
mod found;
mod iam;
mod rds;
mod retry;
mod sts;

pub use asg::Asg;
pub use ec2::Ec2;
pub use ecs::Ecs;
pub use elb::Elb;
pub use elbv2::Elbv2;
pub use error::AwsError;
pub use iam::Iam;
pub use rds::Rds;
pub use sts::Sts;

use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::apply::{Operator, Progress, Resolved, Step, StepKind};
use crate::model::{Facts, ObservedResource, Spec, TAG_SPEC, Tags};

/// Tag keys on a resource that deployer should remove: present now, not wanted, and not owned
/// by AWS (`aws:` tags cannot be removed, and AWS refuses the whole call if asked to).
pub(crate) fn stale_tag_keys<'a>(wanted: &Tags, current: &'a Tags) -> Vec<&'a String> {
    current
        .keys()
        .filter(|k| !wanted.contains_key(*k) && !k.starts_with("aws:"))
        .collect()
}

/// Where and as whom to talk to AWS; unset fields fall back to the standard AWS chain
/// (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ~/.aws/config).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("no AWS region is configured\n  help: set `region:` in the environment file, pass --region, or set AWS_REGION")]
pub struct NoRegion;

/// The service clients for one region.
#[derive(Debug, Clone)]
pub struct Aws {
    pub region: String,
    pub ec2: Ec2,
    pub elb: Elb,
    pub elbv2: Elbv2,
    pub iam: Iam,
    pub asg: Asg,
    pub ecs: Ecs,
    pub rds: Rds,
    pub sts: Sts,
}

impl Aws {
    pub async fn connect(settings: &Settings) -> Result<Self, NoRegion> {
        let config = load_config(settings).await;
        let Some(region) = config.region() else {
            return Err(NoRegion);
        };
        Ok(Self {
            region: region.to_string(),
            ec2: Ec2::new(&config),
            elb: Elb::new(&config),
            elbv2: Elbv2::new(&config),
            iam: Iam::new(&config),
            asg: Asg::new(&config),
            ecs: Ecs::new(&config),
            rds: Rds::new(&config),
            sts: Sts::new(&config),
        })
    }

    /// Everything tagged as part of `environment`, across services, all at once.
    pub async fn discover(&self, environment: &str) -> Result<Vec<ObservedResource>, AwsError> {
        let (ec2, elb, elbv2, iam, asg, ecs, rds) = tokio::try_join!(
            self.ec2.discover(environment),
            self.elb.discover(),
            self.elbv2.discover(environment),
            self.iam.discover(environment),
            self.asg.discover(environment),
            self.ecs.discover(environment),
            self.rds.discover(environment),
        )?;
        let found = [ec2, elb, elbv2, iam, asg, ecs, rds].into_iter().flatten().collect();
        Ok(found::resolve(found, environment))
    }

    /// What the model needs to know about the account and region.
    pub async fn facts(&self, needs_default_image: bool) -> Result<Facts, AwsError> {
        let image = async {
            if needs_default_image {
                self.ec2.latest_amazon_linux().await
            } else {
                Ok(None)
            }
        };
        let (availability_zones, account_id, default_image_id) =
            tokio::try_join!(self.ec2.availability_zones(), self.sts.account_id(), image)?;
        Ok(Facts {
            availability_zones,
            region: self.region.clone(),
            account_id,
            default_image_id,
        })
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
                let desired = step.change.desired.as_ref().expect("a create has a desired spec");
                self.create(step, &desired.spec, &desired.tags, &resolved, progress)
                    .await
                    .map(Some)
            }
            StepKind::Update => self.update(step, &resolved, progress).await.map(|()| None),
            StepKind::Delete => {
                let observed = step
                    .change
                    .observed
                    .as_ref()
                    .expect("a delete has an observed resource");
                self.delete(observed, &resolved, progress).await.map(|()| None)
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
            Spec::ClassicLoadBalancer(s) => self.aws.elb.create(s, tags, resolved).await,
            Spec::LoadBalancer(s) => self.aws.elbv2.create_load_balancer(s, tags, resolved, progress).await,
            Spec::TargetGroup(s) => self.aws.elbv2.create_target_group(s, tags, resolved).await,
            Spec::Listener(s) => self.aws.elbv2.create_listener(s, tags, resolved).await,
            Spec::IamRole(s) => self.aws.iam.create_role(s, tags).await,
            Spec::InstanceProfile(s) => self.aws.iam.create_instance_profile(s, tags, resolved).await,
            Spec::LaunchTemplate(s) => ec2.create_launch_template(s, tags, resolved).await,
            Spec::AutoScalingGroup(s) => self.aws.asg.create(s, tags, resolved, progress).await,
            Spec::EcsCluster(s) => self.aws.ecs.create_cluster(s, tags).await,
            Spec::TaskDefinition(s) => self.aws.ecs.register_task_definition(s, tags, resolved).await,
            Spec::EcsService(s) => self.aws.ecs.create_service(s, tags, resolved, progress).await,
            Spec::DbSubnetGroup(s) => self.aws.rds.create_subnet_group(s, tags, resolved).await,
            Spec::DbCluster(s) => self.aws.rds.create_cluster(s, tags, resolved, progress).await,
            Spec::DbInstance(s) => self.aws.rds.create_instance(s, tags, resolved, progress).await,
        }
    }

    /// Updates change only what AWS can change in place; the planner turned everything else
    /// into a replacement. Each adapter also brings the resource's tags up to date.
    async fn update(&self, step: &Step<'_>, resolved: &Resolved, progress: Progress<'_>) -> Result<(), AwsError> {
        let ec2 = &self.aws.ec2;
        let desired = step.change.desired.as_ref().expect("an update has a desired spec");
        let observed = step
            .change
            .observed
            .as_ref()
            .expect("an update has an observed resource");
        let physical = &observed.physical_id;
        let (tags, current) = (&desired.tags, &observed.tags);
        match (&desired.spec, &observed.spec) {
            (Spec::Vpc(s), _) => ec2.set_vpc_dns(physical, s).await?,
            (Spec::InternetGateway(s), _) => {
                let attached = ec2.internet_gateway_vpc(physical).await?;
                ec2.attach_internet_gateway(physical, attached.as_deref(), s, resolved)
                    .await?;
            }
            (Spec::RouteTable(s), _) => ec2.sync_route_table(physical, s, resolved).await?,
            (Spec::SecurityGroupRules(s), _) => ec2.sync_rules(physical, s, resolved).await?,
            (Spec::LaunchTemplate(s), _) => ec2.update_launch_template(physical, s, tags, resolved).await?,
            (Spec::ClassicLoadBalancer(s), Spec::ClassicLoadBalancer(o)) => {
                return self.aws.elb.update(s, o, tags, current, resolved).await;
            }
            (Spec::LoadBalancer(s), _) => {
                self.aws.elbv2.update_load_balancer(physical, s, resolved).await?;
                return self.aws.elbv2.sync_tags(physical, tags, current).await;
            }
            (Spec::TargetGroup(s), _) => {
                self.aws.elbv2.update_target_group(physical, s).await?;
                return self.aws.elbv2.sync_tags(physical, tags, current).await;
            }
            (Spec::Listener(s), _) => {
                self.aws.elbv2.update_listener(physical, s, resolved).await?;
                return self.aws.elbv2.sync_tags(physical, tags, current).await;
            }
            (Spec::IamRole(s), Spec::IamRole(o)) => return self.aws.iam.update_role(s, o, tags, current).await,
            (Spec::InstanceProfile(s), Spec::InstanceProfile(o)) => {
                return self.aws.iam.update_instance_profile(s, o, resolved).await;
            }
            (Spec::AutoScalingGroup(s), Spec::AutoScalingGroup(o)) => {
                return self.aws.asg.update(s, o, tags, current, resolved, progress).await;
            }
            (Spec::EcsService(s), _) => {
                return self
                    .aws
                    .ecs
                    .update_service(physical, s, tags, current, resolved, progress)
                    .await;
            }
            (Spec::DbSubnetGroup(s), _) => return self.aws.rds.update_subnet_group(s, resolved).await,
            (Spec::DbCluster(s), _) => return self.aws.rds.update_cluster(s, tags, current, resolved, progress).await,
            (Spec::DbInstance(s), _) => return self.aws.rds.update_instance(s, tags, current).await,
            _ => {}
        }
        if desired.spec.kind().has_tags() {
            ec2.sync_tags(physical, tags, current).await?;
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
            Spec::ClassicLoadBalancer(_) => self.aws.elb.delete(physical, progress).await,
            Spec::LoadBalancer(_) => self.aws.elbv2.delete_load_balancer(physical, progress).await,
            Spec::TargetGroup(_) => self.aws.elbv2.delete_target_group(physical, progress).await,
            Spec::Listener(_) => self.aws.elbv2.delete_listener(physical).await,
            Spec::IamRole(s) => self.aws.iam.delete_role(&s.name).await,
            Spec::InstanceProfile(s) => self.aws.iam.delete_instance_profile(&s.name).await,
            Spec::LaunchTemplate(_) => ec2.delete_launch_template(physical).await,
            Spec::AutoScalingGroup(_) => self.aws.asg.delete(physical, progress).await,
            Spec::EcsCluster(_) => self.aws.ecs.delete_cluster(physical, progress).await,
            Spec::TaskDefinition(_) => self.aws.ecs.deregister_task_definition(physical).await,
            Spec::EcsService(s) => {
                self.aws
                    .ecs
                    .delete_service(physical, &resolved.physical(&s.cluster)?, progress)
                    .await
            }
            Spec::DbSubnetGroup(_) => self.aws.rds.delete_subnet_group(physical, progress).await,
            Spec::DbCluster(s) => self.aws.rds.delete_cluster(physical, s, &observed.tags, progress).await,
            Spec::DbInstance(_) => self.aws.rds.delete_instance(physical, progress).await,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_tags_leave_aws_owned_ones_alone() {
        let tags = |pairs: &[(&str, &str)]| -> Tags { pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect() };
        let wanted = tags(&[("Name", "x"), ("team", "a")]);
        let current = tags(&[("Name", "x"), ("old", "1"), ("aws:cloudformation:stack-id", "s")]);
        assert_eq!(stale_tag_keys(&wanted, &current), ["old"]);
    }
}
