//! Issue 18: an operator's day-2 view. The API's logs (both ECS tasks and EC2 instances write
//! to the environment's managed log group) read back through `deployer logs`, and the rollout
//! settings (health checks, draining, grace periods) planned and corrected like any other
//! attribute.

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::proxy::Proxy;
use crate::support::{Deployer, Moto, block_on, environments_copy};

const GROUP: &str = "/deployer/development/api";

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Writes `lines` ((minutes ago, stream, message)) into the development log group.
fn put(moto: &Moto, lines: &[(i64, &str, &str)]) {
    let config = moto.sdk_config();
    block_on(async {
        let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
        for (minutes_ago, stream, message) in lines {
            let _ = logs
                .create_log_stream()
                .log_group_name(GROUP)
                .log_stream_name(*stream)
                .send()
                .await;
            let event = aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(now_ms() - minutes_ago * 60_000)
                .message(*message)
                .build()
                .unwrap();
            logs.put_log_events()
                .log_group_name(GROUP)
                .log_stream_name(*stream)
                .log_events(event)
                .send()
                .await
                .unwrap();
        }
    });
}

fn retention(moto: &Moto) -> Option<i32> {
    let config = moto.sdk_config();
    block_on(async {
        let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
        let groups = logs
            .describe_log_groups()
            .log_group_name_prefix(GROUP)
            .send()
            .await
            .unwrap();
        groups.log_groups().first().and_then(|g| g.retention_in_days())
    })
}

#[test]
fn status_then_logs_of_tasks_and_instances_read_back_filtered_and_followed() {
    // As the least-privileged operator: status, history and logs need nothing beyond the
    // deploy policy.
    let mut moto = Moto::start();
    moto.enforce_least_privilege("development");
    let dir = environments_copy();
    Deployer::new(&moto)
        .environments(dir.path())
        .args(["apply", "development", "--auto-approve"])
        .run()
        .expect_status(0);
    assert_eq!(retention(&moto), Some(30), "the managed group keeps logs 30 days");

    // Status: instances in service, targets healthy, the database and its writer available.
    let status = Deployer::new(&moto)
        .environments(dir.path())
        .args(["status", "development", "--json"])
        .run()
        .expect_status(0);
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status["healthy"], true, "{status:#}");
    assert_eq!(status["compute"]["running"], 1, "{status:#}");
    assert_eq!(status["targets"]["healthy"], 1, "{status:#}");
    assert_eq!(status["database"]["writer_status"], "available", "{status:#}");
    // History on EC2: launch template versions, with the image each one's user data pulls.
    let history = Deployer::new(&moto)
        .environments(dir.path())
        .args(["history", "development", "--json"])
        .run()
        .expect_status(0);
    let history: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    assert_eq!(history[0]["revision"], "1", "{history:#}");
    assert_eq!(history[0]["image"], "ghcr.io/deployer/api:1.0.0", "{history:#}");
    assert_eq!(history[0]["current"], true, "{history:#}");
    // The same environment with its instance out of service: exit 3 (unhealthy, not an
    // error), and why.
    let proxy = Proxy::start(&moto.endpoint, 0.0, 1);
    proxy.hold(
        &["DescribeInstanceHealth"],
        "<State>InService</State>",
        "<State>OutOfService</State>",
        Duration::from_secs(3600),
    );
    let sick = Deployer::new(&moto)
        .through(&proxy)
        .environments(dir.path())
        .args(["status", "development"])
        .run()
        .expect_status(3);
    assert!(sick.stdout.contains("development: NOT healthy"), "{}", sick.stdout);
    assert!(
        sick.stdout.contains("no healthy target behind the load balancer"),
        "{}",
        sick.stdout
    );
    assert!(sick.stdout.contains(" OutOfService ("), "{}", sick.stdout);
    put(
        &moto,
        &[
            (20, "api/api/0f1e2d3c", "an old line"),
            (
                2,
                "api/api/0f1e2d3c",
                r#"{"status":200,"method":"GET","path":"/elb/web"}"#,
            ),
            (1, "api/i-0abc1234", "an instance line"),
        ],
    );

    let recent = Deployer::new(&moto)
        .environments(dir.path())
        .args(["logs", "development", "--since", "10m"])
        .run()
        .expect_status(0);
    let lines: Vec<&str> = recent.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", recent.stdout);
    assert!(
        lines[0].contains(" 0f1e2d3c ") && lines[0].ends_with(r#""path":"/elb/web"}"#),
        "{}",
        lines[0]
    );
    assert!(lines[1].contains(" i-0abc1234 an instance line"), "{}", lines[1]);

    let filtered = Deployer::new(&moto)
        .environments(dir.path())
        .args(["logs", "development", "--since", "1h", "--filter", "instance", "--json"])
        .run()
        .expect_status(0);
    let objects: Vec<serde_json::Value> = filtered
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects.len(), 1, "{}", filtered.stdout);
    assert_eq!(objects[0]["source"], "i-0abc1234");
    assert_eq!(objects[0]["message"], "an instance line");

    // --follow prints what is there, then new lines as they come, each once.
    let mut follow = Deployer::new(&moto)
        .environments(dir.path())
        .args(["logs", "development", "--since", "10m", "--follow"])
        .spawn_with_stdout();
    let (sender, received) = std::sync::mpsc::channel();
    let stdout = follow.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let next = |received: &std::sync::mpsc::Receiver<String>| received.recv_timeout(Duration::from_secs(15));
    assert!(next(&received).unwrap().contains("/elb/web"));
    assert!(next(&received).unwrap().contains("an instance line"));
    put(&moto, &[(0, "api/i-0abc1234", "a new line")]);
    assert!(next(&received).unwrap().contains("a new line"));
    // Several more polls: nothing is printed twice.
    let started = Instant::now();
    let mut again = Vec::new();
    while started.elapsed() < Duration::from_secs(5) {
        if let Ok(line) = received.recv_timeout(Duration::from_millis(500)) {
            again.push(line);
        }
    }
    follow.kill().unwrap();
    let _ = follow.wait();
    assert_eq!(again, Vec::<String>::new(), "lines printed twice");

    // The retention is an attribute like any other.
    let path = dir.path().join("development.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}logs:\n  retention_days: 7\n")).unwrap();
    let plan = Deployer::new(&moto)
        .environments(dir.path())
        .args(["plan", "development"])
        .run()
        .expect_status(0);
    assert!(plan.stdout.contains("retention_days: 30 → 7"), "{}", plan.stdout);
    Deployer::new(&moto)
        .environments(dir.path())
        .args(["apply", "development", "--auto-approve"])
        .run()
        .expect_status(0);
    assert_eq!(retention(&moto), Some(7));
}

#[test]
fn rollout_settings_drift_is_planned_and_corrected_and_history_lists_each_revision() {
    // As the least-privileged operator: rollback and its hold need nothing beyond the deploy policy.
    let mut moto = Moto::start_with_tasks(2);
    moto.enforce_least_privilege("staging");
    Deployer::new(&moto)
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    // Two images in the environment's own repository (what `push` would leave), run in turn.
    let [first, second] = [1, 2].map(|n| crate::support::put_image(&moto, "deployer/staging/api", &format!("{n}.0.0")));
    for image in [&first, &second] {
        Deployer::new(&moto)
            .env("DEPLOYER_IMAGE", image)
            .args(["apply", "staging", "--auto-approve"])
            .run()
            .expect_status(0);
    }
    let history = Deployer::new(&moto)
        .args(["history", "staging", "--json"])
        .run()
        .expect_status(0);
    let history: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    let rows: Vec<(String, String, bool)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["revision"].as_str().unwrap().to_owned(),
                r["image"].as_str().unwrap().to_owned(),
                r["current"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("staging-api:3".to_owned(), second.clone(), true),
            ("staging-api:2".to_owned(), first.clone(), false),
            (
                "staging-api:1".to_owned(),
                "ghcr.io/deployer/api:1.0.0".to_owned(),
                false
            ),
        ]
    );
    // An image from another registry is rolled back to by name, not held.
    let elsewhere = Deployer::new(&moto)
        .args(["rollback", "staging", "--to", "1", "--auto-approve"])
        .run()
        .expect_status(1);
    assert!(
        elsewhere
            .stderr
            .contains("not an image of staging's own repository by digest")
            && elsewhere
                .stderr
                .contains("deployer apply staging --image ghcr.io/deployer/api:1.0.0"),
        "{}",
        elsewhere.stderr
    );
    // Roll back: the service runs revision 2's image again, and stays there.
    let rollback = Deployer::new(&moto)
        .args(["rollback", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    assert!(
        rollback
            .stdout
            .contains(&format!("Held: staging runs {first} (revision staging-api:2)")),
        "{}",
        rollback.stdout
    );
    assert_eq!(running_image(&moto), first);
    let held = Deployer::new(&moto)
        .without_image()
        .args(["plan", "staging", "--detailed-exitcode"])
        .run()
        .expect_status(0);
    assert!(
        held.stdout.contains(&format!("Held: staging runs {first}")),
        "{}",
        held.stdout
    );
    assert!(held.stdout.contains("No changes."), "{}", held.stdout);
    // A named image rolls forward and ends the hold.
    Deployer::new(&moto)
        .env("DEPLOYER_IMAGE", &second)
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    assert_eq!(running_image(&moto), second);
    let released = Deployer::new(&moto)
        .args(["rollback", "staging", "--release"])
        .run()
        .expect_status(0);
    assert!(released.stdout.contains("staging is not held"), "{}", released.stdout);

    // Someone puts AWS's slow defaults back by hand.
    let config = moto.sdk_config();
    block_on(async {
        let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&config);
        let group = crate::support::target_group_arn(&elbv2, "staging").await;
        elbv2
            .modify_target_group()
            .target_group_arn(&group)
            .health_check_interval_seconds(30)
            .healthy_threshold_count(5)
            .send()
            .await
            .unwrap();
        let delay = aws_sdk_elasticloadbalancingv2::types::TargetGroupAttribute::builder()
            .key("deregistration_delay.timeout_seconds")
            .value("300")
            .build();
        elbv2
            .modify_target_group_attributes()
            .target_group_arn(&group)
            .attributes(delay)
            .send()
            .await
            .unwrap();
    });
    let plan = Deployer::new(&moto)
        .args(["plan", "staging", "--detailed-exitcode"])
        .run()
        .expect_status(2);
    for expected in [
        "health_check: every 30 s, 5 s timeout, in after 5, out after 3 → every 10 s, 5 s timeout, in after 2, out after 3",
        "deregistration_delay: 300 → 20",
    ] {
        assert!(plan.stdout.contains(expected), "`{expected}` missing:\n{}", plan.stdout);
    }
    Deployer::new(&moto)
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    let after = Deployer::new(&moto)
        .args(["plan", "staging", "--detailed-exitcode"])
        .run()
        .expect_status(0);
    assert!(after.stdout.contains("No changes."), "{}", after.stdout);
}

/// The image staging's ECS service runs now, read from AWS.
fn running_image(moto: &Moto) -> String {
    crate::support::running_containers(moto, "staging")[0]
        .image()
        .unwrap()
        .to_owned()
}
