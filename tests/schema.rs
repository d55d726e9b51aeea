//! The environment files' JSON Schema, checked with a validator that is not deployer's own
//! (check-jsonschema, installed by `cargo xtask setup` beside the emulator).

use std::path::PathBuf;
use std::process::Command;

use crate::support::{Deployer, environments_copy, root};

fn check_jsonschema() -> PathBuf {
    std::env::var_os("MOTO_SERVER")
        .map_or_else(|| root().join(".venv/bin/moto_server"), PathBuf::from)
        .with_file_name("check-jsonschema")
}

#[test]
fn every_environment_file_matches_the_committed_schema_which_is_the_generated_one() {
    let printed = Deployer::offline().args(["schema"]).run().expect_status(0);
    let committed = std::fs::read_to_string(root().join("environments/schema.json")).unwrap();
    assert_eq!(
        printed.stdout, committed,
        "run `cargo run -- schema > environments/schema.json`"
    );

    let dir = environments_copy();
    let files: Vec<PathBuf> = ["development", "staging", "production"]
        .iter()
        .map(|name| dir.path().join(format!("{name}.yaml")))
        .collect();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(
            text.starts_with("# yaml-language-server: $schema=./schema.json\n"),
            "{} does not point editors at the schema",
            file.display()
        );
    }
    let schema = root().join("environments/schema.json");
    let valid = Command::new(check_jsonschema())
        .arg("--schemafile")
        .arg(&schema)
        .args(&files)
        .output()
        .expect("run check-jsonschema");
    assert!(
        valid.status.success(),
        "{}{}",
        String::from_utf8_lossy(&valid.stdout),
        String::from_utf8_lossy(&valid.stderr)
    );

    // The same validator refuses what deployer refuses: an unknown key and a misspelt choice.
    let staging = dir.path().join("staging.yaml");
    let text = std::fs::read_to_string(&staging).unwrap();
    std::fs::write(
        &staging,
        text.replacen("  nat: single\n", "  nat: sometimes\n  nats: 2\n", 1),
    )
    .unwrap();
    assert!(std::fs::read_to_string(&staging).unwrap().contains("nats: 2"));
    let invalid = Command::new(check_jsonschema())
        .arg("--schemafile")
        .arg(&schema)
        .arg(&staging)
        .output()
        .expect("run check-jsonschema");
    let said = String::from_utf8_lossy(&invalid.stdout);
    assert!(!invalid.status.success(), "{said}");
    assert!(said.contains("sometimes"), "{said}");
    assert!(said.contains("nats"), "{said}");
}

#[test]
fn completions_and_the_man_page_are_generated_from_the_commands() {
    let bash = Deployer::offline().args(["completions", "bash"]).run().expect_status(0);
    assert!(bash.stdout.contains("complete -F _deployer"), "{}", bash.stdout);
    assert!(bash.stdout.contains("rollback"), "every command is completed");
    let zsh = Deployer::offline().args(["completions", "zsh"]).run().expect_status(0);
    assert!(zsh.stdout.starts_with("#compdef deployer"), "{}", zsh.stdout);
    let fish = Deployer::offline().args(["completions", "fish"]).run().expect_status(0);
    assert!(fish.stdout.contains("complete -c deployer"), "{}", fish.stdout);

    let man = Deployer::offline().args(["man"]).run().expect_status(0);
    assert!(
        man.stdout.starts_with(".ie \\n(.g .ds Aq"),
        "{}",
        &man.stdout[..80.min(man.stdout.len())]
    );
    assert!(man.stdout.contains(".TH deployer 1"), "{}", man.stdout);
    assert!(man.stdout.contains("Converge an environment"), "{}", man.stdout);
}
