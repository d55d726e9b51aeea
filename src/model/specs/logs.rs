//! The log group's spec.

use serde::Serialize;

use crate::model::spec::{Attribute, Reference, ResourceSpec};

/// The CloudWatch Logs group the API's containers write to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogGroupSpec {
    pub name: String,
    /// Days CloudWatch Logs keeps each event.
    pub retention_days: u16,
}

/// The attribute names `aws/` acts on, spelled once.
impl LogGroupSpec {
    pub const RETENTION_DAYS: &'static str = "retention_days";
}

impl ResourceSpec for LogGroupSpec {
    fn physical_name(&self) -> Option<&str> {
        Some(&self.name)
    }

    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("name", &self.name, true),
            Attribute::scalar(Self::RETENTION_DAYS, self.retention_days, false),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        Vec::new()
    }
}
