//! The compute that runs the API: an ECS service with its task definition and scaling, or an
//! Auto Scaling group of EC2 instances from a launch template; the log group it writes to.

use std::collections::BTreeSet;

use super::super::templates::{AppTemplateInput, container_definitions, user_data};
use super::iam::*;
use super::*;
use crate::config::{ComputeKind, LoadBalancerKind};

pub(super) fn add_compute(
    config: &EnvironmentConfig,
    facts: &Facts,
    zone_count: usize,
    add: &mut impl FnMut(String, Spec),
) -> Result<(), ModelError> {
    let name = &config.name;
    let compute = &config.compute;
    let token = &config.app.auth.token_from;
    let scope = Scope::new(config, facts);
    let image = config
        .app
        .image
        .as_deref()
        .or(facts.pushed_image.as_deref())
        .ok_or_else(|| ModelError::NothingPushed {
            environment: name.clone(),
            repository: names::repository(name),
        })?;
    // The one check every image passes, whatever supplied it (the file, --image, a rollback
    // hold, a saved plan, the last push): nothing unparsed reaches user data or a task definition.
    crate::config::check_image(image).map_err(|message| ModelError::Image { message })?;
    let vpc_cidr = config.network.cidr.to_string();
    let input = AppTemplateInput {
        environment: name,
        vpc_cidr: &vpc_cidr,
        region: &facts.region,
        image,
        port: config.app.port,
        metrics_port: config.app.metrics_port,
        token,
        token_arn: &scope.token_arn,
        container_name: CONTAINER_NAME,
        log_group: &names::log_group(name),
    };
    let classic = config.load_balancer.kind == LoadBalancerKind::Elb;
    match compute.kind {
        ComputeKind::Ec2 => {
            let image_id = match (&compute.ami, &facts.default_image_id) {
                (Some(ami), _) | (None, Some(ami)) => ami.clone(),
                (None, None) => {
                    return Err(ModelError::NoImage {
                        region: facts.region.clone(),
                    });
                }
            };
            add(
                "instance-role".into(),
                role(
                    config,
                    facts,
                    "instance",
                    "ec2.amazonaws.com",
                    instance_policy(config, facts, token, &scope),
                ),
            );
            add(
                "instance-profile".into(),
                Spec::InstanceProfile(InstanceProfileSpec {
                    name: names::iam(name, &facts.region, "instance"),
                    path: names::iam_path(name, &facts.region),
                    role: Ref::to("instance-role"),
                }),
            );
            let template = LaunchTemplateSpec {
                name: names::app(name),
                image_id,
                instance_type: compute.instance_type().to_owned(),
                security_groups: group("app"),
                instance_profile: Ref::to("instance-profile"),
                image: image.to_owned(),
                user_data: user_data(&input)?,
                log_group: Ref::to("log-group"),
                root_volume: Some(RootVolume {
                    device: ROOT_DEVICE.into(),
                    size_gb: compute.root_volume_gb(),
                    volume_type: "gp3".into(),
                    encrypted: true,
                }),
            };
            let template_version = crate::model::spec_hash(&Spec::LaunchTemplate(template.clone()));
            add("launch-template".into(), Spec::LaunchTemplate(template));
            let (target_groups, classic_load_balancers) = if classic {
                (BTreeSet::new(), BTreeSet::from([Ref::to("load-balancer")]))
            } else {
                (BTreeSet::from([Ref::to("target-group")]), BTreeSet::new())
            };
            add(
                "auto-scaling-group".into(),
                Spec::AutoScalingGroup(AutoScalingGroupSpec {
                    name: names::app(name),
                    launch_template: Ref::to("launch-template"),
                    template_version,
                    min: compute.min(),
                    max: compute.max,
                    desired: compute.desired,
                    scaled: compute.scales(),
                    subnets: subnets("private", zone_count),
                    target_groups,
                    classic_load_balancers,
                    health_check_grace_seconds: INSTANCE_GRACE_SECONDS,
                }),
            );
            if compute.scales() {
                add(
                    "group-scaling".into(),
                    Spec::GroupScaling(GroupScalingSpec {
                        group_name: names::app(name),
                        group: Ref::to("auto-scaling-group"),
                        policies: scaling_policies(config),
                    }),
                );
            }
        }
        ComputeKind::Ecs => {
            add(
                "execution-role".into(),
                role(
                    config,
                    facts,
                    "execution",
                    "ecs-tasks.amazonaws.com",
                    execution_policy(token, &scope),
                ),
            );
            add(
                "task-role".into(),
                role(
                    config,
                    facts,
                    "task",
                    "ecs-tasks.amazonaws.com",
                    task_policy(config, facts),
                ),
            );
            add(
                "ecs-cluster".into(),
                Spec::EcsCluster(EcsClusterSpec { name: name.clone() }),
            );
            let container_definitions = container_definitions(&input)?;
            add(
                "task-definition".into(),
                Spec::TaskDefinition(TaskDefinitionSpec {
                    family: names::task_family(name),
                    image: image.to_owned(),
                    cpu: compute.cpu(),
                    memory: compute.memory(),
                    architecture: compute.architecture.ecs().to_owned(),
                    execution_role: Ref::to("execution-role"),
                    task_role: Ref::to("task-role"),
                    digest: crate::model::tags::content_digest(&container_definitions),
                    container_definitions,
                    log_group: Ref::to("log-group"),
                }),
            );
            add(
                "ecs-service".into(),
                Spec::EcsService(EcsServiceSpec {
                    name: "api".into(),
                    cluster: Ref::to("ecs-cluster"),
                    task_definition: Ref::to("task-definition"),
                    desired: compute.desired,
                    scaled: compute.scales(),
                    subnets: subnets("private", zone_count),
                    security_groups: group("app"),
                    target_group: (!classic).then(|| Ref::to("target-group")),
                    classic_load_balancer: classic.then(|| Ref::to("load-balancer")),
                    container_name: CONTAINER_NAME.into(),
                    container_port: config.app.port,
                    health_check_grace_seconds: Some(TASK_GRACE_SECONDS),
                }),
            );
            if compute.scales() {
                add(
                    "service-scaling".into(),
                    Spec::ServiceScaling(ServiceScalingSpec {
                        resource_id: names::scalable_service(name),
                        service: Ref::to("ecs-service"),
                        min: compute.min(),
                        max: compute.max,
                        policies: scaling_policies(config),
                    }),
                );
            }
        }
    }
    Ok(())
}

/// CPU always; requests per target where an ALB counts them per target group.
fn scaling_policies(config: &EnvironmentConfig) -> ScalingPolicies {
    let scaling = &config.compute.scaling;
    let requests = (config.load_balancer.kind == LoadBalancerKind::Alb).then(|| RequestScaling {
        per_target: scaling.requests_per_target,
        load_balancer: Ref::to("load-balancer"),
        target_group: Ref::to("target-group"),
    });
    ScalingPolicies {
        cpu_percent: scaling.cpu_percent,
        requests,
    }
}
