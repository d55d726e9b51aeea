//! What each kind bills, read from its spec: the model prices itself. A kind not named here
//! bills nothing of its own (VPCs, subnets, route tables, security groups, target groups,
//! listeners, roles, the ECS cluster, task definitions, the SNS topic, whose first thousand
//! email notifications a month are free). Scaling bills the alarms AWS makes for it.

use std::collections::BTreeMap;

use super::Quantity;
use crate::config::UsageConfig;
use crate::model::{AlarmMetric, Id, Kind, Ref, Spec};

/// One billable dimension of one resource: the price's key, what it is, how much.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Billed {
    pub(super) dimension: String,
    pub(super) what: &'static str,
    pub(super) quantity: Quantity,
}

/// The kinds that bill, and the dimensions each may use (`{size}` is its instance size):
/// what the price file must price for every environment to be estimated.
pub const BILLING_KINDS: &[(Kind, &[&str])] = &[
    (Kind::NatGateway, &["nat-gateway-hour", "nat-gateway-gb"]),
    (Kind::ElasticIp, &["public-ipv4-hour"]),
    (Kind::LoadBalancer, &["alb-hour", "alb-lcu-hour", "public-ipv4-hour"]),
    (Kind::ClassicLoadBalancer, &["elb-hour", "elb-gb", "public-ipv4-hour"]),
    (
        Kind::EcsService,
        &[
            "fargate-x86-vcpu-hour",
            "fargate-x86-gb-hour",
            "fargate-arm-vcpu-hour",
            "fargate-arm-gb-hour",
        ],
    ),
    (
        Kind::AutoScalingGroup,
        &["ec2-instance-hour/{size}", "ebs-gp3-gb-month"],
    ),
    (Kind::DbInstance, &["aurora-instance-hour/{size}"]),
    (Kind::DbCluster, &["aurora-storage-gb-month", "aurora-io-million"]),
    (
        Kind::Alarm,
        &[
            "cloudwatch-alarm-metric-month",
            "cloudwatch-alarm-high-resolution-metric-month",
        ],
    ),
    (Kind::ServiceScaling, &["cloudwatch-alarm-metric-month"]),
    (Kind::GroupScaling, &["cloudwatch-alarm-metric-month"]),
    (Kind::LogGroup, &["logs-ingest-gb", "logs-storage-gb-month"]),
    (Kind::EcrRepository, &["ecr-storage-gb-month"]),
    (Kind::LogBucket, &["s3-standard-gb-month"]),
];

fn fixed(dimension: impl Into<String>, what: &'static str, min: f64, max: f64) -> Billed {
    Billed {
        dimension: dimension.into(),
        what,
        quantity: Quantity::Fixed { min, max },
    }
}

/// `given` is a monthly quantity; `scale` turns it into the price's unit (an average number
/// of LCUs into LCU-hours).
fn by_use(dimension: &str, what: &'static str, field: &'static str, given: Option<f64>, scale: f64) -> Billed {
    Billed {
        dimension: dimension.to_owned(),
        what,
        quantity: Quantity::Usage {
            field,
            given: given.map(|g| g * scale),
        },
    }
}

/// A load balancer's hours (its `hour` dimension), what it bills by use, and a public IPv4
/// address in each of its `zones`.
fn load_balancer(hour: &str, by_use: Billed, zones: usize, hours: f64) -> Vec<Billed> {
    let zones = zones as f64;
    vec![
        fixed(hour, "load balancer hours", hours, hours),
        by_use,
        fixed(
            "public-ipv4-hour",
            "public IPv4 address hours (one per zone)",
            zones * hours,
            zones * hours,
        ),
    ]
}

/// What `spec` bills in a month of `hours`; `all` holds the specs it points at (a service's
/// task definition and scaling, a group's launch template).
pub(super) fn billed(id: &Id, spec: &Spec, all: &BTreeMap<&Id, &Spec>, usage: &UsageConfig, hours: f64) -> Vec<Billed> {
    let target = |reference: &Ref| match reference {
        Ref::Managed(target) => all.get(target).copied(),
        Ref::External(_) => None,
    };
    let scaled_by = |id: &Id| {
        all.values().find_map(|spec| match spec {
            Spec::ServiceScaling(scaling) if scaling.service == Ref::Managed(id.clone()) => {
                Some((f64::from(scaling.min), f64::from(scaling.max)))
            }
            _ => None,
        })
    };
    match spec {
        Spec::NatGateway(_) => vec![
            fixed("nat-gateway-hour", "NAT gateway hours", hours, hours),
            by_use(
                "nat-gateway-gb",
                "data processed",
                "nat_gb_processed",
                usage.nat_gb_processed,
                1.0,
            ),
        ],
        Spec::ElasticIp(_) => vec![fixed("public-ipv4-hour", "public IPv4 address hours", hours, hours)],
        // An internet-facing load balancer has a public IPv4 address in each of its zones.
        Spec::LoadBalancer(lb) => load_balancer(
            "alb-hour",
            by_use(
                "alb-lcu-hour",
                "capacity units (LCU-hours)",
                "load_balancer_lcus",
                usage.load_balancer_lcus,
                hours,
            ),
            lb.subnets.len(),
            hours,
        ),
        Spec::ClassicLoadBalancer(lb) => load_balancer(
            "elb-hour",
            by_use(
                "elb-gb",
                "data processed",
                "load_balancer_gb",
                usage.load_balancer_gb,
                1.0,
            ),
            lb.subnets.len(),
            hours,
        ),
        Spec::EcsService(service) => {
            let Some(Spec::TaskDefinition(task)) = target(&service.task_definition) else {
                return Vec::new();
            };
            let (min, max) = scaled_by(id).unwrap_or((f64::from(service.desired), f64::from(service.desired)));
            let architecture = if task.architecture == "ARM64" { "arm" } else { "x86" };
            let (vcpu, gb) = (f64::from(task.cpu) / 1024.0, f64::from(task.memory) / 1024.0);
            vec![
                fixed(
                    format!("fargate-{architecture}-vcpu-hour"),
                    "Fargate vCPU-hours (tasks × vCPU × hours)",
                    min * vcpu * hours,
                    max * vcpu * hours,
                ),
                fixed(
                    format!("fargate-{architecture}-gb-hour"),
                    "Fargate GB-hours (tasks × memory × hours)",
                    min * gb * hours,
                    max * gb * hours,
                ),
            ]
        }
        Spec::AutoScalingGroup(group) => {
            let Some(Spec::LaunchTemplate(template)) = target(&group.launch_template) else {
                return Vec::new();
            };
            let (min, max) = (f64::from(group.min), f64::from(group.max));
            let mut lines = vec![fixed(
                format!("ec2-instance-hour/{}", template.instance_type),
                "instance hours",
                min * hours,
                max * hours,
            )];
            if let Some(volume) = &template.root_volume {
                let size = f64::from(volume.size_gb);
                lines.push(fixed(
                    format!("ebs-{}-gb-month", volume.volume_type),
                    "root volumes (GB-months)",
                    min * size,
                    max * size,
                ));
            }
            lines
        }
        Spec::DbInstance(instance) => vec![fixed(
            format!("aurora-instance-hour/{}", instance.instance_class),
            "instance hours",
            hours,
            hours,
        )],
        Spec::DbCluster(_) => vec![
            by_use(
                "aurora-storage-gb-month",
                "storage (GB-months)",
                "database_storage_gb",
                usage.database_storage_gb,
                1.0,
            ),
            by_use(
                "aurora-io-million",
                "I/O requests (millions)",
                "database_io_millions",
                usage.database_io_millions,
                1.0,
            ),
        ],
        Spec::Alarm(alarm) => {
            let metrics = match &alarm.metric {
                AlarmMetric::Metric(_) => 1.0,
                AlarmMetric::Expression { metrics, .. } => metrics.len() as f64,
            };
            let dimension = if alarm.period_seconds < 60 {
                "cloudwatch-alarm-high-resolution-metric-month"
            } else {
                "cloudwatch-alarm-metric-month"
            };
            vec![fixed(dimension, "alarm metrics", metrics, metrics)]
        }
        // Target tracking: AWS makes two alarms (high and low) of one metric for each policy.
        Spec::ServiceScaling(scaling) => target_tracking_alarms(&scaling.policies),
        Spec::GroupScaling(scaling) => target_tracking_alarms(&scaling.policies),
        Spec::LogGroup(_) => vec![
            by_use(
                "logs-ingest-gb",
                "logs ingested (GB)",
                "log_ingest_gb",
                usage.log_ingest_gb,
                1.0,
            ),
            by_use(
                "logs-storage-gb-month",
                "logs kept (GB-months)",
                "log_storage_gb",
                usage.log_storage_gb,
                1.0,
            ),
        ],
        Spec::EcrRepository(_) => vec![by_use(
            "ecr-storage-gb-month",
            "images kept (GB-months)",
            "image_storage_gb",
            usage.image_storage_gb,
            1.0,
        )],
        Spec::LogBucket(_) => vec![by_use(
            "s3-standard-gb-month",
            "access logs kept (GB-months)",
            "access_log_storage_gb",
            usage.access_log_storage_gb,
            1.0,
        )],
        _ => Vec::new(),
    }
}

fn target_tracking_alarms(policies: &crate::model::ScalingPolicies) -> Vec<Billed> {
    let count = 1.0 + f64::from(u8::from(policies.requests.is_some()));
    vec![fixed(
        "cloudwatch-alarm-metric-month",
        "target tracking alarms (two per policy, made by AWS)",
        2.0 * count,
        2.0 * count,
    )]
}
