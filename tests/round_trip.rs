//! plan → apply → plan (no changes) → destroy → nothing left, against the emulator.

use crate::support::{Deployer, Moto, environments_copy, tagged_resources};

fn round_trip(environment: &str, expected_resources: usize) {
    let moto = Moto::start();
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
    assert_eq!(
        tagged_resources(&moto, environment).len(),
        expected_resources - 3,
        "rule sets are not resources of their own"
    );

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

    let destroy = Deployer::new(&moto)
        .args(["destroy", environment, "--auto-approve"])
        .run()
        .expect_status(0);
    assert!(destroy.stdout.contains("Destroy complete!"), "{}", destroy.stdout);
    assert_eq!(tagged_resources(&moto, environment), Vec::<String>::new());

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
    round_trip("development", 17);
}

#[test]
fn staging_round_trip() {
    round_trip("staging", 17);
}

#[test]
fn drift_is_repaired_in_place() {
    let moto = Moto::start();
    Deployer::new(&moto)
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    let ec2 = moto.ec2();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
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
    let moto = Moto::start();
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
    let moto = Moto::start();
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
    assert_eq!(tagged_resources(&moto, "staging").len(), 14, "nothing was destroyed");

    Deployer::new(&moto)
        .args(["destroy", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    assert_eq!(
        tagged_resources(&moto, "development").len(),
        14,
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
    let moto = Moto::start();
    Deployer::new(&moto)
        .args(["apply", "production", "--auto-approve"])
        .run()
        .expect_status(0);
    let before = tagged_resources(&moto, "production");
    assert_eq!(
        before.len(),
        21,
        "VPC, 6 subnets, gateway, 3 addresses, 3 NATs, 4 route tables, 3 groups: {before:?}"
    );

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

#[test]
fn json_apply_emits_one_event_per_line() {
    let moto = Moto::start();
    let run = Deployer::new(&moto)
        .args(["apply", "development", "--auto-approve", "--json", "--parallelism", "2"])
        .run()
        .expect_status(0);
    let events: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(events.first().unwrap()["event"], "plan");
    assert_eq!(events.last().unwrap()["event"], "outputs");
    let finished = events.iter().filter(|e| e["event"] == "finished").count();
    assert_eq!(finished, 17);
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "started" && e["id"] == "nat-gateway-a")
    );
}
