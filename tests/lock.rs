//! Issue 10: one deployer at a time per environment. The lock lives in AWS (a DynamoDB item
//! written with a condition), names its holder, expires when its holder was killed, and can
//! be broken with `deployer unlock`.

use std::time::{Duration, Instant};

use crate::support::proxy::Proxy;
use crate::support::{Deployer, Moto, Run, block_on};

/// The lock item for `environment`, read with the SDK, not through deployer.
fn lock_item(moto: &Moto, environment: &str) -> Option<String> {
    block_on(async {
        let dynamodb = aws_sdk_dynamodb::Client::new(&moto.sdk_config());
        let item = dynamodb
            .get_item()
            .table_name("deployer-locks")
            .key(
                "environment",
                aws_sdk_dynamodb::types::AttributeValue::S(environment.into()),
            )
            .consistent_read(true)
            .send()
            .await
            .ok()?;
        item.item()?.get("command")?.as_s().ok().cloned()
    })
}

fn wait_for_lock(moto: &Moto, environment: &str) {
    let started = Instant::now();
    while lock_item(moto, environment).is_none() {
        assert!(started.elapsed() < Duration::from_secs(60), "the lock was never taken");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn elastic_ips(moto: &Moto) -> usize {
    block_on(async { moto.ec2().describe_addresses().send().await.unwrap().addresses().len() })
}

#[test]
fn of_two_applies_started_together_one_proceeds_and_the_other_names_the_holder() {
    let moto = Moto::start_with_tasks(2);
    // Slow calls, so the two runs overlap for seconds, as they would against real AWS.
    let proxy = Proxy::start(&moto.endpoint, 0.0, 1);
    proxy.set_latency(Duration::from_millis(20));
    let apply = || {
        Deployer::new(&moto)
            .through(&proxy)
            .env("USER", "racer")
            .args(["apply", "staging", "--auto-approve"])
    };
    let (first, second) = std::thread::scope(|scope| {
        let first = scope.spawn(|| apply().run());
        let second = scope.spawn(|| apply().run());
        (first.join().unwrap(), second.join().unwrap())
    });
    let (winner, loser): (Run, Run) = if first.status == 0 {
        (first, second)
    } else {
        (second, first)
    };
    let winner = winner.expect_status(0);
    assert!(
        winner.stdout.contains("Apply complete! Resources: 38 added"),
        "{}",
        winner.stdout
    );
    let loser = loser.expect_status(1);
    assert!(loser.stderr.contains("staging is locked by racer@"), "{}", loser.stderr);
    assert!(loser.stderr.contains("(apply staging) since 20"), "{}", loser.stderr);
    assert!(loser.stderr.contains("the lock expires at 20"), "{}", loser.stderr);
    assert!(loser.stderr.contains("`deployer unlock staging`"), "{}", loser.stderr);
    // No duplicates, and the lock is gone with the run that held it.
    assert_eq!(elastic_ips(&moto), 1);
    Deployer::new(&moto)
        .args(["plan", "staging", "--detailed-exitcode"])
        .run()
        .expect_status(0);
    assert_eq!(lock_item(&moto, "staging"), None);
}

#[test]
fn a_killed_apply_blocks_others_until_unlocked_or_expired() {
    // As the least-privileged operator: unlock needs nothing beyond the deploy policy.
    let mut moto = Moto::start_with_tasks(2);
    moto.enforce_least_privilege("staging");
    // A fresh emulator loads each service on its first call, for seconds on a busy machine:
    // long enough to stall the apply's renewals past the 4 s lock below. Warm it first.
    Deployer::new(&moto).args(["plan", "staging"]).run().expect_status(0);
    let proxy = Proxy::start(&moto.endpoint, 0.0, 1);
    proxy.set_latency(Duration::from_millis(30));
    let slow_apply = || {
        Deployer::new(&moto)
            .through(&proxy)
            .env("DEPLOYER_LOCK_TTL", "4")
            .args(["apply", "staging", "--auto-approve"])
            .spawn()
    };

    // A destroy during an apply is refused too, naming the apply.
    let mut killed = slow_apply();
    wait_for_lock(&moto, "staging");
    let destroy = Deployer::new(&moto)
        .args(["destroy", "staging", "--auto-approve"])
        .run()
        .expect_status(1);
    assert!(destroy.stderr.contains("(apply staging) since"), "{}", destroy.stderr);
    killed.kill().unwrap();
    killed.wait().unwrap();

    // The killed run's lock outlives it; unlock asks first, then breaks it.
    let blocked = Deployer::new(&moto)
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(1);
    assert!(blocked.stderr.contains("staging is locked by"), "{}", blocked.stderr);
    let unasked = Deployer::new(&moto).args(["unlock", "staging"]).run().expect_status(1);
    assert!(unasked.stderr.contains("stdin is not a terminal"), "{}", unasked.stderr);
    assert!(lock_item(&moto, "staging").is_some());
    let unlock = Deployer::new(&moto)
        .args(["unlock", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    assert!(unlock.stdout.contains("staging is locked by"), "{}", unlock.stdout);
    assert!(
        unlock.stdout.contains("The lock on staging is broken."),
        "{}",
        unlock.stdout
    );
    assert_eq!(lock_item(&moto, "staging"), None);

    // Killed again: this time the lock expires on its own (DEPLOYER_LOCK_TTL=4 s).
    let mut killed = slow_apply();
    wait_for_lock(&moto, "staging");
    killed.kill().unwrap();
    killed.wait().unwrap();
    std::thread::sleep(Duration::from_secs(5));
    let apply = Deployer::new(&moto)
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    assert!(apply.stdout.contains("Apply complete!"), "{}", apply.stdout);
    assert_eq!(
        elastic_ips(&moto),
        1,
        "a killed apply and its successor made duplicates"
    );
    Deployer::new(&moto)
        .args(["plan", "staging", "--detailed-exitcode"])
        .run()
        .expect_status(0);
}
