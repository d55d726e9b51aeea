//! Comparing desired resources with observed ones.

use std::collections::{BTreeMap, BTreeSet};

use super::{Action, Plan, PlannedChange, Reason};
use crate::model::{AttributeValue, Desired, Id, ObservedResource, Spec, Tags};

/// Plans the changes that turn `observed` into `desired`.
pub fn plan(desired: &Desired, observed: &[ObservedResource]) -> Plan {
    let mut by_id: BTreeMap<&Id, Vec<&ObservedResource>> = BTreeMap::new();
    for resource in observed {
        by_id.entry(&resource.id).or_default().push(resource);
    }

    let mut changes: BTreeMap<Id, PlannedChange> = BTreeMap::new();
    let mut duplicates = Vec::new();
    let mut kept_physical: BTreeMap<Id, String> = BTreeMap::new();
    for (id, mut found) in by_id {
        // Several resources with one logical id (a crashed create retried against an API that
        // ignores client tokens): keep the one that matches best, destroy the rest.
        let wanted = desired.resources.get(id).map(|r| &r.spec);
        found.sort_by_key(|r| (Some(&r.spec) != wanted, r.physical_id.clone()));
        let kept = found[0];
        kept_physical.insert(id.clone(), kept.physical_id.clone());
        for extra in &found[1..] {
            duplicates.push(PlannedChange {
                id: extra.id.clone(),
                kind: extra.spec.kind(),
                action: Action::Delete,
                reasons: vec![Reason::Duplicate {
                    of: kept.physical_id.clone(),
                    id: id.clone(),
                }],
                desired: None,
                observed: Some((*extra).clone()),
                changed: BTreeSet::new(),
                duplicate: true,
            });
        }
        let Some(want) = desired.resources.get(id) else {
            changes.insert(
                id.clone(),
                PlannedChange {
                    id: id.clone(),
                    kind: kept.spec.kind(),
                    action: Action::Delete,
                    reasons: vec![Reason::NotInConfiguration {
                        environment: desired.environment.clone(),
                    }],
                    desired: None,
                    observed: Some(kept.clone()),
                    changed: BTreeSet::new(),
                    duplicate: false,
                },
            );
            continue;
        };
        let (replace, mut reasons, changed) = compare_specs(&want.spec, &kept.spec);
        reasons.extend(compare_tags(&want.tags, &kept.tags, !reasons.is_empty()));
        let action = if replace {
            Some(Action::Replace)
        } else if reasons.is_empty() {
            None
        } else {
            Some(Action::Update)
        };
        if let Some(action) = action {
            changes.insert(
                id.clone(),
                PlannedChange {
                    id: id.clone(),
                    kind: want.spec.kind(),
                    action,
                    reasons,
                    desired: Some(want.clone()),
                    observed: Some(kept.clone()),
                    changed,
                    duplicate: false,
                },
            );
        } else {
            changes.insert(id.clone(), no_op(id, want.spec.kind(), want, kept));
        }
    }
    for (id, want) in &desired.resources {
        changes.entry(id.clone()).or_insert_with(|| PlannedChange {
            id: id.clone(),
            kind: want.spec.kind(),
            action: Action::Create,
            reasons: Vec::new(),
            desired: Some(want.clone()),
            observed: None,
            changed: BTreeSet::new(),
            duplicate: false,
        });
    }
    propagate_replacements(&mut changes);

    let mut ordered: Vec<PlannedChange> = changes
        .into_values()
        .filter(|c| !c.reasons.is_empty() || c.action == Action::Create)
        .collect();
    ordered.extend(duplicates);
    // Destroys and replacements first (false sorts before true), then by id.
    let order = |c: &PlannedChange| {
        let constructive = !matches!(c.action, Action::Delete | Action::Replace);
        (
            constructive,
            c.id.clone(),
            c.observed.as_ref().map(|o| o.physical_id.clone()),
        )
    };
    ordered.sort_by_key(order);
    let known = known_physical_ids(desired, &ordered, &kept_physical);
    Plan {
        environment: desired.environment.clone(),
        changes: ordered,
        known,
        cost: None,
    }
}

/// See `Plan::known`.
fn known_physical_ids(
    desired: &Desired,
    changes: &[PlannedChange],
    kept: &BTreeMap<Id, String>,
) -> BTreeMap<Id, String> {
    let renewed: BTreeSet<&Id> = changes
        .iter()
        .filter(|c| matches!(c.action, Action::Create | Action::Replace))
        .map(|c| &c.id)
        .collect();
    desired
        .resources
        .iter()
        .filter_map(|(id, want)| {
            let known = match kept.get(id) {
                Some(physical) if !renewed.contains(id) => Some(physical.clone()),
                _ => want.spec.physical_name().map(str::to_owned),
            };
            known.map(|physical| (id.clone(), physical))
        })
        .collect()
}

/// A placeholder for an unchanged resource, kept until propagation has run: a replacement
/// upstream may still turn it into an update or a replacement. Filtered out afterwards by
/// having no reasons.
fn no_op(
    id: &Id,
    kind: crate::model::Kind,
    want: &crate::model::DesiredResource,
    kept: &ObservedResource,
) -> PlannedChange {
    PlannedChange {
        id: id.clone(),
        kind,
        action: Action::Update,
        reasons: Vec::new(),
        desired: Some(want.clone()),
        observed: Some(kept.clone()),
        changed: BTreeSet::new(),
        duplicate: false,
    }
}

/// Returns whether a difference forces replacement, the differences, and the attributes
/// that differ.
fn compare_specs(want: &Spec, have: &Spec) -> (bool, Vec<Reason>, BTreeSet<&'static str>) {
    if want.kind() != have.kind() {
        return (
            true,
            vec![Reason::KindChanged {
                from: have.kind(),
                to: want.kind(),
            }],
            BTreeSet::new(),
        );
    }
    let mut replace = false;
    let mut reasons = Vec::new();
    let mut changed = BTreeSet::new();
    for (wanted, had) in want.attributes().into_iter().zip(have.attributes()) {
        if wanted.value.satisfied_by(&had.value) {
            continue;
        }
        let attribute = wanted.name;
        changed.insert(attribute);
        match (had.value, wanted.value) {
            (AttributeValue::Set(from), AttributeValue::Set(to)) => {
                reasons.extend(to.difference(&from).map(|member| Reason::MemberAdded {
                    attribute,
                    member: member.clone(),
                }));
                reasons.extend(from.difference(&to).map(|member| Reason::MemberRemoved {
                    attribute,
                    member: member.clone(),
                }));
            }
            (AttributeValue::Version(from), AttributeValue::Version(to))
                if crate::model::major_version(&from) != crate::model::major_version(&to) =>
            {
                reasons.push(Reason::MajorVersionUpgrade { attribute, from, to });
            }
            (from, to) => reasons.push(Reason::Changed {
                attribute,
                lifts_protection: wanted.protects && from.to_string() == "true" && to.to_string() == "false",
                from: from.to_string(),
                to: to.to_string(),
                forces_replacement: wanted.forces_replacement,
            }),
        }
        replace |= wanted.forces_replacement;
    }
    (replace, reasons, changed)
}

/// Tag differences, ignoring `aws:` tags (AWS owns them). deployer's own bookkeeping tags (spec
/// hash, digests) are named only when they are the sole difference: otherwise they just echo
/// the attribute changes listed already.
fn compare_tags(want: &Tags, have: &Tags, other_changes: bool) -> Vec<Reason> {
    let keys: BTreeSet<&String> = want
        .keys()
        .chain(have.keys().filter(|k| !k.starts_with("aws:")))
        .collect();
    keys.into_iter()
        .filter(|key| !(other_changes && key.starts_with("deployer:")))
        .filter_map(|key| {
            let (from, to) = (have.get(key), want.get(key));
            if from == to {
                return None;
            }
            let (key, from, to) = (key.clone(), from.cloned(), to.cloned());
            Some(if key.starts_with("deployer:") {
                Reason::Drift { key, from, to }
            } else {
                Reason::Tag { key, from, to }
            })
        })
        .collect()
}

/// A resource that points at a replaced one must follow it: replaced too when the reference
/// cannot change in place (a subnet's VPC), updated when it can (a route's NAT gateway).
fn propagate_replacements(changes: &mut BTreeMap<Id, PlannedChange>) {
    loop {
        let replaced: BTreeSet<Id> = changes
            .values()
            .filter(|c| c.action == Action::Replace)
            .map(|c| c.id.clone())
            .collect();
        let mut changed = false;
        for change in changes.values_mut() {
            if change.action == Action::Replace || change.action == Action::Create || change.action == Action::Delete {
                continue;
            }
            let Some(desired) = &change.desired else {
                continue;
            };
            let mut reasons = Vec::new();
            let mut forces = false;
            for reference in desired.spec.references() {
                let Some(target) = reference.target.managed() else {
                    continue;
                };
                if replaced.contains(target) {
                    change.changed.insert(reference.attribute);
                    let reason = Reason::FollowsReplacement {
                        attribute: reference.attribute,
                        target: target.clone(),
                        forces_replacement: reference.forces_replacement,
                    };
                    if !change.reasons.contains(&reason) && !reasons.contains(&reason) {
                        reasons.push(reason);
                    }
                    forces |= reference.forces_replacement;
                }
            }
            if reasons.is_empty() {
                continue;
            }
            change.reasons.extend(reasons);
            if forces {
                change.action = Action::Replace;
            }
            changed = true;
        }
        if !changed {
            break;
        }
    }
}
