//! The planner: a pure function from (desired, observed) to a plan. No I/O, no SDK, no tokio.
//! Rendering the plan as text or JSON lives in `render.rs`.

mod diff;
pub mod quotas;
mod reason;
mod render;

#[cfg(test)]
mod tests;

pub use diff::plan;
pub use reason::Reason;
pub use render::{render_json, render_text};

use serde::Serialize;

use crate::model::{DesiredResource, Id, Kind, ObservedResource};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    /// Delete, then create anew (an attribute that AWS cannot change in place changed).
    Replace,
    Delete,
}

impl Action {
    /// The terraform-style marker shown before the resource.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Create => "+",
            Self::Update => "~",
            Self::Replace => "-/+",
            Self::Delete => "-",
        }
    }

    pub fn verb(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Replace => "replace",
            Self::Delete => "destroy",
        }
    }
}

/// One resource's change and why.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedChange {
    pub id: Id,
    pub kind: Kind,
    pub action: Action,
    /// Why, as data; `render` turns them into text. Apply never reads them: how a reason is
    /// worded must not change what is done (terraform's plans package warns the same).
    pub reasons: Vec<Reason>,
    /// The spec attributes whose value differs or whose target is replaced: what an update
    /// acts on, computed beside the reasons. Tags are not attributes; they are compared on
    /// their own.
    pub changed: std::collections::BTreeSet<&'static str>,
    /// What should exist afterwards (absent for deletes).
    pub desired: Option<DesiredResource>,
    /// What exists now (absent for creates).
    pub observed: Option<ObservedResource>,
    /// A second resource carrying another's logical id, deleted so one remains.
    pub duplicate: bool,
}

impl PlannedChange {
    /// A replacement whose new resource is created before the old one is deleted (their names
    /// differ), so what points at the old one can move over first: terraform's
    /// create_before_destroy.
    pub fn creates_first(&self) -> bool {
        match (self.action, &self.desired, &self.observed) {
            (Action::Replace, Some(desired), Some(observed)) => desired.spec.creates_before_replacing(&observed.spec),
            _ => false,
        }
    }
}

/// Every change needed to converge one environment, destroys and replacements first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub environment: String,
    pub changes: Vec<PlannedChange>,
    /// The physical id of each resource of the environment as far as it is known before the
    /// plan is applied: what exists and is kept, by its id; what is created or replaced under
    /// a name deployer gives, by that name. Absent: AWS assigns it (`(known after apply)`).
    pub known: std::collections::BTreeMap<Id, String>,
    /// What the plan does to the monthly cost, when the caller priced it (`with_cost`).
    pub cost: Option<crate::cost::PlanCost>,
}

/// Counts in terraform's sense: a replacement is one add and one destroy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

impl Plan {
    /// The plan with what it does to the month: `desired` and `observed` in full (a plan
    /// holds only what changes), the environment's expected usage and its region.
    #[must_use]
    pub fn with_cost(
        mut self,
        desired: &crate::model::Desired,
        observed: &[crate::model::ObservedResource],
        usage: &crate::config::UsageConfig,
        region: &str,
    ) -> Self {
        let desired: Vec<_> = desired.resources.iter().map(|(id, r)| (id, &r.spec)).collect();
        let observed: Vec<_> = observed.iter().map(|r| (&r.id, &r.spec)).collect();
        self.cost = Some(crate::cost::change(&desired, &observed, usage, region));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for change in &self.changes {
            match change.action {
                Action::Create => summary.add += 1,
                Action::Update => summary.change += 1,
                Action::Replace => {
                    summary.add += 1;
                    summary.destroy += 1;
                }
                Action::Delete => summary.destroy += 1,
            }
        }
        summary
    }

    /// Whether applying the plan deletes anything, or turns off a guard against deletion
    /// (what `protect: true` guards against).
    pub fn destroys_anything(&self) -> bool {
        self.changes.iter().any(|c| {
            matches!(c.action, Action::Delete | Action::Replace) || c.reasons.iter().any(Reason::lifts_protection)
        })
    }
}
