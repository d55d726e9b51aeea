//! `deployer cost` offline, and the estimate at the end of every plan.

use crate::support::{Deployer, Moto};

#[test]
fn cost_prints_each_environments_month_offline_and_refuses_to_guess_a_region() {
    // No endpoint, no credentials: the estimate needs no AWS.
    let staging = Deployer::offline().args(["cost", "staging"]).run().expect_status(0);
    assert!(
        staging.stdout.contains("Total: $132.84–$150.86/month"),
        "{}",
        staging.stdout
    );
    assert!(staging.stdout.contains("prices of 2026-12-01"), "{}", staging.stdout);
    assert!(staging.stdout.contains("Not included: taxes"), "{}", staging.stdout);

    let json = Deployer::offline()
        .args(["cost", "production", "--json"])
        .run()
        .expect_status(0);
    let object: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(object["format_version"], "1.0");
    assert_eq!(object["estimate"]["total"]["min"], 589.86);
    assert_eq!(object["estimate"]["total"]["max"], 661.94);
    let lines = object["estimate"]["lines"].as_array().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l["dimension"] == "public-ipv4-hour" && l["resource"] == "load-balancer")
    );

    let elsewhere = Deployer::offline()
        .args(["cost", "staging", "--region", "eu-west-1"])
        .run()
        .expect_status(1);
    assert!(
        elsewhere.stderr.contains("has no prices for eu-west-1"),
        "{}",
        elsewhere.stderr
    );
}

#[test]
fn every_plan_ends_with_the_month_before_and_after_and_what_changes_it() {
    let moto = Moto::start_with_tasks(2);
    let plan = Deployer::new(&moto)
        .args(["plan", "staging", "--detailed-exitcode"])
        .run()
        .expect_status(2);
    assert!(
        plan.stdout.contains("Cost: $0.00/month → $132.84/month (+$132.84: "),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("$0.00/month → $150.86/month with autoscaled compute at its maximum"),
        "{}",
        plan.stdout
    );
    let json = Deployer::new(&moto)
        .args(["plan", "staging", "--json"])
        .run()
        .expect_status(0);
    let object: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(object["cost"]["status"], "estimated");
    assert_eq!(object["cost"]["after"]["min"], 132.84);

    Deployer::new(&moto)
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    // A second NAT gateway: its hours and its public IPv4 address, and nothing else.
    let dir = moto.environments_copy();
    crate::support::edit_environment(dir.path(), "staging", "nat: single", "nat: per-az");
    let file = dir.path().join("per-az.plan");
    let more = Deployer::new(&moto)
        .environments(dir.path())
        .args([
            std::ffi::OsStr::new("plan"),
            "staging".as_ref(),
            "--out".as_ref(),
            file.as_os_str(),
        ])
        .run()
        .expect_status(0);
    assert!(
        more.stdout.contains(
            "Cost: $132.84/month → $169.34/month (+$36.50: + elastic_ip nat-eip-b, + nat_gateway nat-gateway-b)"
        ),
        "{}",
        more.stdout
    );
    // The saved plan carries it, and shows it again.
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(saved["plan"]["cost"]["difference"]["min"], 36.5, "{saved}");
    let shown = Deployer::new(&moto)
        .environments(dir.path())
        .args([std::ffi::OsStr::new("show"), file.as_os_str()])
        .run()
        .expect_status(0);
    assert!(shown.stdout.contains("(+$36.50: "), "{}", shown.stdout);

    // A destroy's plan says what it saves.
    let destroy = Deployer::new(&moto)
        .args(["destroy", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    assert!(
        destroy.stdout.contains("Cost: $132.84/month → $0.00/month (-$132.84: "),
        "{}",
        destroy.stdout
    );
}
