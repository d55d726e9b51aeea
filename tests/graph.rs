//! `graph`: the dependency graph of an environment, and of an apply as it ran.

use crate::support::{Deployer, Moto, root};

#[test]
fn the_graph_of_an_environment_marks_the_chain_aws_makes_longest() {
    let dot = Deployer::offline().args(["graph", "staging"]).run().expect_status(0);
    assert!(dot.stdout.starts_with("digraph deployer {"), "{}", dot.stdout);
    assert!(
        dot.stdout.contains("\"create vpc\" -> \"create subnet-public-a\""),
        "{}",
        dot.stdout
    );
    // Aurora is the slowest chain on AWS: its steps are the critical ones.
    assert!(
        dot.stdout
            .contains("\"create db-cluster\" [label=\"db_cluster db-cluster\\n~600 s\", color=red, penwidth=2];"),
        "{}",
        dot.stdout
    );
    assert!(
        dot.stdout
            .contains("\"create vpc\" [label=\"vpc vpc\\n~2 s\", color=red"),
        "{}",
        dot.stdout
    );
    assert!(
        !dot.stdout
            .contains("\"create log-group\" [label=\"log_group log-group\\n~1 s\", color=red"),
        "{}",
        dot.stdout
    );

    let mermaid = Deployer::offline()
        .args(["graph", "staging", "--format", "mermaid"])
        .run()
        .expect_status(0);
    assert!(mermaid.stdout.contains("flowchart LR"), "{}", mermaid.stdout);
    assert!(
        mermaid.stdout.contains("create_vpc --> create_subnet_public_a"),
        "{}",
        mermaid.stdout
    );
    assert!(
        mermaid
            .stdout
            .lines()
            .any(|l| l.starts_with("  class ") && l.contains("create_db_cluster,") && l.ends_with(" critical")),
        "{}",
        mermaid.stdout
    );

    let text = Deployer::offline()
        .args(["graph", "staging", "--format", "text"])
        .run()
        .expect_status(1);
    assert!(
        text.stderr.contains("--format text draws a timeline"),
        "{}",
        text.stderr
    );
}

#[test]
fn the_readme_picture_is_the_real_output() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme.find("```mermaid\n").expect("a mermaid picture in the README") + "```mermaid\n".len();
    let end = start + readme[start..].find("```").unwrap();
    let mermaid = Deployer::offline()
        .args(["graph", "development", "--format", "mermaid"])
        .run()
        .expect_status(0);
    assert_eq!(
        &readme[start..end],
        mermaid.stdout,
        "update the README's picture: cargo run -- graph development --format mermaid"
    );
}

#[test]
fn an_apply_records_its_timeline_and_graph_draws_its_critical_path() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("development.timeline.json");
    Deployer::new(&moto)
        .args(["apply", "development", "--auto-approve", "--timeline"])
        .args([&file])
        .run()
        .expect_status(0);
    let timeline: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let steps = timeline["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 35, "{timeline}");
    let step = |name: &str| steps.iter().find(|s| s["name"] == name).unwrap();
    let vpc = step("create vpc");
    let subnet = step("create subnet-public-a");
    assert!(
        vpc["end"].as_f64().unwrap() <= subnet["start"].as_f64().unwrap(),
        "{timeline}"
    );
    assert_eq!(subnet["after"], serde_json::json!(["create vpc"]));

    let chart = Deployer::new(&moto)
        .args(["graph", "--format", "text", "--timeline"])
        .args([&file])
        .run()
        .expect_status(0);
    assert!(chart.stdout.starts_with("development: apply took "), "{}", chart.stdout);
    assert!(
        chart.stdout.contains("* create vpc"),
        "the VPC starts every chain: {}",
        chart.stdout
    );
    assert!(
        chart.stdout.contains("* critical path: create vpc → "),
        "{}",
        chart.stdout
    );
    let dot = Deployer::new(&moto)
        .args(["graph", "--timeline"])
        .args([&file])
        .run()
        .expect_status(0);
    assert!(dot.stdout.contains("development: apply of 35 steps"), "{}", dot.stdout);
}
