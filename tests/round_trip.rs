//! plan → apply → plan (no changes) → destroy → nothing left, against the emulator.

use crate::support::{Deployer, Moto, block_on, environments_copy, tagged_resources};

/// `tasks`: what the emulator reports running per ECS service (the environment's desired count).
/// deployer runs as a user holding only `deployer permissions ENV --for deploy`, with the
/// emulator checking every call's action against it: a call missing from the policy fails here.
fn round_trip(environment: &str, expected_resources: usize, tasks: u32, destroy_flags: &[&str]) {
    let mut moto = Moto::start_with_tasks(tasks);
    moto.enforce_least_privilege(environment);
    // An environment whose name begins with this one's, with an alarm deployer's prefix search
    // finds: never read (its policy does not reach it) nor touched.
    let neighbour = format!("{environment}-eu");
    let neighbours_alarm = format!("{neighbour}-db-cpu");
    block_on(put_alarm(&moto, &neighbours_alarm, &neighbour));
    Deployer::new(&moto).args(["validate"]).run().expect_status(0);

    let plan = Deployer::new(&moto)
        .args(["plan", environment, "--detailed-exitcode"])
        .run()
        .expect_status(2);
    assert!(
        plan.stdout.contains(&format!(
            "Plan: {expected_resources} to add, 0 to change, 0 to destroy."
        )),
        "{}",
        plan.stdout
    );

    let apply = Deployer::new(&moto)
        .args(["apply", environment, "--auto-approve"])
        .run()
        .expect_status(0);
    assert!(
        apply
            .stdout
            .contains(&format!("Apply complete! Resources: {expected_resources} added")),
        "{}",
        apply.stdout
    );
    assert!(!tagged_resources(&moto, environment).is_empty());
    the_api_role_stored_in_aws_moves_instances_only_here(&moto, environment);

    let again = Deployer::new(&moto)
        .args(["plan", environment, "--detailed-exitcode"])
        .run()
        .expect_status(0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);

    let output = Deployer::new(&moto)
        .args(["output", environment, "--json"])
        .run()
        .expect_status(0);
    let outputs: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    assert!(outputs["vpc_id"].as_str().unwrap().starts_with("vpc-"), "{outputs}");
    assert_eq!(outputs["security_group_ids"].as_object().unwrap().len(), 3);
    let dns = outputs["load_balancer_dns"].as_str().unwrap();
    assert!(dns.contains(&format!("{environment}-lb")), "{outputs}");
    // Production serves HTTPS (port 80 only redirects); the others plain HTTP.
    let scheme = if environment == "production" { "https" } else { "http" };
    assert_eq!(outputs["api_url"], format!("{scheme}://{dns}"));
    assert_eq!(
        outputs["registry_url"],
        format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/deployer/{environment}/api")
    );
    assert!(
        outputs["database_endpoint"]
            .as_str()
            .unwrap()
            .contains(&format!("{environment}-db")),
        "{outputs}"
    );

    let destroy = Deployer::new(&moto)
        .args(["destroy", environment, "--auto-approve"])
        .args(destroy_flags)
        .run()
        .expect_status(0);
    assert!(
        destroy
            .stdout
            .contains(&format!("Destroy complete! Resources: {expected_resources} destroyed.")),
        "{}",
        destroy.stdout
    );
    moto.assert_calls_scoped_to(environment);
    assert_eq!(tagged_resources(&moto, environment), Vec::<String>::new());
    assert_eq!(
        block_on(alarms_named(&moto, &neighbours_alarm)),
        vec![neighbours_alarm.clone()],
        "the neighbour's alarm is left alone"
    );

    let after = Deployer::new(&moto)
        .args(["plan", environment, "--detailed-exitcode"])
        .run()
        .expect_status(2);
    assert!(
        after.stdout.contains(&format!("Plan: {expected_resources} to add")),
        "{}",
        after.stdout
    );
}

#[test]
fn development_round_trip() {
    // Network, classic ELB, instance role and profile, launch template, ASG, Aurora.
    round_trip("development", 35, 1, &[]);
}

#[test]
fn staging_round_trip() {
    // Network, ALB + target group + listener, two roles, ECS cluster, task definition, service
    // and its scaling, Aurora.
    round_trip("staging", 38, 2, &[]);
}

#[test]
fn production_round_trip() {
    // Three zones with a NAT each, a writer plus a reader, HTTPS, an access log bucket, scaling.
    round_trip("production", 49, 4, &["--allow-destroy"]);
}

#[test]
fn desired_count_change_updates_the_service_in_place() {
    let moto = Moto::start_with_tasks(2);
    let dir = environments_copy();
    // A fixed size (no room to scale): the count is the file's to keep.
    let path = dir.path().join("staging.yaml");
    let fixed = std::fs::read_to_string(&path)
        .unwrap()
        .replace("  max: 4\n", "  max: 2\n");
    std::fs::write(&path, fixed).unwrap();
    Deployer::new(&moto)
        .environments(dir.path())
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    let services_before: Vec<String> = tagged_resources(&moto, "staging")
        .into_iter()
        .filter(|r| r.contains(":service/"))
        .collect();
    assert_eq!(services_before.len(), 1);

    let path = dir.path().join("staging.yaml");
    std::fs::write(
        &path,
        std::fs::read_to_string(&path).unwrap().replace(
            "  min: 2\n  desired: 2\n  max: 2\n",
            "  min: 3\n  desired: 3\n  max: 3\n",
        ),
    )
    .unwrap();
    let plan = Deployer::new(&moto)
        .environments(dir.path())
        .args(["plan", "staging"])
        .run()
        .expect_status(0);
    assert!(plan.stdout.contains("~ ecs_service ecs-service"), "{}", plan.stdout);
    assert!(plan.stdout.contains("desired: 2 → 3"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );

    Deployer::new(&moto)
        .environments(dir.path())
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    let services_after: Vec<String> = tagged_resources(&moto, "staging")
        .into_iter()
        .filter(|r| r.contains(":service/"))
        .collect();
    assert_eq!(services_after, services_before, "the service was updated, not replaced");
    Deployer::new(&moto)
        .environments(dir.path())
        .args(["plan", "staging", "--detailed-exitcode"])
        .run()
        .expect_status(0);
}

#[test]
fn instance_type_change_makes_a_new_launch_template_version() {
    let moto = Moto::start();
    let dir = environments_copy();
    Deployer::new(&moto)
        .environments(dir.path())
        .args(["apply", "development", "--auto-approve"])
        .run()
        .expect_status(0);

    let path = dir.path().join("development.yaml");
    std::fs::write(
        &path,
        std::fs::read_to_string(&path)
            .unwrap()
            .replace("instance_type: t3.micro", "instance_type: t3.small"),
    )
    .unwrap();
    let plan = Deployer::new(&moto)
        .environments(dir.path())
        .args(["plan", "development"])
        .run()
        .expect_status(0);
    assert!(
        plan.stdout.contains("~ launch_template launch-template"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("instance_type: t3.micro → t3.small"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("~ auto_scaling_group auto-scaling-group"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("Plan: 0 to add, 2 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );

    Deployer::new(&moto)
        .environments(dir.path())
        .args(["apply", "development", "--auto-approve"])
        .run()
        .expect_status(0);
    let versions = block_on(async {
        let ec2 = moto.ec2();
        ec2.describe_launch_template_versions()
            .launch_template_name("development-app")
            .send()
            .await
            .unwrap()
    });
    let mut types: Vec<(i64, String, bool)> = versions
        .launch_template_versions()
        .iter()
        .map(|v| {
            let instance_type = v
                .launch_template_data()
                .and_then(|d| d.instance_type())
                .map(|t| t.as_str().to_owned());
            (
                v.version_number().unwrap(),
                instance_type.unwrap_or_default(),
                v.default_version().unwrap_or(false),
            )
        })
        .collect();
    types.sort();
    assert_eq!(
        types,
        [(1, "t3.micro".to_owned(), false), (2, "t3.small".to_owned(), true)]
    );
    Deployer::new(&moto)
        .environments(dir.path())
        .args(["plan", "development", "--detailed-exitcode"])
        .run()
        .expect_status(0);
}

#[test]
fn image_override_rolls_a_new_task_definition() {
    let moto = Moto::start_with_tasks(2);
    Deployer::new(&moto)
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    let apply = Deployer::new(&moto)
        .args([
            "apply",
            "staging",
            "--auto-approve",
            "--image",
            "ghcr.io/deployer/api:1.1.0",
        ])
        .run()
        .expect_status(0);
    assert!(
        apply
            .stdout
            .contains("image: ghcr.io/deployer/api:1.0.0 → ghcr.io/deployer/api:1.1.0 (forces replacement)"),
        "{}",
        apply.stdout
    );
    assert!(
        apply.stdout.contains("task_definition: task-definition is replaced"),
        "{}",
        apply.stdout
    );
    assert!(
        apply.stdout.contains("Resources: 1 added, 1 changed, 1 destroyed."),
        "{}",
        apply.stdout
    );
    let definitions: Vec<String> = tagged_resources(&moto, "staging")
        .into_iter()
        .filter(|r| r.contains(":task-definition/"))
        .collect();
    assert_eq!(
        definitions,
        ["arn:aws:ecs:us-east-1:123456789012:task-definition/staging-api:2"],
        "the old revision is deregistered"
    );
    // The file still says 1.0.0, so a plain plan wants to roll back.
    Deployer::new(&moto)
        .args(["plan", "staging", "--detailed-exitcode"])
        .run()
        .expect_status(2);
}

#[test]
fn drift_is_repaired_in_place() {
    let moto = Moto::start_with_tasks(2);
    Deployer::new(&moto)
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    let ec2 = moto.ec2();
    block_on(async {
        let tables = ec2.describe_route_tables().send().await.unwrap();
        let private_b = tables
            .route_tables()
            .iter()
            .find(|t| {
                t.tags()
                    .iter()
                    .any(|tag| tag.value() == Some("staging-route-table-private-b"))
            })
            .unwrap();
        ec2.delete_route()
            .route_table_id(private_b.route_table_id().unwrap())
            .destination_cidr_block("0.0.0.0/0")
            .send()
            .await
            .unwrap();
        let vpcs = ec2.describe_vpcs().send().await.unwrap();
        let vpc = vpcs
            .vpcs()
            .iter()
            .find(|v| v.tags().iter().any(|t| t.value() == Some("staging-vpc")))
            .unwrap();
        ec2.create_tags()
            .resources(vpc.vpc_id().unwrap())
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("cost-center")
                    .value("someone-else")
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    let plan = Deployer::new(&moto)
        .args(["plan", "staging", "--detailed-exitcode"])
        .run()
        .expect_status(2);
    assert!(
        plan.stdout.contains("~ route_table route-table-private-b"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("routes: + 0.0.0.0/0 via nat-gateway-a"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("tags: cost-center: someone-else → platform"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("Plan: 0 to add, 2 to change, 0 to destroy."),
        "{}",
        plan.stdout
    );
    Deployer::new(&moto)
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    Deployer::new(&moto)
        .args(["plan", "staging", "--detailed-exitcode"])
        .run()
        .expect_status(0);
}

#[test]
fn changed_layout_updates_and_destroys_only_what_differs() {
    let moto = Moto::start_with_tasks(2);
    let dir = environments_copy();
    Deployer::new(&moto)
        .environments(dir.path())
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    // One NAT per AZ instead of a shared one: a second gateway and address, and zone b's
    // private route re-pointed in place.
    let path = dir.path().join("staging.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("nat: single", "nat: per-az");
    std::fs::write(&path, text).unwrap();
    let plan = Deployer::new(&moto)
        .environments(dir.path())
        .args(["plan", "staging", "--json"])
        .run()
        .expect_status(0);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(
        plan["summary"],
        serde_json::json!({"add": 2, "change": 1, "destroy": 0}),
        "{plan:#}"
    );
    Deployer::new(&moto)
        .environments(dir.path())
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    Deployer::new(&moto)
        .environments(dir.path())
        .args(["plan", "staging", "--detailed-exitcode"])
        .run()
        .expect_status(0);

    // And back: the second gateway and its address are destroyed, dependants first.
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("nat: per-az", "nat: single");
    std::fs::write(&path, text).unwrap();
    let apply = Deployer::new(&moto)
        .environments(dir.path())
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    assert!(
        apply.stdout.contains("Resources: 0 added, 1 changed, 2 destroyed."),
        "{}",
        apply.stdout
    );
    let route = apply.stdout.find("route_table route-table-private-b: updated").unwrap();
    let nat = apply.stdout.find("nat_gateway nat-gateway-b: destroyed").unwrap();
    let eip = apply.stdout.find("elastic_ip nat-eip-b: destroyed").unwrap();
    assert!(
        route < nat && nat < eip,
        "route re-pointed, then NAT, then its address:\n{}",
        apply.stdout
    );
    Deployer::new(&moto)
        .environments(dir.path())
        .args(["plan", "staging", "--detailed-exitcode"])
        .run()
        .expect_status(0);
}

#[test]
fn destroy_without_environment_picks_the_only_deployed_one() {
    let moto = Moto::start_with_tasks(2);
    let none = Deployer::new(&moto)
        .args(["destroy", "--auto-approve"])
        .run()
        .expect_status(0);
    assert!(none.stdout.contains("Nothing to destroy"), "{}", none.stdout);

    Deployer::new(&moto)
        .args(["apply", "development", "--auto-approve"])
        .run()
        .expect_status(0);
    Deployer::new(&moto)
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    let staging = tagged_resources(&moto, "staging");
    let development = tagged_resources(&moto, "development");
    let several = Deployer::new(&moto)
        .args(["destroy", "--auto-approve"])
        .run()
        .expect_status(1);
    assert!(
        several
            .stderr
            .contains("several environments are deployed: development, staging"),
        "{}",
        several.stderr
    );
    assert_eq!(tagged_resources(&moto, "staging"), staging, "nothing was destroyed");

    Deployer::new(&moto)
        .args(["destroy", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    assert_eq!(
        tagged_resources(&moto, "development"),
        development,
        "destroying staging left development alone"
    );
    let only = Deployer::new(&moto)
        .args(["destroy", "--auto-approve"])
        .run()
        .expect_status(0);
    assert!(only.stdout.contains("Destroy complete!"), "{}", only.stdout);
    assert_eq!(tagged_resources(&moto, "development"), Vec::<String>::new());
}

#[test]
fn production_destroy_needs_allow_destroy() {
    let moto = Moto::start_with_tasks(4);
    Deployer::new(&moto)
        .args(["apply", "production", "--auto-approve"])
        .run()
        .expect_status(0);
    let before = tagged_resources(&moto, "production");
    assert!(before.iter().any(|r| r == "production-db"), "{before:?}");

    let refused = Deployer::new(&moto)
        .args(["destroy", "production", "--auto-approve"])
        .run()
        .expect_status(1);
    assert!(
        refused
            .stderr
            .contains("production is protected: --auto-approve alone does not destroy it"),
        "{}",
        refused.stderr
    );
    let no_terminal = Deployer::new(&moto)
        .args(["destroy", "production"])
        .run()
        .expect_status(1);
    assert!(
        no_terminal.stderr.contains("stdin is not a terminal"),
        "{}",
        no_terminal.stderr
    );
    assert_eq!(
        tagged_resources(&moto, "production"),
        before,
        "a refused destroy changes nothing"
    );

    Deployer::new(&moto)
        .args(["destroy", "production", "--auto-approve", "--allow-destroy"])
        .run()
        .expect_status(0);
    assert_eq!(tagged_resources(&moto, "production"), Vec::<String>::new());
}

fn json_events(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

#[test]
fn json_streams_are_one_event_per_line_opened_with_their_version_and_closed_however_they_end() {
    let moto = Moto::start();
    let run = Deployer::new(&moto)
        .args(["apply", "development", "--auto-approve", "--json", "--parallelism", "2"])
        .run()
        .expect_status(0);
    let events = json_events(&run.stdout);
    assert_eq!(events[0]["event"], "version");
    assert_eq!(events[0]["format_version"], "1.0");
    assert_eq!(events[0]["command"], "apply");
    assert_eq!(events[1]["event"], "plan");
    assert_eq!(events[events.len() - 2]["event"], "outputs");
    assert_eq!(
        events.last().unwrap(),
        &serde_json::json!({"event": "run_finished", "success": true, "exit_code": 0})
    );
    let finished = events.iter().filter(|e| e["event"] == "finished").count();
    assert_eq!(finished, 35);
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "started" && e["id"] == "nat-gateway-a")
    );

    // A destroy says what it deleted; one with nothing left to delete says so in JSON too.
    for count in [35, 0] {
        let run = Deployer::new(&moto)
            .args(["destroy", "development", "--auto-approve", "--json"])
            .run()
            .expect_status(0);
        let events = json_events(&run.stdout);
        assert_eq!(events[0]["command"], "destroy");
        let destroyed = &events[events.len() - 2];
        assert_eq!(
            (&destroyed["event"], &destroyed["count"]),
            (&serde_json::json!("destroyed"), &serde_json::json!(count))
        );
        assert_eq!(events.last().unwrap()["success"], true);
    }

    // A run that fails still closes its stream, with the error stderr shows.
    let run = Deployer::new(&moto)
        .args(["apply", "nowhere", "--auto-approve", "--json"])
        .run()
        .expect_status(1);
    let events = json_events(&run.stdout);
    assert_eq!(events.len(), 2, "{events:?}");
    let last = events.last().unwrap();
    assert_eq!(
        (&last["success"], &last["exit_code"]),
        (&serde_json::json!(false), &serde_json::json!(1))
    );
    assert!(last["error"].as_str().unwrap().contains("nowhere"), "{last}");
}

/// Reads the API's role policy back from IAM and evaluates it (the emulator stores policies but
/// never enforces them): on EC2 it must allow moving instances in and out of this environment's
/// real load balancer, as AWS named it, and nothing of another environment's; on ECS, where the
/// target group holds the tasks' IPs that ECS registers (the API refuses with 409), nothing.
fn the_api_role_stored_in_aws_moves_instances_only_here(moto: &Moto, environment: &str) {
    let config = moto.sdk_config();
    let other = if environment == "production" {
        "staging"
    } else {
        "production"
    };
    let (role, action, ours, theirs) = block_on(async {
        let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&config);
        if environment == "development" {
            let arn = |name: &str| format!("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/{name}");
            (
                format!("{environment}-us-east-1-instance"),
                "elasticloadbalancing:DeregisterInstancesFromLoadBalancer",
                arn(&format!("{environment}-lb")),
                arn(&format!("{other}-lb")),
            )
        } else {
            let ours = crate::support::target_group_arn(&elbv2, environment).await;
            let theirs = ours.replace(&format!("/{environment}-app-"), &format!("/{other}-app-"));
            (
                format!("{environment}-us-east-1-task"),
                "elasticloadbalancing:DeregisterTargets",
                ours,
                theirs,
            )
        }
    });
    let policy = crate::support::deployer_policy(moto, &role);
    if environment != "development" {
        for action in [action, "elasticloadbalancing:RegisterTargets"] {
            assert!(
                !allows(&policy, action, &ours, environment),
                "{role} may {action} on {ours}: {policy}"
            );
        }
        return;
    }
    assert!(
        allows(&policy, action, &ours, environment),
        "{role} cannot {action} on {ours}: {policy}"
    );
    assert!(
        !allows(&policy, action, &theirs, other),
        "{role} may {action} on {theirs}: {policy}"
    );
    assert!(
        !allows(&policy, action, &ours, other),
        "{role}: the tag condition is not checked: {policy}"
    );
}

/// Whether `policy` grants `action` on `resource` tagged `deployer:environment=tagged`, as IAM
/// evaluates it (`support::iam_evaluator`).
fn allows(policy: &serde_json::Value, action: &str, resource: &str, tagged: &str) -> bool {
    crate::support::iam_evaluator::Authorization {
        action: action.to_owned(),
        resource: resource.to_owned(),
        resource_tags: [("deployer:environment".to_owned(), tagged.to_owned())].into(),
        context: Default::default(),
    }
    .allowed(std::slice::from_ref(policy))
}

/// An alarm named `name`, tagged as deployer tags `environment`'s, made as the administrator.
async fn put_alarm(moto: &Moto, name: &str, environment: &str) {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Statistic, Tag};
    aws_sdk_cloudwatch::Client::new(&moto.sdk_config())
        .put_metric_alarm()
        .alarm_name(name)
        .namespace("AWS/RDS")
        .metric_name("CPUUtilization")
        .statistic(Statistic::Average)
        .period(60)
        .evaluation_periods(1)
        .threshold(80.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .tags(Tag::builder().key("deployer:environment").value(environment).build())
        .send()
        .await
        .unwrap();
}

async fn alarms_named(moto: &Moto, name: &str) -> Vec<String> {
    aws_sdk_cloudwatch::Client::new(&moto.sdk_config())
        .describe_alarms()
        .alarm_names(name)
        .send()
        .await
        .unwrap()
        .metric_alarms()
        .iter()
        .filter_map(|alarm| alarm.alarm_name().map(str::to_owned))
        .collect()
}
