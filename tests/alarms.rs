//! CloudWatch alarms and the SNS topic that mails them: created with the file's thresholds and
//! the load balancer's real metric names, planned clean, changed in place, reported by
//! `status` and `output`, and deleted with the environment.

use std::path::Path;

use aws_sdk_cloudwatch::types::{MetricAlarm, StateValue};

use crate::support::{Deployer, Moto, block_on, edit_environment};

fn deployer(moto: &Moto, dir: &Path) -> Deployer {
    Deployer::new(moto).environments(dir)
}

fn cloudwatch(moto: &Moto) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::new(&moto.sdk_config())
}

fn alarms(moto: &Moto, prefix: &str) -> Vec<MetricAlarm> {
    block_on(async {
        let answer = cloudwatch(moto)
            .describe_alarms()
            .alarm_name_prefix(prefix)
            .send()
            .await
            .unwrap();
        answer.metric_alarms().to_vec()
    })
}

fn alarm<'a>(alarms: &'a [MetricAlarm], name: &str) -> &'a MetricAlarm {
    alarms
        .iter()
        .find(|a| a.alarm_name() == Some(name))
        .unwrap_or_else(|| panic!("no alarm {name}"))
}

fn dimensions(dimensions: &[aws_sdk_cloudwatch::types::Dimension]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = dimensions
        .iter()
        .map(|d| (d.name().unwrap().to_owned(), d.value().unwrap().to_owned()))
        .collect();
    pairs.sort();
    pairs
}

/// The ends of the ALB's and target group's ARNs, as CloudWatch names them in metrics.
fn alb_metric_names(moto: &Moto) -> (String, String) {
    block_on(async {
        let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&moto.sdk_config());
        let balancer = elbv2
            .describe_load_balancers()
            .names("staging-lb")
            .send()
            .await
            .unwrap();
        let balancer_arn = balancer.load_balancers()[0].load_balancer_arn().unwrap().to_owned();
        let group_arn = crate::support::target_group_arn(&elbv2, "staging").await;
        (
            balancer_arn.split_once(":loadbalancer/").unwrap().1.to_owned(),
            group_arn.rsplit_once(':').unwrap().1.to_owned(),
        )
    })
}

fn topic_subscribers(moto: &Moto, topic: &str) -> Vec<String> {
    block_on(async {
        let sns = aws_sdk_sns::Client::new(&moto.sdk_config());
        let listed = sns.list_subscriptions_by_topic().topic_arn(topic).send().await.unwrap();
        listed
            .subscriptions()
            .iter()
            .map(|s| format!("{}:{}", s.protocol().unwrap(), s.endpoint().unwrap()))
            .collect()
    })
}

#[test]
fn alb_alarms_watch_the_real_metrics_mail_the_topic_and_change_in_place() {
    let moto = Moto::start_with_tasks(2);
    let dir = moto.environments_copy();
    edit_environment(
        dir.path(),
        "staging",
        "alarms: {}",
        "alarms:\n  email: oncall@example.com\n  error_rate_percent: 2",
    );
    let plan = deployer(&moto, dir.path())
        .args(["plan", "staging"])
        .run()
        .expect_status(0)
        .stdout;
    assert!(plan.contains("+ alarm_topic alarm-topic"), "{plan}");
    assert!(plan.contains("+ alarm alarm-lb-5xx-rate"), "{plan}");
    deployer(&moto, dir.path())
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);

    let found = alarms(&moto, "staging-");
    let mut names: Vec<&str> = found.iter().filter_map(|a| a.alarm_name()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "staging-app-cpu",
            "staging-app-memory",
            "staging-db-cpu",
            "staging-db-free-memory",
            "staging-lb-5xx-rate",
            "staging-lb-latency-p99",
            "staging-lb-unhealthy-hosts",
        ]
    );
    let (balancer, group) = alb_metric_names(&moto);
    let outputs: serde_json::Value = serde_json::from_str(
        &deployer(&moto, dir.path())
            .args(["output", "staging", "--json"])
            .run()
            .expect_status(0)
            .stdout,
    )
    .unwrap();
    let topic = outputs["alarm_topic_arn"].as_str().unwrap().to_owned();
    assert!(topic.ends_with(":staging-alarms"), "{topic}");
    assert_eq!(outputs["alarms"].as_array().unwrap().len(), 7);
    assert_eq!(topic_subscribers(&moto, &topic), ["email:oncall@example.com"]);

    // The error rate: metric math over the ALB's 5xx counts and its requests, at 2%.
    let rate = alarm(&found, "staging-lb-5xx-rate");
    assert_eq!(rate.threshold(), Some(2.0));
    assert_eq!(rate.alarm_actions(), std::slice::from_ref(&topic));
    assert_eq!(rate.ok_actions(), std::slice::from_ref(&topic));
    let expression = rate.metrics().iter().find_map(|q| q.expression()).unwrap();
    assert_eq!(expression, "100 * (FILL(m0, 0) + FILL(m1, 0)) / m2");
    let counted: Vec<(String, Vec<(String, String)>)> = rate
        .metrics()
        .iter()
        .filter_map(|q| q.metric_stat())
        .map(|s| {
            let metric = s.metric().unwrap();
            (
                metric.metric_name().unwrap().to_owned(),
                dimensions(metric.dimensions()),
            )
        })
        .collect();
    let on_balancer = vec![("LoadBalancer".to_owned(), balancer.clone())];
    assert_eq!(
        counted,
        [
            ("HTTPCode_Target_5XX_Count".to_owned(), on_balancer.clone()),
            ("HTTPCode_ELB_5XX_Count".to_owned(), on_balancer.clone()),
            ("RequestCount".to_owned(), on_balancer.clone()),
        ]
    );
    // p99 latency in seconds, and unhealthy targets of the environment's own target group.
    let latency = alarm(&found, "staging-lb-latency-p99");
    assert_eq!(
        (latency.metric_name(), latency.extended_statistic(), latency.threshold()),
        (Some("TargetResponseTime"), Some("p99"), Some(1.0))
    );
    let unhealthy = alarm(&found, "staging-lb-unhealthy-hosts");
    assert_eq!(
        dimensions(unhealthy.dimensions()),
        [("LoadBalancer".to_owned(), balancer), ("TargetGroup".to_owned(), group)]
    );
    let memory = alarm(&found, "staging-db-free-memory");
    assert_eq!(memory.threshold(), Some(256.0 * 1024.0 * 1024.0));
    assert_eq!(memory.comparison_operator().unwrap().as_str(), "LessThanThreshold");
    deployer(&moto, dir.path())
        .args(["plan", "staging", "--detailed-exitcode"])
        .run()
        .expect_status(0);

    // Drift: a threshold changed by hand is planned back, in place.
    block_on(async {
        let cpu = alarm(&found, "staging-db-cpu");
        cloudwatch(&moto)
            .put_metric_alarm()
            .alarm_name("staging-db-cpu")
            .namespace("AWS/RDS")
            .metric_name("CPUUtilization")
            .statistic(aws_sdk_cloudwatch::types::Statistic::Average)
            .set_dimensions(Some(cpu.dimensions().to_vec()))
            .period(60)
            .evaluation_periods(5)
            .datapoints_to_alarm(3)
            .threshold(99.0)
            .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
            .treat_missing_data("notBreaching")
            .alarm_description(cpu.alarm_description().unwrap())
            .set_alarm_actions(Some(vec![topic.clone()]))
            .set_ok_actions(Some(vec![topic.clone()]))
            .send()
            .await
            .unwrap();
    });
    let plan = deployer(&moto, dir.path())
        .args(["plan", "staging", "--detailed-exitcode"])
        .run()
        .expect_status(2)
        .stdout;
    assert!(plan.contains("~ alarm alarm-db-cpu"), "{plan}");
    assert!(plan.contains("threshold: 99 → 80"), "{plan}");
    assert!(plan.contains("Plan: 0 to add, 1 to change, 0 to destroy."), "{plan}");

    // A threshold changed in the file: one alarm updated in place, nothing else.
    edit_environment(
        dir.path(),
        "staging",
        "error_rate_percent: 2",
        "error_rate_percent: 2\n  latency_p99_ms: 250",
    );
    let plan = deployer(&moto, dir.path())
        .args(["plan", "staging"])
        .run()
        .expect_status(0)
        .stdout;
    assert!(plan.contains("threshold: 1 → 0.25"), "{plan}");
    assert!(plan.contains("Plan: 0 to add, 2 to change, 0 to destroy."), "{plan}");
    deployer(&moto, dir.path())
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    let found = alarms(&moto, "staging-");
    assert_eq!(alarm(&found, "staging-lb-latency-p99").threshold(), Some(0.25));
    assert_eq!(alarm(&found, "staging-db-cpu").threshold(), Some(80.0));
    deployer(&moto, dir.path())
        .args(["plan", "staging", "--detailed-exitcode"])
        .run()
        .expect_status(0);

    // A firing alarm makes `status` unhealthy, by name.
    block_on(async {
        cloudwatch(&moto)
            .set_alarm_state()
            .alarm_name("staging-db-cpu")
            .state_value(StateValue::Alarm)
            .state_reason("test: CPU at 97%")
            .send()
            .await
            .unwrap();
    });
    let status = deployer(&moto, dir.path())
        .args(["status", "staging"])
        .run()
        // A firing alarm: unhealthy (3), which a pipeline tells from an error (1).
        .expect_status(3);
    assert!(
        status.stdout.contains("alarm staging-db-cpu is firing"),
        "{}",
        status.stdout
    );
    assert!(status.stdout.contains("staging-lb-5xx-rate"), "{}", status.stdout);

    // Another address: subscribed, the old one unsubscribed. No address: no topic, and the
    // alarms stop naming it.
    edit_environment(dir.path(), "staging", "oncall@example.com", "platform@example.com");
    deployer(&moto, dir.path())
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    assert_eq!(topic_subscribers(&moto, &topic), ["email:platform@example.com"]);
    edit_environment(dir.path(), "staging", "  email: platform@example.com\n", "");
    let plan = deployer(&moto, dir.path())
        .args(["plan", "staging"])
        .run()
        .expect_status(0)
        .stdout;
    assert!(plan.contains("- alarm_topic alarm-topic"), "{plan}");
    assert!(plan.contains("notify: alarm-topic → (none)"), "{plan}");
    deployer(&moto, dir.path())
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    assert!(alarms(&moto, "staging-").iter().all(|a| a.alarm_actions().is_empty()));

    // Destroyed with the environment; the autoscaler's own alarms were never deployer's.
    deployer(&moto, dir.path())
        .args(["destroy", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    assert!(alarms(&moto, "staging-").is_empty());
}

#[test]
fn a_classic_load_balancer_is_watched_for_its_surge_queue_and_spillover() {
    let moto = Moto::start();
    let dir = moto.environments_copy();
    deployer(&moto, dir.path())
        .args(["apply", "development", "--auto-approve"])
        .run()
        .expect_status(0);
    let found = alarms(&moto, "development-");
    let on_balancer = [("LoadBalancerName".to_owned(), "development-lb".to_owned())];
    let surge = alarm(&found, "development-lb-surge-queue");
    assert_eq!(
        (surge.namespace(), surge.metric_name(), surge.threshold()),
        (Some("AWS/ELB"), Some("SurgeQueueLength"), Some(100.0))
    );
    assert_eq!(dimensions(surge.dimensions()), on_balancer);
    let spillover = alarm(&found, "development-lb-spillover");
    assert_eq!(
        (
            spillover.metric_name(),
            spillover.statistic().map(|s| s.as_str()),
            spillover.threshold()
        ),
        (Some("SpilloverCount"), Some("Sum"), Some(0.0))
    );
    let cpu = alarm(&found, "development-app-cpu");
    assert_eq!(
        dimensions(cpu.dimensions()),
        [("AutoScalingGroupName".to_owned(), "development-app".to_owned())]
    );
    // EC2's basic monitoring reports every 5 minutes: the alarm reads 5-minute periods.
    assert_eq!(
        (cpu.period(), cpu.evaluation_periods(), cpu.datapoints_to_alarm()),
        (Some(300), Some(3), Some(2))
    );
    assert_eq!(surge.period(), Some(60));
    assert!(found.iter().all(|a| a.alarm_actions().is_empty()));
    assert_eq!(found.len(), 8);
    deployer(&moto, dir.path())
        .args(["plan", "development", "--detailed-exitcode"])
        .run()
        .expect_status(0);
}
