//! Issue 10: apply, plan and destroy converge while a fifth of the AWS calls fail the ways
//! real AWS fails (503 without a body, throttling in each protocol's shape, 500, reset
//! connections), injected by the proxy in tests/support/proxy.rs. The proxy's counts are
//! printed (`cargo test faults -- --nocapture`).
#![allow(clippy::print_stderr)]

use crate::destroy_order::{assert_dependants_deleted_first, dependencies};
use crate::support::proxy::{Answer, Call, Fault, Proxy, summary};
use crate::support::{Deployer, Moto, tagged_resources};

const FAULT_RATE: f64 = 0.2;

fn converges(environment: &str, tasks: u32, expected_resources: usize, destroy_flags: &[&str]) {
    let moto = Moto::start_with_tasks(tasks);
    let proxy = Proxy::start(&moto.endpoint, FAULT_RATE, 20_261_125);

    let apply = Deployer::new(&moto)
        .through(&proxy)
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
    report(&proxy, environment, "apply");

    let plan = Deployer::new(&moto)
        .through(&proxy)
        .args(["plan", environment, "--detailed-exitcode"])
        .run()
        .expect_status(0);
    assert!(plan.stdout.contains("No changes."), "{}", plan.stdout);
    report(&proxy, environment, "no-op plan");

    let edges = dependencies(&moto, environment);
    Deployer::new(&moto)
        .through(&proxy)
        .args(["destroy", environment, "--auto-approve"])
        .args(destroy_flags)
        .run()
        .expect_status(0);
    let calls = report(&proxy, environment, "destroy");
    assert_eq!(tagged_resources(&moto, environment), Vec::<String>::new());
    let checked = assert_dependants_deleted_first(&edges, &calls);
    eprintln!("--- destroy {environment}: {checked} dependencies held in order");
    assert!(checked >= 20, "only {checked} dependencies checked");
}

/// Prints the proxy's counts for one command and checks faults were really injected.
fn report(proxy: &Proxy, environment: &str, command: &str) -> Vec<Call> {
    let calls = proxy.take_calls();
    let faults = calls.iter().filter(|c| matches!(c.answer, Answer::Fault(_))).count();
    eprintln!(
        "--- {command} {environment} through {FAULT_RATE} faults: {}",
        summary(&calls)
    );
    assert!(faults > 0, "no fault was injected into {command} {environment}");
    calls
}

#[test]
fn staging_converges_through_faults() {
    converges("staging", 2, 38, &[]);
}

#[test]
fn production_converges_through_faults() {
    converges("production", 4, 49, &["--allow-destroy"]);
}

#[test]
fn a_new_instance_profile_that_auto_scaling_cannot_see_yet_is_waited_for() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto.endpoint, 0.0, 1);
    // What EC2 Auto Scaling answers for seconds after an instance profile is created.
    proxy.reject(
        "CreateAutoScalingGroup",
        2,
        "ValidationError",
        "You must use a valid fully-formed launch template. Value (development-instance) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name",
    );
    let apply = Deployer::new(&moto)
        .through(&proxy)
        .args(["apply", "development", "--auto-approve"])
        .run()
        .expect_status(0);
    assert!(
        apply
            .stdout
            .contains("waiting for the IAM role of development-app to reach the service"),
        "{}",
        apply.stdout
    );
    let creates = proxy
        .take_calls()
        .into_iter()
        .filter(|c| c.operation == "CreateAutoScalingGroup")
        .count();
    assert_eq!(creates, 3, "two rejected, the third accepted");
}

/// IAM takes no client token: a CreateRole whose answer was lost, retried, meets
/// EntityAlreadyExists. The role its first attempt made is deployer's (it carries the
/// environment and logical id), so it is adopted, not made twice nor left failing.
#[test]
fn a_role_whose_create_answer_was_lost_is_adopted_not_duplicated() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto.endpoint, 0.0, 1);
    proxy.lose_answer("CreateRole", 1);
    Deployer::new(&moto)
        .through(&proxy)
        .args(["apply", "development", "--auto-approve"])
        .run()
        .expect_status(0);
    let calls = proxy.take_calls();
    let creates: Vec<&Call> = calls.iter().filter(|c| c.operation == "CreateRole").collect();
    let lost = creates.iter().position(|c| c.answer == Answer::Fault(Fault::Lost));
    let lost = lost.expect("the first CreateRole's answer was dropped");
    let name = &creates[lost].params["RoleName"];
    let again: Vec<&&Call> = creates[lost + 1..]
        .iter()
        .filter(|c| &c.params["RoleName"] == name)
        .collect();
    assert!(
        again.iter().any(|c| !c.succeeded()),
        "the retry met the role its first attempt made: {}",
        summary(&calls)
    );
    // Adopted: the environment converged, with nothing left to create or replace.
    Deployer::new(&moto)
        .args(["plan", "development", "--detailed-exitcode"])
        .run()
        .expect_status(0);
}
