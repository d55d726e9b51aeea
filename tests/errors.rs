//! Bad input gets a clear error naming what is wrong and what to do; never a panic or a debug dump.

use crate::support::{Deployer, Moto, environments_copy};

#[test]
fn validate_accepts_every_repository_environment() {
    let run = Deployer::offline().args(["validate"]).run().expect_status(0);
    for name in ["development", "production", "staging"] {
        assert!(
            run.stdout.contains(&format!("✓ environments/{name}.yaml")),
            "{}",
            run.stdout
        );
    }
}

#[test]
fn validate_names_file_line_column_and_field() {
    let dir = environments_copy();
    let path = dir.path().join("staging.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("  desired: 2\n", "  desired: 7\n");
    std::fs::write(&path, &text).unwrap();
    let line = text.lines().position(|l| l == "  desired: 7").unwrap() + 1;
    let run = Deployer::offline()
        .environments(dir.path())
        .args(["validate"])
        .run()
        .expect_status(1);
    let location = format!(
        "{}:{line}:3: compute.desired: 7 is more than compute.max (4)",
        path.display()
    );
    assert!(run.stderr.contains(&location), "{}", run.stderr);
    assert!(
        run.stderr.contains("help: raise compute.max or lower compute.desired"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("1 of 3 environment files are invalid"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("✓") && run.stdout.contains("development.yaml"),
        "valid files are still listed: {}",
        run.stdout
    );
}

#[test]
fn yaml_syntax_error_is_reported_with_its_position() {
    let dir = environments_copy();
    let path = dir.path().join("development.yaml");
    std::fs::write(&path, "name: development\nnetwork: [unclosed\n").unwrap();
    let run = Deployer::offline()
        .environments(dir.path())
        .args(["plan", "development"])
        .run()
        .expect_status(1);
    assert!(run.stderr.contains(&format!("{}:", path.display())), "{}", run.stderr);
    assert!(
        !run.stderr.contains("Error {") && !run.stderr.contains("Location {"),
        "debug dump leaked: {}",
        run.stderr
    );
}

#[test]
fn unknown_environment_lists_the_known_ones() {
    let run = Deployer::offline().args(["plan", "prod"]).run().expect_status(1);
    assert!(
        run.stderr
            .contains("unknown environment `prod`: there is no environments/prod.yaml"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("known environments: development, production, staging"),
        "{}",
        run.stderr
    );
}

#[test]
fn missing_environments_directory_says_how_to_fix_it() {
    let run = Deployer::offline()
        .args(["--environments", "/nonexistent/envs", "plan", "staging"])
        .run()
        .expect_status(1);
    assert!(
        run.stderr
            .contains("environments directory /nonexistent/envs does not exist"),
        "{}",
        run.stderr
    );
}

#[test]
fn unreachable_endpoint_is_a_clear_error() {
    let run = Deployer::offline()
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_MAX_ATTEMPTS", "1")
        .args(["--endpoint-url", "http://127.0.0.1:1", "plan", "development"])
        .run()
        .expect_status(1);
    assert!(
        run.stderr
            .contains("could not read the current state of development in us-east-1"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("could not reach the AWS endpoint"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("help: check --endpoint-url / AWS_ENDPOINT_URL"),
        "{}",
        run.stderr
    );
}

#[test]
fn missing_credentials_is_a_clear_error() {
    let moto = Moto::start();
    let run = Deployer::offline()
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_MAX_ATTEMPTS", "1")
        .args(["plan", "development"])
        .run()
        .expect_status(1);
    assert!(run.stderr.contains("no AWS credentials were found"), "{}", run.stderr);
    assert!(run.stderr.contains("help: set AWS_PROFILE"), "{}", run.stderr);
}

#[test]
fn apply_without_a_terminal_needs_auto_approve_and_changes_nothing() {
    let moto = Moto::start();
    let run = Deployer::new(&moto)
        .args(["apply", "development"])
        .run()
        .expect_status(1);
    assert!(run.stderr.contains("stdin is not a terminal"), "{}", run.stderr);
    assert!(
        run.stderr.contains("help: re-run with --auto-approve"),
        "{}",
        run.stderr
    );
    assert_eq!(
        crate::support::tagged_resources(&moto, "development"),
        Vec::<String>::new()
    );
}

#[test]
fn help_documents_the_exit_status_and_an_undeployed_status_is_an_error_not_unhealthy() {
    let help = Deployer::offline().args(["--help"]).run().expect_status(0);
    for line in [
        "Exit status:",
        "1  error",
        "2  `plan --detailed-exitcode`",
        "3  `status`",
    ] {
        assert!(help.stdout.contains(line), "{line}: {}", help.stdout);
    }
    // Nothing deployed: status could not judge health at all, which is 1, not 3.
    let moto = Moto::start();
    let run = Deployer::new(&moto)
        .args(["status", "development"])
        .run()
        .expect_status(1);
    assert!(run.stderr.contains("is not deployed"), "{}", run.stderr);
}
