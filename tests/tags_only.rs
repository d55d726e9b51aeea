//! Issue 16: a change to nothing but the `tags:` block applies cleanly on every environment,
//! touches tags only, and leaves nothing for the next plan.

use crate::support::{Deployer, Moto};

/// Rewrites the environment file's `tags:` block (the last block of every file) to `block`.
fn set_tags(dir: &std::path::Path, environment: &str, block: &str) {
    let path = dir.join(format!("{environment}.yaml"));
    let text = std::fs::read_to_string(&path).unwrap();
    let kept = text.split("\ntags:").next().unwrap().trim_end();
    std::fs::write(&path, format!("{kept}\n{block}")).unwrap();
}

fn apply_then_nothing_left(moto: &Moto, dir: &std::path::Path, environment: &str) -> String {
    let apply = Deployer::new(moto)
        .environments(dir)
        .args(["apply", environment, "--auto-approve"])
        .run()
        .expect_status(0);
    let again = Deployer::new(moto)
        .environments(dir)
        .args(["plan", environment, "--detailed-exitcode"])
        .run()
        .expect_status(0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    apply.stdout
}

/// `untagged`: resources AWS keeps no tags on (security group rules, scaling policies).
fn tags_only_change(environment: &str, tasks: u32, expected_resources: usize, untagged: usize) {
    let moto = Moto::start_with_tasks(tasks);
    let dir = moto.environments_copy();
    set_tags(dir.path(), environment, "tags:\n  cost-center: platform\n  team: sre\n");
    apply_then_nothing_left(&moto, dir.path(), environment);

    // Change one value, add one tag, remove another: every resource is updated, none replaced.
    set_tags(dir.path(), environment, "tags:\n  cost-center: finance\n  owner: api\n");
    let plan = Deployer::new(&moto)
        .environments(dir.path())
        .args(["plan", environment, "--json"])
        .run()
        .expect_status(0);
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let changes = plan["changes"].as_array().unwrap();
    // Security group rules (one set per group: load balancer, app, database) live inside
    // their group and carry no tags of their own; nor does the service's scaling.
    let tagged = expected_resources - untagged;
    assert_eq!(changes.len(), tagged, "{plan:#}");
    for change in changes {
        assert_eq!(change["action"], "update", "{change:#}");
        let reasons = change["reasons"].as_array().unwrap();
        let keys: Vec<&str> = reasons.iter().map(|r| r["key"].as_str().unwrap()).collect();
        assert_eq!(keys, ["cost-center", "owner", "team"], "{change:#}");
        assert!(reasons.iter().all(|r| r["reason"] == "tag"), "{change:#}");
    }
    let apply = apply_then_nothing_left(&moto, dir.path(), environment);
    assert!(
        apply.contains(&format!("Resources: 0 added, {tagged} changed, 0 destroyed")),
        "{apply}"
    );
}

#[test]
fn tags_only_change_on_development() {
    tags_only_change("development", 1, 35, 3);
}

#[test]
fn tags_only_change_on_staging() {
    tags_only_change("staging", 2, 38, 4);
}

#[test]
fn tags_only_change_on_production() {
    tags_only_change("production", 4, 49, 4);
}
