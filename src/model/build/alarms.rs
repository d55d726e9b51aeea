//! CloudWatch alarms on what users feel (load balancer errors and latency, unhealthy targets,
//! a classic ELB's queue) and on what runs out (compute and database CPU and memory), and the
//! optional SNS topic that mails them. Thresholds come from `alarms:` in the environment file.

use crate::config::{AlarmsConfig, ComputeKind, EnvironmentConfig, LoadBalancerKind};
use crate::model::{
    AlarmMetric, AlarmSpec, AlarmTopicSpec, DimensionValue, Facts, MetricRead, Ref, Spec, alarm_topic_name,
};

/// The alarm topic's access policy: the account manages the topic (SNS's default rights, less
/// `Publish`), and only CloudWatch publishes, for this environment's alarms (`<env>-…`) in this
/// account and region: `aws:SourceAccount` and `aws:SourceArn`, which CloudWatch sets when it
/// publishes an alarm's notification, keep another account's alarms from using it (the
/// confused deputy). SNS's default policy lets anyone in the account publish.
fn alarm_topic_policy(environment: &str, region: &str, account: &str) -> String {
    let topic = format!("arn:aws:sns:{region}:{account}:{}", alarm_topic_name(environment));
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountManagesTopic",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
                "Action": [
                    "sns:AddPermission",
                    "sns:DeleteTopic",
                    "sns:GetTopicAttributes",
                    "sns:ListSubscriptionsByTopic",
                    "sns:RemovePermission",
                    "sns:SetTopicAttributes",
                    "sns:Subscribe"
                ],
                "Resource": topic
            },
            {
                "Sid": "EnvironmentAlarmsPublish",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic,
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account},
                    // Each of the environment's alarms by name: `<env>-*` would let the alarms of
                    // an environment called `<env>-<x>` publish here too.
                    "ArnEquals": {"aws:SourceArn": super::names::alarms(environment)
                        .iter()
                        .map(|alarm| format!("arn:aws:cloudwatch:{region}:{account}:alarm:{alarm}"))
                        .collect::<Vec<_>>()}
                }
            }
        ]
    })
    .to_string()
}

/// The alarms `config` asks for, keyed by logical id, and the topic when it names an email.
pub(super) fn alarms(config: &EnvironmentConfig, facts: &Facts) -> Vec<(String, Spec)> {
    let Some(thresholds) = &config.alarms else {
        return Vec::new();
    };
    let mut resources = Vec::new();
    let notify = thresholds.email.as_ref().map(|email| {
        resources.push((
            "alarm-topic".to_owned(),
            super::Spec::AlarmTopic(AlarmTopicSpec {
                name: alarm_topic_name(&config.name),
                emails: [email.clone()].into(),
                policy: alarm_topic_policy(&config.name, &facts.region, &facts.account_id),
            }),
        ));
        Ref::to("alarm-topic")
    });
    let builder = Builder {
        environment: &config.name,
        notify,
    };
    let mut wanted = load_balancer_alarms(config, thresholds);
    wanted.extend(compute_alarms(config, thresholds));
    if config.database.is_some() {
        wanted.extend(database_alarms(&config.name, thresholds));
    }
    resources.extend(wanted.into_iter().map(|alarm| {
        (
            format!("alarm-{}", alarm.suffix),
            super::Spec::Alarm(builder.build(alarm)),
        )
    }));
    resources
}

/// How often the metric has a data point: EC2 instances without detailed monitoring (what
/// the launch template asks for) report every 5 minutes, and a 1-minute period would see four
/// of each five empty; load balancers, ECS and RDS report every minute.
fn period_of(metric: &AlarmMetric) -> u32 {
    match metric {
        AlarmMetric::Metric(read) if read.namespace == "AWS/EC2" => 300,
        _ => 60,
    }
}

/// One alarm before it is named and pointed at the topic.
struct Wanted {
    suffix: &'static str,
    description: String,
    metric: AlarmMetric,
    above: bool,
    threshold: f64,
    /// (datapoints to alarm, of evaluation periods), each period as `period_of` says.
    breaching: (u32, u32),
}

struct Builder<'a> {
    environment: &'a str,
    notify: Option<Ref>,
}

impl Builder<'_> {
    fn build(&self, wanted: Wanted) -> AlarmSpec {
        let period_seconds = period_of(&wanted.metric);
        AlarmSpec {
            name: super::names::alarm(self.environment, wanted.suffix),
            description: wanted.description,
            metric: wanted.metric,
            comparison: if wanted.above {
                "GreaterThanThreshold"
            } else {
                "LessThanThreshold"
            }
            .to_owned(),
            threshold: wanted.threshold.to_string(),
            period_seconds,
            evaluation_periods: wanted.breaching.1,
            datapoints_to_alarm: wanted.breaching.0,
            treat_missing_data: "notBreaching".to_owned(),
            notify: self.notify.clone(),
        }
    }
}

fn read(namespace: &str, name: &str, statistic: &str, dimensions: &[(&str, DimensionValue)]) -> MetricRead {
    MetricRead {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        statistic: statistic.to_owned(),
        dimensions: dimensions
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect(),
    }
}

/// Most of five minutes: a blip does not page anyone, a trend does.
const SUSTAINED: (u32, u32) = (3, 5);

fn load_balancer_alarms(config: &EnvironmentConfig, thresholds: &AlarmsConfig) -> Vec<Wanted> {
    let balancer = DimensionValue::Resource(Ref::to("load-balancer"));
    let classic = config.load_balancer.kind == LoadBalancerKind::Elb;
    let (namespace, key, backend_errors, response_time) = if classic {
        ("AWS/ELB", "LoadBalancerName", "HTTPCode_Backend_5XX", "Latency")
    } else {
        (
            "AWS/ApplicationELB",
            "LoadBalancer",
            "HTTPCode_Target_5XX_Count",
            "TargetResponseTime",
        )
    };
    let balancer_errors = if classic {
        "HTTPCode_ELB_5XX"
    } else {
        "HTTPCode_ELB_5XX_Count"
    };
    let on_balancer = [(key, balancer.clone())];
    let sum = |name: &str| read(namespace, name, "Sum", &on_balancer);
    let mut unhealthy_dimensions = vec![(key, balancer.clone())];
    if !classic {
        unhealthy_dimensions.push(("TargetGroup", DimensionValue::Resource(Ref::to("target-group"))));
    }
    let mut wanted = vec![
        Wanted {
            suffix: "lb-5xx-rate",
            description: format!(
                "More than {}% of requests answered with a 5xx by the load balancer or the API",
                thresholds.error_rate_percent
            ),
            // 5xx counts are reported only when there are some: a missing one counts as 0.
            metric: AlarmMetric::Expression {
                expression: "100 * (FILL(m0, 0) + FILL(m1, 0)) / m2".to_owned(),
                metrics: vec![sum(backend_errors), sum(balancer_errors), sum("RequestCount")],
            },
            above: true,
            threshold: f64::from(thresholds.error_rate_percent),
            breaching: SUSTAINED,
        },
        Wanted {
            suffix: "lb-latency-p99",
            description: format!("p99 response time above {} ms", thresholds.latency_p99_ms),
            metric: AlarmMetric::Metric(read(namespace, response_time, "p99", &on_balancer)),
            above: true,
            threshold: f64::from(thresholds.latency_p99_ms) / 1000.0,
            breaching: SUSTAINED,
        },
        Wanted {
            suffix: "lb-unhealthy-hosts",
            description: format!(
                "More than {} target(s) failing the load balancer's health check",
                thresholds.unhealthy_hosts
            ),
            metric: AlarmMetric::Metric(read(namespace, "UnHealthyHostCount", "Maximum", &unhealthy_dimensions)),
            above: true,
            threshold: f64::from(thresholds.unhealthy_hosts),
            breaching: (2, 2),
        },
    ];
    if classic {
        wanted.push(Wanted {
            suffix: "lb-surge-queue",
            description: format!(
                "More than {} requests queued for a free instance (the ELB drops them past 1024)",
                thresholds.surge_queue_length
            ),
            metric: AlarmMetric::Metric(read(namespace, "SurgeQueueLength", "Maximum", &on_balancer)),
            above: true,
            threshold: f64::from(thresholds.surge_queue_length),
            breaching: SUSTAINED,
        });
        wanted.push(Wanted {
            suffix: "lb-spillover",
            description: "Requests rejected because the surge queue was full".to_owned(),
            metric: AlarmMetric::Metric(read(namespace, "SpilloverCount", "Sum", &on_balancer)),
            above: true,
            threshold: 0.0,
            breaching: (1, 1),
        });
    }
    wanted
}

fn compute_alarms(config: &EnvironmentConfig, thresholds: &AlarmsConfig) -> Vec<Wanted> {
    let cpu = |metric: MetricRead, breaching| Wanted {
        suffix: "app-cpu",
        description: format!("The API's average CPU above {}%", thresholds.cpu_percent),
        metric: AlarmMetric::Metric(metric),
        above: true,
        threshold: f64::from(thresholds.cpu_percent),
        breaching,
    };
    match config.compute.kind {
        // Two of three 5-minute periods: about as prompt as EC2's basic monitoring allows.
        ComputeKind::Ec2 => vec![cpu(
            read(
                "AWS/EC2",
                "CPUUtilization",
                "Average",
                &[(
                    "AutoScalingGroupName",
                    DimensionValue::Named(super::names::app(&config.name)),
                )],
            ),
            (2, 3),
        )],
        ComputeKind::Ecs => {
            let service = [
                ("ClusterName", DimensionValue::Named(config.name.clone())),
                ("ServiceName", DimensionValue::Named("api".to_owned())),
            ];
            vec![
                cpu(read("AWS/ECS", "CPUUtilization", "Average", &service), SUSTAINED),
                Wanted {
                    suffix: "app-memory",
                    description: format!("The API's average memory above {}%", thresholds.memory_percent),
                    metric: AlarmMetric::Metric(read("AWS/ECS", "MemoryUtilization", "Average", &service)),
                    above: true,
                    threshold: f64::from(thresholds.memory_percent),
                    breaching: SUSTAINED,
                },
            ]
        }
    }
}

fn database_alarms(environment: &str, thresholds: &AlarmsConfig) -> Vec<Wanted> {
    let cluster = [(
        "DBClusterIdentifier",
        DimensionValue::Named(super::names::database(environment)),
    )];
    vec![
        Wanted {
            suffix: "db-cpu",
            description: format!("The database's average CPU above {}%", thresholds.database_cpu_percent),
            metric: AlarmMetric::Metric(read("AWS/RDS", "CPUUtilization", "Average", &cluster)),
            above: true,
            threshold: f64::from(thresholds.database_cpu_percent),
            breaching: SUSTAINED,
        },
        Wanted {
            suffix: "db-free-memory",
            description: format!(
                "A database instance with less than {} MiB of freeable memory",
                thresholds.database_free_memory_mb
            ),
            metric: AlarmMetric::Metric(read("AWS/RDS", "FreeableMemory", "Minimum", &cluster)),
            above: false,
            threshold: f64::from(thresholds.database_free_memory_mb) * 1024.0 * 1024.0,
            breaching: SUSTAINED,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_name_an_alb_and_a_target_group_by_the_end_of_their_arns() {
        assert_eq!(
            DimensionValue::of_physical(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/staging-lb/50dc6c495c0c9188"
            ),
            "app/staging-lb/50dc6c495c0c9188"
        );
        assert_eq!(
            DimensionValue::of_physical(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/staging-app/73e2d6bc24d8a067"
            ),
            "targetgroup/staging-app/73e2d6bc24d8a067"
        );
        assert_eq!(DimensionValue::of_physical("development-lb"), "development-lb");
    }

    /// Issue 26: only CloudWatch publishes to the topic, for this environment's alarms in this
    /// account and region; the account manages it; nobody is granted anything as `*`.
    #[test]
    fn only_the_environments_alarms_publish_to_its_topic() {
        let resources = alarms_of(include_str!("../../../environments/production.yaml"), "production");
        let Some((_, crate::model::Spec::AlarmTopic(topic))) = resources.iter().find(|(id, _)| id == "alarm-topic")
        else {
            panic!("production mails its alarms")
        };
        assert_eq!(
            topic.policy,
            alarm_topic_policy("production", "us-east-1", "123456789012")
        );
        let policy: serde_json::Value = serde_json::from_str(&topic.policy).unwrap();
        let statements = policy["Statement"].as_array().unwrap();
        let arn = "arn:aws:sns:us-east-1:123456789012:production-alarms";
        for statement in statements {
            assert_eq!(statement["Effect"], "Allow", "{statement}");
            assert_eq!(statement["Resource"], arn, "{statement}");
            assert!(
                statement["Principal"] != "*" && statement["Principal"]["AWS"] != "*",
                "{statement}"
            );
        }
        let publishers: Vec<&serde_json::Value> = statements
            .iter()
            .filter(|s| s["Action"].to_string().to_lowercase().contains("sns:publish"))
            .collect();
        let [publisher] = publishers.as_slice() else {
            panic!("{policy}")
        };
        assert_eq!(
            publisher["Principal"],
            serde_json::json!({"Service": "cloudwatch.amazonaws.com"})
        );
        assert_eq!(
            publisher["Condition"],
            serde_json::json!({
                "StringEquals": {"aws:SourceAccount": "123456789012"},
                "ArnEquals": {"aws:SourceArn": crate::model::names::alarms("production")
                    .iter()
                    .map(|alarm| format!("arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm}"))
                    .collect::<Vec<_>>()}
            })
        );
        let owner = statements.iter().find(|s| s["Sid"] == "AccountManagesTopic").unwrap();
        assert_eq!(
            owner["Principal"],
            serde_json::json!({"AWS": "arn:aws:iam::123456789012:root"})
        );
    }

    fn alarms_of(file: &str, name: &str) -> Vec<(String, crate::model::Spec)> {
        alarms(
            &crate::config::parse_environment(file, name).unwrap(),
            &crate::model::example_facts(3),
        )
    }

    fn ids(resources: &[(String, crate::model::Spec)]) -> Vec<&str> {
        resources.iter().map(|(id, _)| id.as_str()).collect()
    }

    #[test]
    fn each_environment_gets_the_alarms_its_load_balancer_and_compute_have_metrics_for() {
        let development = alarms_of(include_str!("../../../environments/development.yaml"), "development");
        assert_eq!(
            ids(&development),
            [
                "alarm-lb-5xx-rate",
                "alarm-lb-latency-p99",
                "alarm-lb-unhealthy-hosts",
                "alarm-lb-surge-queue",
                "alarm-lb-spillover",
                "alarm-app-cpu",
                "alarm-db-cpu",
                "alarm-db-free-memory"
            ]
        );
        let production = alarms_of(include_str!("../../../environments/production.yaml"), "production");
        assert_eq!(
            ids(&production),
            [
                "alarm-topic",
                "alarm-lb-5xx-rate",
                "alarm-lb-latency-p99",
                "alarm-lb-unhealthy-hosts",
                "alarm-app-cpu",
                "alarm-app-memory",
                "alarm-db-cpu",
                "alarm-db-free-memory"
            ]
        );
        for (id, spec) in &production[1..] {
            let crate::model::Spec::Alarm(alarm) = spec else {
                panic!("{id}")
            };
            assert_eq!(alarm.notify, Some(Ref::to("alarm-topic")), "{id}");
            assert!(alarm.name.starts_with("production-"), "{id}");
        }
        // Production's file asks for a 500 ms p99: CloudWatch measures seconds.
        let crate::model::Spec::Alarm(latency) = &production[2].1 else {
            panic!()
        };
        assert_eq!(
            (latency.threshold.as_str(), latency.comparison.as_str()),
            ("0.5", "GreaterThanThreshold")
        );
        let crate::model::Spec::Alarm(memory) = &production[7].1 else {
            panic!()
        };
        assert_eq!(
            (memory.threshold.as_str(), memory.comparison.as_str()),
            ("268435456", "LessThanThreshold")
        );
    }

    #[test]
    fn without_an_alarms_block_there_are_none() {
        let text = include_str!("../../../environments/staging.yaml").replace("alarms: {}", "");
        assert!(alarms_of(&text, "staging").is_empty());
    }
}
