use std::path::Path;

use super::*;
use crate::config::{EnvironmentConfig, load_environment};
use crate::model::{Desired, desired, stand_in_facts};

fn shipped(name: &str) -> EnvironmentConfig {
    load_environment(&Path::new(env!("CARGO_MANIFEST_DIR")).join("environments"), name)
        .unwrap()
        .config
}

fn model(config: &EnvironmentConfig) -> Desired {
    desired(config, &stand_in_facts(config)).unwrap()
}

fn priced(config: &EnvironmentConfig) -> Estimate {
    let desired = model(config);
    let resources: Vec<_> = desired.resources.iter().map(|(id, r)| (id, &r.spec)).collect();
    estimate(
        &resources,
        &config.usage,
        config.region.as_deref().unwrap_or("us-east-1"),
    )
    .unwrap()
}

fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() < 0.005
}

const HOURS: f64 = 730.0;

#[test]
fn the_price_file_is_dated_and_every_price_has_a_unit_a_source_and_a_positive_figure() {
    let book: PriceBook = serde_yaml::from_str(PRICE_FILE).unwrap();
    let date = book.date.as_bytes();
    assert!(
        book.date.len() == 10 && date[4] == b'-' && date[7] == b'-',
        "date: {}",
        book.date
    );
    assert_eq!((book.currency.as_str(), book.hours_per_month), ("USD", HOURS));
    let prices = &book.regions["us-east-1"];
    for (dimension, price) in prices {
        assert!(!price.unit.is_empty() && !price.source.is_empty(), "{dimension}");
        assert!(price.price > 0.0 && price.price.is_finite(), "{dimension}");
        if price.unconfirmed {
            assert!(
                price.source.contains("not read from a primary source"),
                "{dimension}: say why"
            );
        }
    }
    // Every kind that bills finds each of its dimensions (sizes: the ones the file prices).
    for (kind, dimensions) in BILLING_KINDS {
        for dimension in *dimensions {
            let found = match dimension.strip_suffix("{size}") {
                Some(prefix) => prices.keys().any(|k| k.starts_with(prefix)),
                None => prices.contains_key(*dimension),
            };
            assert!(
                found,
                "{} bills {dimension}, which us-east-1 does not price",
                kind.name()
            );
        }
    }
}

#[test]
fn development_prices_to_its_hand_computed_month() {
    let estimate = priced(&shipped("development"));
    assert!(estimate.unpriced.is_empty(), "{:?}", estimate.unpriced);
    let expected = 0.045 * HOURS          // one NAT gateway
        + 0.005 * HOURS                   // its elastic IP
        + 0.025 * HOURS                   // the classic ELB
        + 2.0 * 0.005 * HOURS             // its public IPv4 address in each of 2 zones
        + 0.0104 * HOURS                  // one t3.micro
        + 30.0 * 0.08                     // its 30 GB gp3 root volume
        + 0.073 * HOURS                   // one db.t4g.medium
        + (7.0 + 3.0) * 0.10; // 8 alarms: 7 of one metric, the 5xx rate of three
    assert!(
        close(estimate.total.min, expected),
        "{} != {expected}",
        estimate.total.min
    );
    assert!(close(estimate.total.max, expected), "a group of 1 to 1 does not scale");
    assert!(close(expected, 126.33), "{expected}");
    assert!(estimate.unconfirmed, "db.t4g.medium is not confirmed");
}

#[test]
fn staging_prices_to_its_hand_computed_month_at_two_and_at_four_tasks() {
    let estimate = priced(&shipped("staging"));
    let fixed = 0.045 * HOURS + 0.005 * HOURS // one NAT gateway and its address
        + 0.0225 * HOURS + 2.0 * 0.005 * HOURS // the ALB and its 2 zones' addresses
        + 0.073 * HOURS                         // one db.t4g.medium
        + (6.0 + 3.0) * 0.10                    // 7 alarms, the 5xx rate of three metrics
        + 2.0 * 2.0 * 0.10; // target tracking on CPU and on requests: two alarms each
    // 0.25 vCPU and 0.5 GB per task.
    let task = 0.25 * 0.04048 * HOURS + 0.5 * 0.004445 * HOURS;
    assert!(close(estimate.total.min, fixed + 2.0 * task), "{}", estimate.total.min);
    assert!(close(estimate.total.max, fixed + 4.0 * task), "{}", estimate.total.max);
    assert!(close(estimate.total.min, 132.84) && close(estimate.total.max, 150.86));
}

#[test]
fn production_prices_to_its_hand_computed_month_at_four_and_at_eight_tasks() {
    let estimate = priced(&shipped("production"));
    let fixed = 3.0 * (0.045 + 0.005) * HOURS   // a NAT gateway and its address per zone
        + 0.0225 * HOURS + 3.0 * 0.005 * HOURS  // the ALB and its 3 zones' addresses
        + 2.0 * 0.26 * HOURS                     // writer and reader, db.r6g.large
        + (6.0 + 3.0) * 0.10                     // 7 alarms
        + 2.0 * 2.0 * 0.10; // target tracking on CPU and on requests: two alarms each
    // 0.5 vCPU and 1 GB per task.
    let task = 0.5 * 0.04048 * HOURS + 1.0 * 0.004445 * HOURS;
    assert!(close(estimate.total.min, fixed + 4.0 * task), "{}", estimate.total.min);
    assert!(close(estimate.total.max, fixed + 8.0 * task), "{}", estimate.total.max);
    // The access log bucket bills by what it keeps: per unit, not in the total.
    assert!(
        estimate
            .lines
            .iter()
            .any(|l| l.dimension == "s3-standard-gb-month" && l.monthly.is_none())
    );
}

fn change_between(before: &EnvironmentConfig, after: &EnvironmentConfig) -> CostChange {
    let (was, will) = (model(before), model(after));
    let observed: Vec<_> = was.resources.iter().map(|(id, r)| (id, &r.spec)).collect();
    let desired: Vec<_> = will.resources.iter().map(|(id, r)| (id, &r.spec)).collect();
    match change(&desired, &observed, &after.usage, "us-east-1") {
        PlanCost::Estimated(change) => change,
        PlanCost::Unpriced(unpriced) => panic!("{unpriced}"),
    }
}

#[test]
fn a_nat_gateway_added_costs_its_hours_and_its_public_ipv4_address() {
    let single = shipped("staging");
    let mut per_zone = single.clone();
    per_zone.network.nat = crate::config::NatMode::PerAz;
    let change = change_between(&single, &per_zone);
    let expected = 0.045 * HOURS + 0.005 * HOURS;
    assert!(close(change.difference.min, expected), "{:?}", change.difference);
    assert!(close(expected, 36.50));
    let changed: Vec<(&str, &str)> = change.changed.iter().map(|c| (c.kind.name(), c.id.as_str())).collect();
    assert_eq!(changed, [("elastic_ip", "nat-eip-b"), ("nat_gateway", "nat-gateway-b")]);
}

#[test]
fn arm64_tasks_are_priced_as_fargate_on_arm() {
    let x86 = shipped("staging");
    let mut arm = x86.clone();
    arm.compute.architecture = crate::config::Architecture::Arm64;
    let estimate = priced(&arm);
    let vcpu = estimate
        .lines
        .iter()
        .find(|l| l.resource.as_str() == "ecs-service" && l.dimension.ends_with("vcpu-hour"))
        .unwrap();
    assert_eq!(vcpu.dimension, "fargate-arm-vcpu-hour");
    assert!(close(vcpu.monthly.unwrap().min, 2.0 * 0.25 * 0.03238 * HOURS));
    let change = change_between(&x86, &arm);
    let per_task = 0.25 * (0.04048 - 0.03238) * HOURS + 0.5 * (0.004445 - 0.00356) * HOURS;
    // Totals are rounded to the cent before they are compared: a cent either way.
    assert!(
        (change.difference.min + 2.0 * per_task).abs() <= 0.011,
        "{:?}",
        change.difference
    );
}

#[test]
fn a_usage_section_turns_per_unit_lines_into_amounts() {
    let plain = shipped("staging");
    let before = priced(&plain);
    let mut used = plain.clone();
    used.usage.nat_gb_processed = Some(100.0);
    used.usage.load_balancer_lcus = Some(2.0);
    let after = priced(&used);
    let nat = after.lines.iter().find(|l| l.dimension == "nat-gateway-gb").unwrap();
    assert!(close(nat.monthly.unwrap().min, 100.0 * 0.045));
    let lcus = after.lines.iter().find(|l| l.dimension == "alb-lcu-hour").unwrap();
    assert!(close(lcus.monthly.unwrap().min, 2.0 * HOURS * 0.008));
    assert_eq!(after.per_unit, before.per_unit - 2);
    assert!(close(after.total.min - before.total.min, 4.50 + 11.68));
}

#[test]
fn a_region_without_prices_says_so() {
    let config = shipped("staging");
    let desired = model(&config);
    let resources: Vec<_> = desired.resources.iter().map(|(id, r)| (id, &r.spec)).collect();
    let error = estimate(&resources, &config.usage, "eu-west-1").unwrap_err();
    assert_eq!(error.region, "eu-west-1");
    assert!(error.to_string().contains("has no prices for eu-west-1"), "{error}");
}

#[test]
fn amounts_read_as_dollars_and_cents() {
    assert_eq!(dollars(1234.565), "$1,234.57");
    assert_eq!(dollars(-36.5), "-$36.50");
    assert_eq!(range(Range { min: 1.0, max: 2.0 }), "$1.00–$2.00");
}
