//! What an environment costs a month, estimated offline from `prices/aws.yaml` (pure: no I/O).
//! Each kind states what it bills from its spec (`lines.rs`); fixed parts are priced from the
//! spec, usage-based parts from the environment's `usage:` or shown per unit; autoscaled
//! compute is priced at its minimum and its maximum.

mod lines;
mod prices;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::Serialize;

pub use lines::BILLING_KINDS;
pub use prices::{PRICE_FILE, Price, PriceBook, book};

use crate::config::UsageConfig;
use crate::model::{Id, Kind, Spec};

/// How much of a dimension a resource uses in a month, in its price's unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "basis", rename_all = "snake_case")]
pub enum Quantity {
    /// Known from the spec: at the least and at the most (autoscaled compute differs).
    Fixed { min: f64, max: f64 },
    /// Billed by use: the `usage:` field that gives it, and the quantity when it is given.
    Usage { field: &'static str, given: Option<f64> },
}

/// A monthly amount at the least and at the most.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Range {
    pub min: f64,
    pub max: f64,
}

impl Range {
    /// To the cent, as bills are.
    fn rounded(self) -> Range {
        Range {
            min: cents(self.min) as f64 / 100.0,
            max: cents(self.max) as f64 / 100.0,
        }
    }

    fn add(&mut self, other: Range) {
        self.min += other.min;
        self.max += other.max;
    }

    pub fn minus(self, other: Range) -> Range {
        Range {
            min: self.min - other.min,
            max: self.max - other.max,
        }
    }

    /// Equal to the cent.
    pub fn same_as(self, other: Range) -> bool {
        cents(self.min) == cents(other.min) && cents(self.max) == cents(other.max)
    }
}

fn cents(amount: f64) -> i64 {
    (amount * 100.0).round() as i64
}

/// One priced dimension of one resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostLine {
    pub resource: Id,
    pub kind: Kind,
    /// What is counted, for people: `NAT gateway hours`.
    pub what: &'static str,
    /// The price file's key: `nat-gateway-hour`.
    pub dimension: String,
    pub unit: String,
    pub unit_price: f64,
    pub quantity: Quantity,
    /// What it adds to the month; none for a usage-based line without a quantity.
    pub monthly: Option<Range>,
    pub unconfirmed: bool,
}

/// An environment's monthly cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    pub region: String,
    pub currency: String,
    /// The day the price file's prices were taken.
    pub price_date: String,
    pub lines: Vec<CostLine>,
    /// What is known from the specs.
    pub baseline: Range,
    /// The usage-based lines given quantities in `usage:`.
    pub usage: Range,
    pub total: Range,
    /// Usage-based lines shown per unit (no quantity given), not in the total.
    pub per_unit: usize,
    /// Dimensions the price file has no price for in the region, not in the total.
    pub unpriced: Vec<String>,
    /// Some price used is not confirmed from a primary source.
    pub unconfirmed: bool,
}

impl Estimate {
    /// Each resource's monthly amount.
    pub fn by_resource(&self) -> BTreeMap<&Id, (Kind, Range)> {
        let mut resources: BTreeMap<&Id, (Kind, Range)> = BTreeMap::new();
        for line in &self.lines {
            let entry = resources.entry(&line.resource).or_insert((line.kind, Range::default()));
            if let Some(monthly) = line.monthly {
                entry.1.add(monthly);
            }
        }
        resources
    }
}

/// The price file has no prices for the region: said, never guessed.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[error(
    "prices/aws.yaml (prices of {date}) has no prices for {region}\n  help: add the region's figures to prices/aws.yaml the way us-east-1's are, each with its source"
)]
pub struct NoPrices {
    pub region: String,
    pub date: String,
}

/// The monthly cost of `resources` in `region`, with `book`'s prices.
pub fn estimate_with(
    book: &PriceBook,
    resources: &[(&Id, &Spec)],
    usage: &UsageConfig,
    region: &str,
) -> Result<Estimate, NoPrices> {
    let Some(prices) = book.regions.get(region) else {
        return Err(NoPrices {
            region: region.to_owned(),
            date: book.date.clone(),
        });
    };
    let all: BTreeMap<&Id, &Spec> = resources.iter().copied().collect();
    let mut estimate = Estimate {
        region: region.to_owned(),
        currency: book.currency.clone(),
        price_date: book.date.clone(),
        lines: Vec::new(),
        baseline: Range::default(),
        usage: Range::default(),
        total: Range::default(),
        per_unit: 0,
        unpriced: Vec::new(),
        unconfirmed: false,
    };
    for (id, spec) in resources {
        for billed in lines::billed(id, spec, &all, usage, book.hours_per_month) {
            let Some(price) = prices.get(&billed.dimension) else {
                if !estimate.unpriced.contains(&billed.dimension) {
                    estimate.unpriced.push(billed.dimension.clone());
                }
                continue;
            };
            let monthly = match billed.quantity {
                Quantity::Fixed { min, max } => {
                    let amount = Range {
                        min: min * price.price,
                        max: max * price.price,
                    };
                    estimate.baseline.add(amount);
                    Some(amount)
                }
                Quantity::Usage { given: Some(given), .. } => {
                    let amount = Range {
                        min: given * price.price,
                        max: given * price.price,
                    };
                    estimate.usage.add(amount);
                    Some(amount)
                }
                Quantity::Usage { given: None, .. } => {
                    estimate.per_unit += 1;
                    None
                }
            };
            estimate.unconfirmed |= price.unconfirmed && monthly.is_some();
            estimate.lines.push(CostLine {
                resource: (*id).clone(),
                kind: spec.kind(),
                what: billed.what,
                dimension: billed.dimension,
                unit: price.unit.clone(),
                unit_price: price.price,
                quantity: billed.quantity,
                monthly,
                unconfirmed: price.unconfirmed,
            });
        }
    }
    estimate.total = estimate.baseline;
    estimate.total.add(estimate.usage);
    estimate.total = estimate.total.rounded();
    estimate.baseline = estimate.baseline.rounded();
    estimate.usage = estimate.usage.rounded();
    for line in &mut estimate.lines {
        line.monthly = line.monthly.map(Range::rounded);
    }
    Ok(estimate)
}

/// `estimate_with` the shipped prices.
pub fn estimate(resources: &[(&Id, &Spec)], usage: &UsageConfig, region: &str) -> Result<Estimate, NoPrices> {
    estimate_with(book(), resources, usage, region)
}

/// One resource whose monthly amount a plan changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceCost {
    pub id: Id,
    pub kind: Kind,
    pub before: Range,
    pub after: Range,
}

/// What a plan does to the month: the environment before and after, and the resources that
/// make the difference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostChange {
    pub region: String,
    pub currency: String,
    pub price_date: String,
    pub before: Range,
    pub after: Range,
    pub difference: Range,
    pub changed: Vec<ResourceCost>,
    /// Usage-based lines shown per unit after the change (`deployer cost` lists them).
    pub per_unit: usize,
    pub unpriced: Vec<String>,
    pub unconfirmed: bool,
}

/// A plan's cost: estimated, or the region has no prices.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PlanCost {
    Estimated(CostChange),
    Unpriced(NoPrices),
}

/// The cost of going from `observed` to `desired`.
pub fn change(desired: &[(&Id, &Spec)], observed: &[(&Id, &Spec)], usage: &UsageConfig, region: &str) -> PlanCost {
    let (after, before) = match (estimate(desired, usage, region), estimate(observed, usage, region)) {
        (Ok(after), Ok(before)) => (after, before),
        (Err(unpriced), _) | (_, Err(unpriced)) => return PlanCost::Unpriced(unpriced),
    };
    let (was, will) = (before.by_resource(), after.by_resource());
    let mut ids: Vec<&&Id> = was.keys().chain(will.keys()).collect();
    ids.sort();
    ids.dedup();
    let changed = ids
        .into_iter()
        .filter_map(|id| {
            let before = was.get(*id).map(|(_, r)| *r).unwrap_or_default();
            let after = will.get(*id).map(|(_, r)| *r).unwrap_or_default();
            let kind = will.get(*id).or_else(|| was.get(*id)).map(|(k, _)| *k)?;
            (!before.same_as(after)).then(|| ResourceCost {
                id: (*id).clone(),
                kind,
                before: before.rounded(),
                after: after.rounded(),
            })
        })
        .collect();
    PlanCost::Estimated(CostChange {
        region: after.region.clone(),
        currency: after.currency.clone(),
        price_date: after.price_date.clone(),
        difference: after.total.minus(before.total).rounded(),
        before: before.total,
        after: after.total,
        changed,
        per_unit: after.per_unit,
        unpriced: after.unpriced.clone(),
        unconfirmed: after.unconfirmed || before.unconfirmed,
    })
}

/// `$1,234.56`.
pub fn dollars(amount: f64) -> String {
    let cents = cents(amount.abs());
    let (whole, fraction) = (cents / 100, cents % 100);
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (at, digit) in digits.chars().enumerate() {
        if at > 0 && (digits.len() - at) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{}${grouped}.{fraction:02}", if amount < -0.004 { "-" } else { "" })
}

/// `$10.00` or `$10.00–$20.00`.
pub fn range(amount: Range) -> String {
    if cents(amount.min) == cents(amount.max) {
        dollars(amount.min)
    } else {
        format!("{}–{}", dollars(amount.min), dollars(amount.max))
    }
}
