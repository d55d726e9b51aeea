//! Plan rendering: terraform-style text for people, JSON for machines.

use console::style;
use serde_json::json;

use std::collections::{BTreeMap, BTreeSet};

use super::{Action, Plan, Reason};
use crate::model::Id;

/// The version of `plan --json`'s shape; raised when a field changes meaning or goes away.
pub(super) const FORMAT_VERSION: &str = "1.6";

pub fn render_text(plan: &Plan) -> String {
    if plan.is_empty() {
        return format!(
            "No changes. Environment {} matches its configuration.\n{}",
            plan.environment,
            cost_text(plan)
        );
    }
    let mut out = format!("deployer will perform these actions on {}:\n\n", plan.environment);
    for change in &plan.changes {
        let symbol = match change.action {
            Action::Create => style(change.action.symbol()).green(),
            Action::Update => style(change.action.symbol()).yellow(),
            Action::Replace if change.creates_first() => style("+/-").magenta(),
            Action::Replace => style(change.action.symbol()).magenta(),
            Action::Delete => style(change.action.symbol()).red(),
        }
        .bold();
        let physical = change
            .observed
            .as_ref()
            .map(|o| format!(" ({})", o.physical_id))
            .unwrap_or_default();
        out.push_str(&format!(
            "  {symbol:>3} {} {}{physical}\n",
            change.kind,
            style(&change.id).bold()
        ));
        for reason in &change.reasons {
            match long_change(reason) {
                Some(diff) => out.push_str(&diff),
                None => out.push_str(&format!("        {}\n", style(reason).dim())),
            }
        }
        // What a new resource will be, so a reviewer sees the CIDR, the ports, the policy
        // documents before approving (specs hold no secrets: tokens are referenced by ARN).
        // A resource it points at is named as AWS will know it, where that is known now.
        if let (Action::Create, Some(desired)) = (change.action, &change.desired) {
            let references = desired.spec.references();
            for attribute in desired.spec.attributes() {
                let targets: BTreeSet<&str> = references
                    .iter()
                    .filter(|r| r.attribute == attribute.name)
                    .filter_map(|r| r.target.managed())
                    .map(|id| id.as_str())
                    .collect();
                let value = with_physical_names(&attribute.value.to_string(), &targets, &plan.known);
                out.push_str(&attribute_lines(attribute.name, &value));
            }
        }
    }
    let summary = plan.summary();
    out.push_str(&format!(
        "\nPlan: {} to add, {} to change, {} to destroy.\n",
        summary.add, summary.change, summary.destroy
    ));
    out.push_str(&cost_text(plan));
    out
}

/// `Cost: $312.40/month → $345.25/month (+$32.85: + nat_gateway nat-gateway-b)`, then what the
/// figures leave out.
fn cost_text(plan: &Plan) -> String {
    use crate::cost::{PlanCost, dollars};
    let Some(cost) = &plan.cost else {
        return String::new();
    };
    let change = match cost {
        PlanCost::Unpriced(unpriced) => {
            return format!(
                "Cost: not estimated: prices/aws.yaml (prices of {}) has no prices for {}.\n",
                unpriced.date, unpriced.region
            );
        }
        PlanCost::Estimated(change) => change,
    };
    let what: Vec<String> = change
        .changed
        .iter()
        .map(|resource| {
            let symbol = plan.changes.iter().find(|c| c.id == resource.id).map_or("~", |c| {
                if c.action == Action::Replace {
                    "-/+"
                } else {
                    c.action.symbol()
                }
            });
            format!("{symbol} {} {}", resource.kind.name(), resource.id)
        })
        .collect();
    let sign = if change.difference.min >= 0.0 { "+" } else { "" };
    let mut out = if what.is_empty() {
        format!("Cost: {}/month, unchanged", dollars(change.after.min))
    } else {
        format!(
            "Cost: {}/month → {}/month",
            dollars(change.before.min),
            dollars(change.after.min)
        )
    };
    if !what.is_empty() {
        // The first few; `deployer cost` lists every line.
        const SHOWN: usize = 6;
        let mut listed = what[..what.len().min(SHOWN)].join(", ");
        if what.len() > SHOWN {
            listed.push_str(&format!(" and {} more", what.len() - SHOWN));
        }
        out.push_str(&format!(" ({sign}{}: {listed})", dollars(change.difference.min)));
    }
    out.push('\n');
    if change.before.max != change.before.min || change.after.max != change.after.min {
        out.push_str(&format!(
            "      {}/month → {}/month with autoscaled compute at its maximum\n",
            dollars(change.before.max),
            dollars(change.after.max)
        ));
    }
    let mut notes = vec![format!(
        "on-demand {}, prices of {} in {}",
        change.currency, change.price_date, change.region
    )];
    if change.per_unit > 0 {
        notes.push(format!(
            "{} usage-based charges not included (`deployer cost {}` prices them per unit)",
            change.per_unit, plan.environment
        ));
    }
    if change.unconfirmed {
        notes.push("some prices not confirmed from a primary source".to_owned());
    }
    if !change.unpriced.is_empty() {
        notes.push(format!("no price for {}", change.unpriced.join(", ")));
    }
    out.push_str(&format!("      ({})\n", notes.join("; ")));
    out
}

/// `value` with each logical id of `targets` in it replaced by the resource's physical id
/// when it is known before apply (`development-lb`, `vpc-0a1b2c3d`), or marked
/// `(known after apply)` when AWS will assign it: what the plan shows is what AWS gets.
fn with_physical_names(value: &str, targets: &BTreeSet<&str>, known: &BTreeMap<Id, String>) -> String {
    if targets.is_empty() {
        return value.to_owned();
    }
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while !rest.is_empty() {
        let start = rest.find(is_name_char).unwrap_or(rest.len());
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find(|c: char| !is_name_char(c)).unwrap_or(rest.len());
        let word = &rest[..end];
        match targets.get(word) {
            Some(target) => match known.get(&Id::from(*target)) {
                Some(physical) => out.push_str(physical),
                None => out.push_str(&format!("{target} (known after apply)")),
            },
            None => out.push_str(word),
        }
        rest = &rest[end..];
    }
    out
}

/// Values longer than this (or over several lines) change as a line diff, not `old → new`.
const LONG_VALUE: usize = 60;

/// A changed policy, container definition or other long value as the lines that differ, with
/// one line of context: what a reviewer needs, not two walls of JSON.
fn long_change(reason: &Reason) -> Option<String> {
    let Reason::Changed {
        attribute,
        from,
        to,
        forces_replacement,
        ..
    } = reason
    else {
        return None;
    };
    let long = |value: &str| value.len() > LONG_VALUE || value.contains('\n');
    if !long(from) && !long(to) {
        return None;
    }
    let (old, new) = (pretty_lines(from), pretty_lines(to));
    let forces = if *forces_replacement {
        " (forces replacement)"
    } else {
        ""
    };
    let mut out = format!("        {}\n", style(format!("{attribute}: changed{forces}")).dim());
    let diff = similar::TextDiff::from_lines(&old, &new);
    for (index, group) in diff.grouped_ops(1).iter().enumerate() {
        if index > 0 {
            out.push_str("            ...\n");
        }
        for op in group {
            for change in diff.iter_changes(op) {
                let line = change.value().trim_end_matches('\n');
                let marked = match change.tag() {
                    similar::ChangeTag::Delete => style(format!("- {line}")).red().to_string(),
                    similar::ChangeTag::Insert => style(format!("+ {line}")).green().to_string(),
                    similar::ChangeTag::Equal => format!("  {line}"),
                };
                out.push_str(&format!("          {marked}\n"));
            }
        }
    }
    Some(out)
}

/// A JSON document pretty-printed (keys sorted), other text as it is; ending in a newline.
fn pretty_lines(value: &str) -> String {
    let mut text = serde_json::from_str::<serde_json::Value>(value)
        .ok()
        .filter(|v| v.is_object() || v.is_array())
        .and_then(|document| serde_json::to_string_pretty(&document).ok())
        .unwrap_or_else(|| value.to_owned());
    text.push('\n');
    text
}

/// `name = value`, a JSON document (a policy) pretty-printed over indented lines.
fn attribute_lines(name: &str, value: &str) -> String {
    let pretty = serde_json::from_str::<serde_json::Value>(value)
        .ok()
        .filter(serde_json::Value::is_object)
        .and_then(|document| serde_json::to_string_pretty(&document).ok());
    match pretty {
        Some(document) => {
            let indented = document.replace('\n', "\n          ");
            format!("          {name} = {indented}\n")
        }
        // A script (user data) over indented lines, every one of them shown.
        None if value.contains('\n') => {
            let mut out = format!("          {name} =\n");
            for line in value.lines() {
                out.push_str(&format!("            | {line}\n"));
            }
            out
        }
        None => format!("          {name} = {value}\n"),
    }
}

pub fn render_json(plan: &Plan) -> serde_json::Value {
    let changes: Vec<_> = plan
        .changes
        .iter()
        .map(|change| {
            json!({
                "id": change.id,
                "kind": change.kind,
                "action": change.action,
                "physical_id": change.observed.as_ref().map(|o| &o.physical_id),
                "reasons": change.reasons,
                "attributes": (change.action == Action::Create)
                    .then_some(change.desired.as_ref())
                    .flatten()
                    .map(|desired| {
                        desired
                            .spec
                            .attributes()
                            .into_iter()
                            .map(|a| (a.name.to_owned(), json!(a.value.to_string())))
                            .collect::<serde_json::Map<_, _>>()
                    }),
            })
        })
        .collect();
    json!({
        "format_version": FORMAT_VERSION,
        "environment": plan.environment,
        "changes": changes,
        // What the text shows for a new resource's references (`Plan::known`).
        "known_physical_ids": plan.known,
        "summary": plan.summary(),
        // What the plan does to the monthly cost (`cost::PlanCost`), when priced.
        "cost": plan.cost,
    })
}
