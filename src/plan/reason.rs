//! Why a resource changes, as data: the planner produces these, `render` shows them, and
//! `plan --json` carries them as they are.

use std::fmt;

use serde::Serialize;

use crate::model::{Id, Kind};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// A scalar attribute differs.
    Changed {
        attribute: &'static str,
        from: String,
        to: String,
        forces_replacement: bool,
        /// It turns off a guard against deletion: a protected environment treats the change
        /// as a destroy.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        lifts_protection: bool,
    },
    /// A version moves to a new major: an upgrade AWS must be told to allow, with an outage
    /// while the cluster restarts, and no way back.
    MajorVersionUpgrade {
        attribute: &'static str,
        from: String,
        to: String,
    },
    /// A member of a set attribute is wanted but missing.
    MemberAdded { attribute: &'static str, member: String },
    /// A member of a set attribute is present but not wanted.
    MemberRemoved { attribute: &'static str, member: String },
    /// The resource exists as another kind under this logical id.
    KindChanged { from: Kind, to: Kind },
    /// A tag differs (`from` absent: added; `to` absent: removed).
    Tag {
        key: String,
        from: Option<String>,
        to: Option<String>,
    },
    /// Only deployer's own record differs (the spec hash, a content digest): something AWS
    /// does not echo back changed, or was changed outside deployer.
    Drift {
        key: String,
        from: Option<String>,
        to: Option<String>,
    },
    /// A resource this one points at is replaced, so this one follows it.
    FollowsReplacement {
        attribute: &'static str,
        target: Id,
        forces_replacement: bool,
    },
    /// Tagged for the environment, but the configuration no longer has it.
    NotInConfiguration { environment: String },
    /// A second resource tagged with the same logical id (a crashed create retried).
    Duplicate { of: String, id: Id },
}

impl Reason {
    /// Whether the change turns off a guard against deletion.
    pub fn lifts_protection(&self) -> bool {
        matches!(
            self,
            Self::Changed {
                lifts_protection: true,
                ..
            }
        )
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let forces = |yes: bool| if yes { " (forces replacement)" } else { "" };
        match self {
            Self::Changed {
                attribute,
                from,
                to,
                forces_replacement,
                lifts_protection,
            } => {
                let lifts = if *lifts_protection {
                    " (lifts protection: counts as a destroy)"
                } else {
                    ""
                };
                write!(f, "{attribute}: {from} → {to}{}{lifts}", forces(*forces_replacement))
            }
            Self::MajorVersionUpgrade { attribute, from, to } => write!(
                f,
                "{attribute}: {from} → {to} (MAJOR version upgrade: the cluster restarts, an outage of minutes; it cannot be undone)"
            ),
            Self::MemberAdded { attribute, member } => write!(f, "{attribute}: + {member}"),
            Self::MemberRemoved { attribute, member } => write!(f, "{attribute}: - {member}"),
            Self::KindChanged { from, to } => write!(f, "kind: {from} → {to} (forces replacement)"),
            Self::Tag { key, from, to } | Self::Drift { key, from, to } => match (from, to) {
                (Some(from), Some(to)) => write!(f, "tags: {key}: {from} → {to}"),
                (None, Some(to)) => write!(f, "tags: + {key}={to}"),
                (Some(from), None) => write!(f, "tags: - {key}={from}"),
                (None, None) => write!(f, "tags: {key}"),
            },
            Self::FollowsReplacement {
                attribute,
                target,
                forces_replacement,
            } => write!(f, "{attribute}: {target} is replaced{}", forces(*forces_replacement)),
            Self::NotInConfiguration { environment } => write!(f, "no longer part of environment {environment}"),
            Self::Duplicate { of, id } => write!(f, "duplicate of {of} (another resource tagged deployer:id={id})"),
        }
    }
}
