//! `cargo xtask bench deployer`: what real AWS would make of deployer, measured against the
//! local emulator through the proxy of the integration tests (`tests/support/proxy.rs`).
//!
//! 1. Startup: `validate`, and a `plan` refused for a config error, before any AWS call.
//! 2. Emulator speed, several runs: apply from empty, a no-op plan and destroy, each with its
//!    wall time and AWS calls by operation, and the plan's sequential round trips.
//! 3. Realistic latency: every call held 40 ms (a laptop to a region), and the slow kinds held
//!    pending for their real AWS times divided by 50 (`DEPLOYER_POLL_SCALE=50` paces deployer's
//!    polls the same way). The apply is compared with the critical path through its own
//!    dependency graph under the same delays: each step's time in a latency-only apply, plus
//!    its kind's scaled pending time.
//!
//! Prints numbers; asserts nothing about them (targets are read off the output).
//! `BENCH_RUNS` (3), `BENCH_ONLY=emulator|realistic`, `BENCH_ENVIRONMENT=staging` narrow it;
//! `BENCH_TRACE=1` lists the realistic apply's calls with their times, on stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[allow(dead_code, unreachable_pub)]
#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use deployer::apply::{TimedStep, Timeline};
use support::proxy::{Call, Proxy};
use support::{Deployer, Moto};

/// Per-call latency of the realistic mode.
const LATENCY: Duration = Duration::from_millis(40);
/// Real AWS's pending times are divided by this.
const SCALE: u32 = 50;

/// (environment, ECS tasks the emulator reports running, extra destroy flags)
const ENVIRONMENTS: [(&str, u32, &[&str]); 3] = [
    ("development", 1, &[]),
    ("staging", 2, &[]),
    ("production", 4, &["--allow-destroy"]),
];

fn main() {
    // `cargo test --benches` builds and runs this without `--bench`: compiled, not run.
    if !std::env::args().any(|a| a == "--bench") {
        println!("deployer bench: run it with `cargo xtask bench deployer`");
        return;
    }
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    // BENCH_ONLY=emulator or =realistic runs one part.
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    startup(runs.max(5));
    if only != "realistic" {
        println!("\n## Emulator speed ({runs} runs; min / median)");
        for (environment, tasks, destroy_flags) in ENVIRONMENTS {
            emulator_speed(environment, tasks, destroy_flags, runs);
        }
    }
    if only == "emulator" {
        return;
    }
    println!(
        "\n## Realistic latency: {} ms per call, pending times of real AWS / {SCALE}",
        LATENCY.as_millis()
    );
    let wanted = std::env::var("BENCH_ENVIRONMENT").ok();
    for (environment, tasks, destroy_flags) in ENVIRONMENTS {
        if wanted.as_deref().is_some_and(|w| w != environment) {
            continue;
        }
        realistic(environment, tasks, destroy_flags);
    }
}

fn seconds(durations: &mut [f64]) -> String {
    durations.sort_by(f64::total_cmp);
    format!("{:.3} s / {:.3} s", durations[0], durations[durations.len() / 2])
}

fn timed(deployer: Deployer) -> (f64, support::Run) {
    let started = Instant::now();
    let run = deployer.run();
    (started.elapsed().as_secs_f64(), run)
}

fn startup(runs: usize) {
    let bad = tempfile::tempdir().unwrap();
    std::fs::write(
        bad.path().join("staging.yaml"),
        "name: staging\nnetwork: {cidr: 10.0.0.0/33, azs: 2}\n",
    )
    .unwrap();
    let mut validate = Vec::new();
    let mut refused = Vec::new();
    for _ in 0..runs {
        let (time, run) = timed(Deployer::offline().args(["validate"]));
        assert_eq!(run.status, 0, "{}", run.stderr);
        validate.push(time);
        // No endpoint can answer: a plan that got as far as AWS would fail differently.
        let (time, run) = timed(
            Deployer::offline()
                .environments(bad.path())
                .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
                .args(["plan", "staging"]),
        );
        assert!(run.stderr.contains("cidr"), "{}", run.stderr);
        refused.push(time);
    }
    println!("## Startup ({runs} runs; min / median)");
    println!("  validate (all three files)          {}", seconds(&mut validate));
    println!("  plan refused for a config error     {}", seconds(&mut refused));
}

/// The longest chain of calls each of which started after the one before was answered: the
/// round trips that cannot overlap, whatever the latency.
fn sequential_round_trips(calls: &[Call]) -> usize {
    longest_call_chain(calls).len()
}

/// The calls of that chain, first first.
fn longest_call_chain(calls: &[Call]) -> Vec<&str> {
    let mut sorted: Vec<&Call> = calls.iter().collect();
    sorted.sort_by_key(|c| c.answered);
    // (depth, the call before on the chain)
    let mut chain: Vec<(usize, Option<usize>)> = Vec::with_capacity(sorted.len());
    for (index, call) in sorted.iter().enumerate() {
        let before = (0..index)
            .filter(|&i| sorted[i].answered < call.arrived)
            .max_by_key(|&i| chain[i].0);
        chain.push((before.map_or(0, |i| chain[i].0) + 1, before));
    }
    let mut at = (0..sorted.len()).max_by_key(|&i| chain[i].0);
    let mut operations = Vec::new();
    while let Some(index) = at {
        operations.push(sorted[index].operation.as_str());
        at = chain[index].1;
    }
    operations.reverse();
    operations
}

fn by_operation(calls: &[Call]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for call in calls {
        *counts.entry(call.operation.as_str()).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(operation, count)| {
            if count == 1 {
                operation.to_owned()
            } else {
                format!("{operation}×{count}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn emulator_speed(environment: &str, tasks: u32, destroy_flags: &[&str], runs: usize) {
    let (mut apply, mut plan, mut destroy) = (Vec::new(), Vec::new(), Vec::new());
    let mut calls: [Vec<Call>; 3] = Default::default();
    for _ in 0..runs {
        // A fresh emulator each run: it keeps a cluster's automated snapshot, named to the
        // minute, after the cluster is deleted, and refuses a second create within the minute.
        let moto = Moto::start_with_tasks(tasks);
        let proxy = Proxy::start(&moto.endpoint, 0.0, 1);
        let (time, run) = timed(
            Deployer::new(&moto)
                .through(&proxy)
                .args(["apply", environment, "--auto-approve"]),
        );
        assert_eq!(run.status, 0, "{}", run.stderr);
        apply.push(time);
        calls[0] = proxy.take_calls();
        let (time, run) =
            timed(
                Deployer::new(&moto)
                    .through(&proxy)
                    .args(["plan", environment, "--detailed-exitcode"]),
            );
        assert_eq!(run.status, 0, "a plan right after apply has changes:\n{}", run.stdout);
        plan.push(time);
        calls[1] = proxy.take_calls();
        let (time, run) = timed(
            Deployer::new(&moto)
                .through(&proxy)
                .args(["destroy", environment, "--auto-approve"])
                .args(destroy_flags),
        );
        assert_eq!(run.status, 0, "{}", run.stderr);
        destroy.push(time);
        calls[2] = proxy.take_calls();
    }
    println!("\n### {environment}");
    for (what, times, calls) in [
        ("apply from empty", &mut apply, &calls[0]),
        ("no-op plan", &mut plan, &calls[1]),
        ("destroy", &mut destroy, &calls[2]),
    ] {
        println!(
            "  {what:17} {}   {} calls, {} sequential round trips",
            seconds(times),
            calls.len(),
            sequential_round_trips(calls)
        );
    }
    println!("  apply calls: {}", by_operation(&calls[0]));
    println!("  no-op plan calls: {}", by_operation(&calls[1]));
    println!("  destroy calls: {}", by_operation(&calls[2]));
    println!(
        "  no-op plan's longest chain: {}",
        longest_call_chain(&calls[1]).join(" → ")
    );
}

/// Real AWS's typical time in a pending state, by kind, for the step that creates it.
const PENDING_SECONDS: [(&str, f64); 6] = [
    ("nat_gateway", 100.0),
    ("load_balancer", 160.0),
    ("db_cluster", 60.0),
    ("db_instance", 500.0),
    ("auto_scaling_group", 20.0),
    ("ecs_service", 150.0),
];

fn scaled_pending(kind: &str) -> Duration {
    PENDING_SECONDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(Duration::ZERO, |(_, seconds)| {
            Duration::from_secs_f64(seconds / f64::from(SCALE))
        })
}

/// Holds each slow kind pending at the proxy for its scaled time, from its first answer.
fn hold_pending(proxy: &Proxy, tasks: u32) {
    let rules: [(&[&str], &str, &str, &str); 7] = [
        (
            &["CreateNatGateway", "DescribeNatGateways"],
            "<state>available</state>",
            "<state>pending</state>",
            "nat_gateway",
        ),
        (
            &["CreateLoadBalancer", "DescribeLoadBalancers"],
            "<Code>active</Code>",
            "<Code>provisioning</Code>",
            "load_balancer",
        ),
        (
            &["CreateDBCluster", "DescribeDBClusters"],
            "<Status>available</Status>",
            "<Status>creating</Status>",
            "db_cluster",
        ),
        (
            &["CreateDBInstance", "DescribeDBInstances"],
            "<DBInstanceStatus>available</DBInstanceStatus>",
            "<DBInstanceStatus>creating</DBInstanceStatus>",
            "db_instance",
        ),
        (
            &["DescribeAutoScalingGroups"],
            "<LifecycleState>InService</LifecycleState>",
            "<LifecycleState>Pending</LifecycleState>",
            "auto_scaling_group",
        ),
        (
            &["CreateService", "DescribeServices"],
            &format!("\"runningCount\": {tasks}"),
            "\"runningCount\": 0",
            "ecs_service",
        ),
        (
            &["CreateService", "DescribeServices"],
            "\"rolloutState\": \"COMPLETED\"",
            "\"rolloutState\": \"IN_PROGRESS\"",
            "ecs_service",
        ),
    ];
    for (operations, from, to, kind) in rules {
        proxy.hold(operations, from, to, scaled_pending(kind));
    }
}

fn read_timeline(path: &Path) -> Timeline {
    deployer::ops::read_timeline(path).unwrap()
}

/// The longest path through the steps' dependencies, each step weighing `weight`; and the
/// steps on it, first first.
fn longest_path(timeline: &Timeline, weight: impl Fn(&TimedStep) -> f64) -> (f64, Vec<String>) {
    fn finish<'a>(
        name: &'a str,
        steps: &BTreeMap<&'a str, &'a TimedStep>,
        weight: &dyn Fn(&TimedStep) -> f64,
        memo: &mut BTreeMap<&'a str, (f64, Option<&'a str>)>,
    ) -> f64 {
        if let Some((time, _)) = memo.get(name) {
            return *time;
        }
        let step = steps[name];
        let mut latest = (0.0, None);
        for before in &step.after {
            let time = finish(before, steps, weight, memo);
            if time > latest.0 {
                latest = (time, Some(before.as_str()));
            }
        }
        let time = latest.0 + weight(step);
        memo.insert(name, (time, latest.1));
        time
    }
    let steps: BTreeMap<&str, &TimedStep> = timeline.steps.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut memo = BTreeMap::new();
    let Some((last, total)) = steps
        .keys()
        .map(|name| (*name, finish(name, &steps, &weight, &mut memo)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
    else {
        return (0.0, Vec::new());
    };
    let mut path = vec![last.to_owned()];
    let mut current = last;
    while let Some((_, Some(before))) = memo.get(current) {
        path.push((*before).to_owned());
        current = before;
    }
    path.reverse();
    (total, path)
}

/// The emulator's first DynamoDB call after a reset takes most of a second (AWS answers in
/// milliseconds): made here, before anything is timed.
fn warm(moto: &Moto) {
    support::block_on(async {
        let dynamodb = aws_sdk_dynamodb::Client::new(&moto.sdk_config());
        let _absent = dynamodb.describe_table().table_name("warm-up").send().await;
    });
}

/// Applies `environment` through `proxy`, polling at the bench's pace, recording a timeline.
fn apply_recorded(moto: &Moto, proxy: &Proxy, environment: &str, timeline: &Path) -> f64 {
    let (time, run) = timed(
        Deployer::new(moto)
            .through(proxy)
            .env("DEPLOYER_POLL_SCALE", &SCALE.to_string())
            .args(["apply", environment, "--auto-approve", "--timeline"])
            .args([timeline]),
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    time
}

fn realistic(environment: &str, tasks: u32, destroy_flags: &[&str]) {
    let timelines = tempfile::tempdir().unwrap();
    // Latency only: what each step costs in round trips.
    let quick = {
        let moto = Moto::start_with_tasks(tasks);
        let proxy = Proxy::start(&moto.endpoint, 0.0, 1);
        proxy.set_latency(LATENCY);
        apply_recorded(&moto, &proxy, environment, &timelines.path().join("quick.json"));
        read_timeline(&timelines.path().join("quick.json"))
    };
    let moto = Moto::start_with_tasks(tasks);
    let destroy = |proxy: &Proxy| {
        let (time, run) = timed(
            Deployer::new(&moto)
                .through(proxy)
                .args(["destroy", environment, "--auto-approve"])
                .args(destroy_flags),
        );
        assert_eq!(run.status, 0, "{}", run.stderr);
        time
    };

    // Latency and pending times.
    warm(&moto);
    let proxy = Proxy::start(&moto.endpoint, 0.0, 1);
    proxy.set_latency(LATENCY);
    hold_pending(&proxy, tasks);
    let wall = apply_recorded(&moto, &proxy, environment, &timelines.path().join("slow.json"));
    let applied = proxy.take_calls();
    if std::env::var("BENCH_TRACE").is_ok() {
        for call in &applied {
            eprintln!(
                "{:8.3} {:8.3} {}",
                call.at.as_secs_f64(),
                call.done_at.as_secs_f64(),
                call.operation
            );
        }
    }
    let slow = read_timeline(&timelines.path().join("slow.json"));
    let (plan_time, run) =
        timed(
            Deployer::new(&moto)
                .through(&proxy)
                .args(["plan", environment, "--detailed-exitcode"]),
        );
    assert_eq!(run.status, 0, "{}", run.stdout);
    let planned = proxy.take_calls();
    let destroy_time = destroy(&proxy);

    let duration = |step: &TimedStep| step.end - step.start;
    let (bound, path) = longest_path(&quick, |step| {
        let pending = if step.name.starts_with("create ") {
            scaled_pending(&step.kind)
        } else {
            Duration::ZERO
        };
        duration(step) + pending.as_secs_f64()
    });
    let (measured, _) = longest_path(&slow, duration);
    println!("\n### {environment}");
    println!(
        "  apply: critical path under the same delays {bound:.2} s; the steps took {:.2} s ({:.3}x), the whole command {wall:.2} s ({:.3}x)",
        slow.total,
        slow.total / bound,
        wall / bound
    );
    println!(
        "    ({} calls; the steps' own longest chain as they ran: {measured:.2} s)",
        applied.len()
    );
    println!("    critical path: {}", path.join(" → "));
    println!(
        "  no-op plan: {plan_time:.3} s, {} calls, {} sequential round trips",
        planned.len(),
        sequential_round_trips(&planned)
    );
    println!("    longest chain: {}", longest_call_chain(&planned).join(" → "));
    println!("  destroy (deletes not held pending): {destroy_time:.2} s");
}
