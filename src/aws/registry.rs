//! Every resource kind deployer manages, one line each. Adding a kind is: its spec (in
//! `model`), its file (beside its service's SDK calls, implementing `Resource`), and its line
//! here. The match below is exhaustive: a kind without a line does not compile.

use futures::future::{LocalBoxFuture, try_join_all};

use super::error::AwsError;
use super::found::Found;
use super::resource::{Create, Delete, Read, Resource, Update, client_token};
use super::status::{Health, Revision};
use super::wait::Timeouts;
use super::{Aws, app_scaling, asg, cloudwatch, ec2, ecr, ecs, elb, elbv2, iam, logs, rds, s3, sns};
use crate::apply::{Progress, Resolved, Step, StepKind};
use crate::model::{Kind, ObservedResource, Outputs, Spec, Variant};

macro_rules! registry {
    (|$aws:ident| { $( $kind:ident => $resource:expr, )* }) => {
        /// Everything tagged for `environment`, every kind at once.
        pub(super) async fn discover_all($aws: &Aws, environment: &str) -> Result<Vec<Found>, AwsError> {
            let searches: Vec<LocalBoxFuture<'_, Result<Vec<Found>, AwsError>>> = vec![
                $( Box::pin(async move { $resource.discover(environment).await }), )*
            ];
            Ok(try_join_all(searches).await?.into_iter().flatten().collect())
        }

        /// Everything of one kind tagged for `environment` (what `push` reads: the repository
        /// alone, so a role that may only push needs no other read).
        pub(super) async fn discover_kind($aws: &Aws, environment: &str, kind: Kind) -> Result<Vec<Found>, AwsError> {
            match kind {
                $( Kind::$kind => $resource.discover(environment).await, )*
            }
        }

        /// The environment's outputs, each kind adding its part.
        pub(super) fn outputs($aws: &Aws, environment: &str, observed: &[ObservedResource]) -> Outputs {
            let mut outputs = Outputs::new(environment, &$aws.region);
            let sorted = by_id(observed);
            for resource in sorted {
                match resource.spec.kind() {
                    $( Kind::$kind => {
                        let kind = $resource;
                        if let Some(read) = read_of(&kind, resource, observed) {
                            kind.outputs(&read, &mut outputs);
                        }
                    } )*
                }
            }
            outputs.finish()
        }

        /// What every deployed resource says about how the environment runs, in the order of
        /// their logical ids; all asked at once.
        pub(super) async fn health(
            $aws: &Aws,
            observed: &[ObservedResource],
        ) -> Result<Vec<Health>, AwsError> {
            let sorted = by_id(observed);
            let reads: Vec<LocalBoxFuture<'_, Result<Option<Health>, AwsError>>> = sorted
                .into_iter()
                .map(|resource| -> LocalBoxFuture<'_, Result<Option<Health>, AwsError>> {
                    match resource.spec.kind() {
                        $( Kind::$kind => Box::pin(async move {
                            let kind = $resource;
                            match read_of(&kind, resource, observed) {
                                Some(read) => kind.health(&read).await,
                                None => Ok(None),
                            }
                        }), )*
                    }
                })
                .collect();
            Ok(try_join_all(reads).await?.into_iter().flatten().collect())
        }

        /// The revisions of what runs the API: the first kind (by logical id) that has any.
        pub(super) async fn revisions(
            $aws: &Aws,
            observed: &[ObservedResource],
        ) -> Result<Option<Vec<Revision>>, AwsError> {
            let sorted = by_id(observed);
            for resource in sorted {
                let revisions = match resource.spec.kind() {
                    $( Kind::$kind => {
                        let kind = $resource;
                        match read_of(&kind, resource, observed) {
                            Some(read) => kind.revisions(&read).await?,
                            None => None,
                        }
                    } )*
                };
                if revisions.is_some() {
                    return Ok(revisions);
                }
            }
            Ok(None)
        }

        /// Carries out one step through the implementation of the kind it concerns.
        pub(super) async fn execute(
            $aws: &Aws,
            timeouts: &Timeouts,
            step: &Step<'_>,
            (resolved, progress): (&Resolved, Progress<'_>),
        ) -> Result<Option<String>, AwsError> {
            let kind = step_kind(step);
            match kind {
                $( Kind::$kind => {
                    let resource = $resource;
                    let timeout = timeouts.for_kind(kind, timeout_of(&resource));
                    run(&resource, step, resolved, (progress, timeout)).await
                } )*
            }
        }
    };
}

registry!(|aws| {
    Vpc => ec2::Vpcs(&aws.ec2),
    Subnet => ec2::Subnets(&aws.ec2),
    InternetGateway => ec2::InternetGateways(&aws.ec2),
    ElasticIp => ec2::ElasticIps(&aws.ec2),
    NatGateway => ec2::NatGateways(&aws.ec2),
    RouteTable => ec2::RouteTables(&aws.ec2),
    SecurityGroup => ec2::SecurityGroups(&aws.ec2),
    SecurityGroupRules => ec2::SecurityGroupRules(&aws.ec2),
    LaunchTemplate => ec2::LaunchTemplates(&aws.ec2),
    ClassicLoadBalancer => elb::ClassicLoadBalancers(&aws.elb),
    LoadBalancer => elbv2::LoadBalancers(&aws.elbv2),
    TargetGroup => elbv2::TargetGroups(&aws.elbv2),
    Listener => elbv2::Listeners(&aws.elbv2),
    EcrRepository => ecr::Repositories(&aws.ecr),
    LogGroup => logs::LogGroups(&aws.logs),
    LogBucket => s3::LogBuckets(&aws.s3),
    IamRole => iam::Roles(&aws.iam),
    InstanceProfile => iam::InstanceProfiles(&aws.iam),
    IamOidcProvider => iam::OidcProviders(&aws.iam),
    IamPolicy => iam::ManagedPolicies(&aws.iam),
    AutoScalingGroup => asg::AutoScalingGroups(&aws.asg),
    GroupScaling => asg::GroupScalings(&aws.asg),
    EcsCluster => ecs::Clusters(&aws.ecs),
    TaskDefinition => ecs::TaskDefinitions(&aws.ecs),
    EcsService => ecs::Services(&aws.ecs, &aws.logs),
    ServiceScaling => app_scaling::ServiceScalings(&aws.scaling),
    DbSubnetGroup => rds::SubnetGroups(&aws.rds),
    DbCluster => rds::Clusters(&aws.rds),
    DbInstance => rds::Instances(&aws.rds),
    AlarmTopic => sns::AlarmTopics(&aws.sns),
    Alarm => cloudwatch::Alarms(&aws.cloudwatch),
});

/// A delete concerns what exists; a create or an update, what is wanted. (They differ when a
/// logical id changes kind, which the planner turns into a delete and a create.)
fn step_kind(step: &Step<'_>) -> Kind {
    let spec = match step.kind {
        StepKind::Delete => step.change.observed.as_ref().map(|o| &o.spec),
        StepKind::Create | StepKind::Update => step.change.desired.as_ref().map(|d| &d.spec),
    };
    spec.expect("the planner gives every step the spec it acts on").kind()
}

/// The read abilities ask kinds in the order of logical ids, so their answers do not depend
/// on the order discovery found things in.
fn by_id(observed: &[ObservedResource]) -> Vec<&ObservedResource> {
    let mut sorted: Vec<&ObservedResource> = observed.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    sorted
}

/// A resource read as its kind's spec (always there: the dispatch matched its kind).
fn read_of<'a, R: Resource>(
    _: &R,
    resource: &'a ObservedResource,
    observed: &'a [ObservedResource],
) -> Option<Read<'a, R::Spec>> {
    Some(Read {
        spec: R::Spec::of(&resource.spec)?,
        resource,
        observed,
    })
}

/// The kind's own timeout: read through a value, as the registry holds values, not types.
fn timeout_of<R: Resource>(_: &R) -> std::time::Duration {
    R::TIMEOUT
}

async fn run<R: Resource>(
    resource: &R,
    step: &Step<'_>,
    resolved: &Resolved,
    (progress, timeout): (Progress<'_>, std::time::Duration),
) -> Result<Option<String>, AwsError> {
    let change = step.change;
    match step.kind {
        StepKind::Create => {
            let desired = change.desired.as_ref().expect("a create has a desired spec");
            let request = Create {
                spec: spec_of::<R::Spec>(step, &desired.spec)?,
                tags: &desired.tags,
                resolved,
                progress,
                client_token: client_token(),
                timeout,
            };
            resource.create(request).await.map(Some)
        }
        StepKind::Update => {
            let desired = change.desired.as_ref().expect("an update has a desired spec");
            let observed = change.observed.as_ref().expect("an update has an observed resource");
            let request = Update::new(
                &observed.physical_id,
                (
                    spec_of::<R::Spec>(step, &desired.spec)?,
                    spec_of::<R::Spec>(step, &observed.spec)?,
                ),
                (&desired.tags, &observed.tags),
                &observed.info,
                change.changed.clone(),
                (resolved, progress, timeout),
            );
            resource.update(request).await.map(|()| None)
        }
        StepKind::Delete => {
            let observed = change.observed.as_ref().expect("a delete has an observed resource");
            let request = Delete {
                physical_id: &observed.physical_id,
                observed: spec_of::<R::Spec>(step, &observed.spec)?,
                tags: &observed.tags,
                resolved,
                progress,
                timeout,
            };
            resource.delete(request).await.map(|()| None)
        }
    }
}

/// The kind's own spec inside `spec`; the dispatch above guarantees it is there.
fn spec_of<'s, S: Variant>(step: &Step<'_>, spec: &'s Spec) -> Result<&'s S, AwsError> {
    S::of(spec).ok_or_else(|| AwsError::Other {
        operation: "dispatch",
        detail: format!("internal error: {} is not a {}", step.id, S::KIND),
    })
}
