//! The price file, `prices/aws.yaml`: compiled in, read once, never fetched.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// One billable dimension's price.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// What one is: `hour`, `GB-month`, `LCU-hour`...
    pub unit: String,
    pub price: f64,
    /// Where the figure was read.
    pub source: String,
    /// Not read from a primary source: every estimate using it says so.
    #[serde(default)]
    pub unconfirmed: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PriceBook {
    /// The day the prices were taken.
    pub date: String,
    pub currency: String,
    pub hours_per_month: f64,
    /// Region → dimension (`nat-gateway-hour`, `ec2-instance-hour/t3.micro`) → price.
    pub regions: BTreeMap<String, BTreeMap<String, Price>>,
}

/// The file as shipped.
pub const PRICE_FILE: &str = include_str!("../../prices/aws.yaml");

/// The shipped prices. The file is checked by the tests; a broken one fails every build's
/// tests, so reading it cannot fail at run time.
pub fn book() -> &'static PriceBook {
    static BOOK: OnceLock<PriceBook> = OnceLock::new();
    BOOK.get_or_init(|| serde_yaml::from_str(PRICE_FILE).expect("prices/aws.yaml is checked by cost::tests"))
}
