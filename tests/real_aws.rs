//! What real AWS refuses and the emulator accepts, met end to end through the strict proxy
//! (tests/support/aws_rules.rs, tests/support/api_model.rs) in front of every emulator:
//! replacements that must not deadlock, upgrades AWS must be told about, IAM's eventual
//! consistency, names kept apart per region, and requests AWS's API model refuses.

use std::time::Duration;

use crate::support::{Deployer, Moto, block_on, edit_environment, environments_copy, target_group_arn};

/// Issue 25, item 3: a new app port replaces the target group. Its name carries a hash of
/// what replaced it, so the new group is created beside the old one, the listener and the
/// service move to it, and only then does the old one go (AWS, and the emulator, refuse to
/// delete a group a listener forwards to: delete-first retried that for 15 minutes).
/// Item 5 on the way: the task definition's roles are seconds old, and ECS refuses them
/// until IAM has propagated them.
#[test]
fn a_new_app_port_replaces_the_target_group_beside_the_old_one_and_converges() {
    let moto = Moto::start_with_tasks(2);
    moto.strict.set_role_propagation(Duration::from_secs(2));
    let dir = environments_copy();
    Deployer::new(&moto)
        .environments(dir.path())
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    let refused = moto.strict.refusals();
    assert!(
        refused.contains(&("RegisterTaskDefinition".to_owned(), "ClientException".to_owned())),
        "the new roles were refused at first, and the registration retried: {refused:?}"
    );
    // Item 8: the task runs on the architecture its image was built for, never on a default.
    let platform = block_on(async {
        aws_sdk_ecs::Client::new(&moto.sdk_config())
            .describe_task_definition()
            .task_definition("staging-api")
            .send()
            .await
            .unwrap()
            .task_definition()
            .and_then(|t| t.runtime_platform().cloned())
    })
    .expect("a runtime platform");
    assert_eq!(
        platform.cpu_architecture().map(|a| a.as_str()),
        Some("X86_64"),
        "{platform:?}"
    );
    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&moto.sdk_config());
    let old = block_on(target_group_arn(&elbv2, "staging"));

    edit_environment(dir.path(), "staging", "  port: 8000\n", "  port: 8080\n");
    let plan = Deployer::new(&moto)
        .environments(dir.path())
        .args(["plan", "staging"])
        .run()
        .expect_status(0);
    assert!(plan.stdout.contains("+/- target_group target-group"), "{}", plan.stdout);
    let applied = Deployer::new(&moto)
        .environments(dir.path())
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    let new = block_on(target_group_arn(&elbv2, "staging"));
    assert_ne!(new, old, "{}", applied.stdout);
    let forwards = block_on(async {
        let balancers = elbv2
            .describe_load_balancers()
            .names("staging-lb")
            .send()
            .await
            .unwrap();
        let arn = balancers.load_balancers()[0].load_balancer_arn().unwrap().to_owned();
        let listeners = elbv2.describe_listeners().load_balancer_arn(arn).send().await.unwrap();
        listeners
            .listeners()
            .iter()
            .flat_map(|l| l.default_actions())
            .filter_map(|a| a.target_group_arn().map(str::to_owned))
            .collect::<Vec<_>>()
    });
    assert_eq!(forwards, std::slice::from_ref(&new));
    let group = block_on(async {
        elbv2
            .describe_target_groups()
            .target_group_arns(&new)
            .send()
            .await
            .unwrap()
            .target_groups()[0]
            .clone()
    });
    assert_eq!(group.port(), Some(8080));
    Deployer::new(&moto)
        .environments(dir.path())
        .args(["plan", "staging", "--detailed-exitcode"])
        .run()
        .expect_status(0);
}

/// Item 7: a new major engine version is an upgrade AWS must be told to allow; the plan says
/// it is one. A later minor AWS chose does not read as drift against a pinned minor (item 14).
#[test]
fn a_major_engine_upgrade_is_allowed_explicitly_and_said_in_the_plan() {
    let moto = Moto::start_with_tasks(2);
    let dir = environments_copy();
    edit_environment(
        dir.path(),
        "staging",
        "  engine: aurora-postgresql\n",
        "  engine: aurora-postgresql\n  engine_version: \"16.6\"\n",
    );
    Deployer::new(&moto)
        .environments(dir.path())
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    edit_environment(
        dir.path(),
        "staging",
        "engine_version: \"16.6\"",
        "engine_version: \"17\"",
    );
    let plan = Deployer::new(&moto)
        .environments(dir.path())
        .args(["plan", "staging"])
        .run()
        .expect_status(0);
    assert!(
        plan.stdout.contains("engine_version: 16.6 → 17 (MAJOR version upgrade"),
        "{}",
        plan.stdout
    );
    Deployer::new(&moto)
        .environments(dir.path())
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    let version = block_on(async {
        aws_sdk_rds::Client::new(&moto.sdk_config())
            .describe_db_clusters()
            .db_cluster_identifier("staging-db")
            .send()
            .await
            .unwrap()
            .db_clusters()[0]
            .engine_version()
            .unwrap()
            .to_owned()
    });
    assert_eq!(version, "17");
    let refused = moto.strict.refusals();
    assert!(
        refused.iter().all(|(operation, _)| operation != "ModifyDBCluster"),
        "{refused:?}"
    );
}

/// Items 9 and 12: IAM is global, so a second region's deployment keeps roles of its own
/// rather than adopting the first one's; and a role a crash left without its inline policy
/// (IAM answers NoSuchEntity) is planned as an update, not an error.
#[test]
fn each_region_keeps_its_own_roles_and_a_role_without_its_policy_is_repaired() {
    let moto = Moto::start();
    Deployer::new(&moto)
        .args(["apply", "development", "--auto-approve"])
        .run()
        .expect_status(0);
    let elsewhere = Deployer::new(&moto)
        .args(["plan", "development", "--region", "eu-west-1"])
        .run()
        .expect_status(0);
    assert!(
        elsewhere.stdout.contains("+ iam_role instance-role"),
        "{}",
        elsewhere.stdout
    );
    assert!(
        elsewhere.stdout.contains("development-eu-west-1-instance"),
        "{}",
        elsewhere.stdout
    );
    assert!(
        elsewhere.stdout.contains("+ instance_profile instance-profile"),
        "{}",
        elsewhere.stdout
    );

    block_on(async {
        aws_sdk_iam::Client::new(&moto.sdk_config())
            .delete_role_policy()
            .role_name("development-us-east-1-instance")
            .policy_name("deployer")
            .send()
            .await
            .unwrap();
    });
    let plan = Deployer::new(&moto)
        .args(["plan", "development"])
        .run()
        .expect_status(0);
    assert!(plan.stdout.contains("~ iam_role instance-role"), "{}", plan.stdout);
    Deployer::new(&moto)
        .args(["apply", "development", "--auto-approve"])
        .run()
        .expect_status(0);
    Deployer::new(&moto)
        .args(["plan", "development", "--detailed-exitcode"])
        .run()
        .expect_status(0);
}

/// The strict proxy checks every request against AWS's API model: a value outside a range
/// the model states is refused as AWS would, and reported.
#[test]
fn a_request_outside_aws_api_model_is_refused_and_reported() {
    let moto = Moto::start();
    let error = block_on(async {
        aws_sdk_elasticloadbalancingv2::Client::new(&moto.sdk_config())
            .create_target_group()
            .name("checked")
            .health_check_interval_seconds(301)
            .send()
            .await
            .unwrap_err()
    });
    let code = aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata::code(&error).map(str::to_owned);
    assert_eq!(code.as_deref(), Some("ValidationException"), "{error:?}");
    let violations = moto.strict.take_violations();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(
        violations[0].contains("CreateTargetGroup")
            && violations[0].contains("HealthCheckIntervalSeconds = 301")
            && violations[0].contains("range 5..=300"),
        "{violations:?}"
    );
}

/// Item 10: an Amazon Linux release alone does not replace the instances: the plan keeps the
/// AMI they run and says a newer one is out; `--update-ami` moves them onto it.
#[test]
fn a_new_amazon_linux_release_waits_for_the_operator() {
    let moto = Moto::start();
    Deployer::new(&moto)
        .args(["apply", "development", "--auto-approve"])
        .run()
        .expect_status(0);
    let running = block_on(async {
        aws_sdk_ec2::Client::new(&moto.sdk_config())
            .describe_launch_template_versions()
            .launch_template_name("development-app")
            .versions("$Latest")
            .send()
            .await
            .unwrap()
            .launch_template_versions()[0]
            .launch_template_data()
            .unwrap()
            .image_id()
            .unwrap()
            .to_owned()
    });
    // AWS publishes a newer image: the newest one DescribeImages lists has another id.
    let proxy = crate::support::proxy::Proxy::start(&moto.endpoint, 0.0, 1);
    let newer = "ami-0aaaabbbbccccdddd";
    proxy.hold(&["DescribeImages"], &running, newer, Duration::from_secs(3600));
    let plan = Deployer::new(&moto)
        .through(&proxy)
        .args(["plan", "development", "--detailed-exitcode"])
        .run()
        .expect_status(0);
    assert!(
        plan.stdout.contains(&format!(
            "A newer Amazon Linux 2023 AMI is out: {newer} (the instances run {running})"
        )),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
    let update = Deployer::new(&moto)
        .through(&proxy)
        .args(["plan", "development", "--update-ami"])
        .run()
        .expect_status(0);
    assert!(
        update.stdout.contains(&format!("image_id: {running} → {newer}")),
        "{}",
        update.stdout
    );
    assert!(!update.stdout.contains("A newer Amazon Linux"), "{}", update.stdout);
}

/// Item 15: the three shipped environments together need exactly the region's default five
/// Elastic IPs; a plan that would go over the quota says so before anything is created.
#[test]
fn a_plan_over_the_elastic_ip_quota_warns_before_anything_is_created() {
    let moto = Moto::start();
    let quiet = Deployer::new(&moto).args(["plan", "production"]).run().expect_status(0);
    assert!(!quiet.stderr.contains("warning:"), "{}", quiet.stderr);
    block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config());
        for _ in 0..3 {
            ec2.allocate_address()
                .domain(aws_sdk_ec2::types::DomainType::Vpc)
                .send()
                .await
                .unwrap();
        }
    });
    let warned = Deployer::new(&moto).args(["plan", "production"]).run().expect_status(0);
    assert!(
        warned
            .stderr
            .contains("warning: this apply adds 3 Elastic IP addresses to the 3 in use, over the quota of 5 (the account's vpc-max-elastic-ips)"),
        "{}",
        warned.stderr
    );
}
