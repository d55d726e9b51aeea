//! What every spec shares (`Ref`, `Attribute`, `Reference`); each kind's spec is in
//! `specs/<service>.rs`. References to other resources are `Ref`s: a logical id when the
//! target is ours, the raw AWS id otherwise.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use super::Id;

pub use super::kinds::{Kind, ResourceSpec, Spec, Variant};

pub use super::specs::*;

/// A reference from one resource to another.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ref {
    /// One of this environment's resources.
    Managed(Id),
    /// Something deployer does not manage (or a dangling id, like a deleted NAT's).
    External(String),
}

impl Ref {
    pub fn to(id: &str) -> Self {
        Self::Managed(Id::from(id))
    }

    pub fn managed(&self) -> Option<&Id> {
        match self {
            Self::Managed(id) => Some(id),
            Self::External(_) => None,
        }
    }
}

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Managed(id) => id.fmt(f),
            Self::External(physical) => physical.fmt(f),
        }
    }
}

/// One comparable attribute of a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: &'static str,
    pub value: AttributeValue,
    /// Changing it means deleting the resource and creating a new one.
    pub forces_replacement: bool,
    /// A guard against deletion (`true` protects): turning it off counts as a destroy.
    pub protects: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    Scalar(String),
    Set(BTreeSet<String>),
    /// A version: `17` wants any 17.x (AWS picks and upgrades the minor), `17.4` exactly that.
    Version(String),
    /// Observed only: AWS did not report the value (the local emulator leaves some out), so
    /// there is nothing to compare.
    Unreported,
    /// Desired only: the value a resource starts with, owned afterwards by something else (an
    /// autoscaler owns a scaled service's desired count): never compared, never drift.
    Initial(String),
}

impl AttributeValue {
    /// Whether what exists (`observed`) is what this desired value asks for.
    pub fn satisfied_by(&self, observed: &AttributeValue) -> bool {
        match (self, observed) {
            (Self::Version(wanted), Self::Version(had)) => version_satisfies(wanted, had),
            (_, Self::Unreported) | (Self::Initial(_), _) => true,
            _ => self == observed,
        }
    }
}

/// Whether the version `had` satisfies the version `wanted`: `17` any 17.x; `16.6` 16.6 or a
/// later 16.x, which is what AWS's automatic minor upgrades move a cluster to (planning a
/// downgrade back to the pin would fail: AWS cannot downgrade).
pub fn version_satisfies(wanted: &str, had: &str) -> bool {
    let parts = |version: &str| -> Vec<u64> { version.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    if wanted == had {
        return true;
    }
    let (wanted, had) = (parts(wanted), parts(had));
    wanted.first() == had.first() && had >= wanted
}

/// The major version of a version string (`16` of `16.6`).
pub fn major_version(version: &str) -> &str {
    version.split('.').next().unwrap_or(version)
}

/// A reference held by a spec, and whether the target's replacement forces this one's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference<'a> {
    pub attribute: &'static str,
    pub target: &'a Ref,
    pub forces_replacement: bool,
}

impl Attribute {
    pub fn scalar(name: &'static str, value: impl ToString, forces_replacement: bool) -> Self {
        Self {
            name,
            value: AttributeValue::Scalar(value.to_string()),
            forces_replacement,
            protects: false,
        }
    }

    /// A guard against deletion, such as an Aurora cluster's deletion protection: turning it
    /// off is planned as what it is, the first step of a destroy.
    pub fn protection(name: &'static str, on: bool) -> Self {
        Self {
            protects: true,
            ..Self::scalar(name, on, false)
        }
    }

    /// A value AWS may leave out of its answers: absent, it is not compared. Changes in place.
    pub fn reported(name: &'static str, value: Option<impl ToString>) -> Self {
        match value {
            Some(value) => Self::scalar(name, value, false),
            None => Self {
                name,
                value: AttributeValue::Unreported,
                forces_replacement: false,
                protects: false,
            },
        }
    }

    /// The value at creation only; never compared afterwards (`AttributeValue::Initial`).
    pub fn initial(name: &'static str, value: impl ToString) -> Self {
        Self {
            name,
            value: AttributeValue::Initial(value.to_string()),
            forces_replacement: false,
            protects: false,
        }
    }

    /// A version compared as `AttributeValue::Version` does; changes in place.
    pub fn version(name: &'static str, value: &str) -> Self {
        Self {
            name,
            value: AttributeValue::Version(value.to_owned()),
            forces_replacement: false,
            protects: false,
        }
    }

    /// A set changes member by member, in place.
    pub fn set<T: ToString>(name: &'static str, values: impl IntoIterator<Item = T>) -> Self {
        Self {
            name,
            value: AttributeValue::Set(values.into_iter().map(|v| v.to_string()).collect()),
            forces_replacement: false,
            protects: false,
        }
    }

    /// An optional reference, shown as `(none)` when absent.
    pub fn optional(name: &'static str, value: Option<&Ref>, forces_replacement: bool) -> Self {
        Self::scalar(
            name,
            value.map_or_else(|| "(none)".to_owned(), ToString::to_string),
            forces_replacement,
        )
    }
}

impl<'a> Reference<'a> {
    /// The target's replacement forces this resource's (a subnet's VPC).
    pub fn strong(attribute: &'static str, target: &'a Ref) -> Self {
        Self {
            attribute,
            target,
            forces_replacement: true,
        }
    }

    /// The reference can be pointed at the new target in place (a route's NAT gateway).
    pub fn weak(attribute: &'static str, target: &'a Ref) -> Self {
        Self {
            attribute,
            target,
            forces_replacement: false,
        }
    }

    pub fn weak_all(attribute: &'static str, targets: impl IntoIterator<Item = &'a Ref>) -> impl Iterator<Item = Self> {
        targets.into_iter().map(move |target| Self::weak(attribute, target))
    }
}

impl fmt::Display for AttributeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Scalar(value) | Self::Version(value) => f.write_str(value),
            Self::Unreported => f.write_str("(not reported)"),
            Self::Initial(value) => write!(f, "{value} (at creation; then the autoscaler's)"),
            Self::Set(values) => write!(f, "[{}]", values.iter().cloned().collect::<Vec<_>>().join(", ")),
        }
    }
}

/// A desired count is the file's to keep, unless a scaling policy owns it: then a count the
/// autoscaler chose is never drift, and an apply never resets it.
/// The attribute `desired_count` makes, which the adapters of scaled kinds ask about.
pub(crate) const DESIRED: &str = "desired";

pub(crate) fn desired_count(desired: u32, scaled: bool) -> Attribute {
    if scaled {
        Attribute::initial(DESIRED, desired)
    } else {
        Attribute::scalar(DESIRED, desired, false)
    }
}
