//! The IAM roles' and the instance profile's specs.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::model::Ref;
use crate::model::spec::{Attribute, Reference, ResourceSpec};

/// An IAM role assumable by one AWS service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleSpec {
    pub name: String,
    /// `/deployer/<env>/`: scopes discovery to one ListRoles call.
    pub path: String,
    /// The whole trust (assume-role) policy, canonical JSON: which service may assume the role,
    /// on what conditions, and nobody else (a second statement is drift).
    pub trust_policy: String,
    /// Managed policies attached: deployer's own (`deployer bootstrap`'s), or any other ARN,
    /// which is drift.
    pub managed_policies: BTreeSet<Ref>,
    /// The managed policy bounding what the role may ever do (`iam.permissions_boundary`).
    pub permissions_boundary: Option<String>,
    /// deployer's inline policy (named `deployer`), canonical JSON.
    pub inline_policy: String,
    /// Every other inline policy on the role, by name, canonical JSON: never deployer's, so
    /// never wanted; found, each is planned for deletion.
    pub other_inline_policies: BTreeMap<String, String>,
}

impl RoleSpec {
    /// The other inline policies as one value: `(none)`, or a JSON object of name → document
    /// (shown as a line diff, as policies are, so a reviewer reads what is removed).
    fn other_inline_policies_value(&self) -> String {
        if self.other_inline_policies.is_empty() {
            return NONE.to_owned();
        }
        let documents: serde_json::Map<String, serde_json::Value> = self
            .other_inline_policies
            .iter()
            .map(|(name, document)| {
                let value = serde_json::from_str(document).unwrap_or_else(|_| document.clone().into());
                (name.clone(), value)
            })
            .collect();
        serde_json::Value::Object(documents).to_string()
    }
}

const NONE: &str = "(none)";

/// A resource policy as an attribute: the document, or `(none)`.
pub(super) fn document_or_none(document: &str) -> String {
    if document.is_empty() {
        NONE.to_owned()
    } else {
        document.to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceProfileSpec {
    pub name: String,
    pub path: String,
    pub role: Ref,
}

/// The attribute names `aws/` acts on, spelled once.
impl RoleSpec {
    pub const INLINE_POLICY: &'static str = "inline_policy";
    pub const MANAGED_POLICIES: &'static str = "managed_policies";
    pub const OTHER_INLINE_POLICIES: &'static str = "other_inline_policies";
    pub const PERMISSIONS_BOUNDARY: &'static str = "permissions_boundary";
    pub const TRUST_POLICY: &'static str = "trust_policy";
}

impl ResourceSpec for RoleSpec {
    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("name", &self.name, true),
            Attribute::scalar("path", &self.path, true),
            Attribute::scalar(Self::TRUST_POLICY, &self.trust_policy, false),
            Attribute::set(Self::MANAGED_POLICIES, &self.managed_policies),
            Attribute::scalar(
                Self::PERMISSIONS_BOUNDARY,
                self.permissions_boundary.as_deref().unwrap_or(NONE),
                false,
            ),
            Attribute::scalar(Self::INLINE_POLICY, &self.inline_policy, false),
            Attribute::scalar(Self::OTHER_INLINE_POLICIES, self.other_inline_policies_value(), false),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        Reference::weak_all(Self::MANAGED_POLICIES, &self.managed_policies).collect()
    }
}

/// The attribute names `aws/` acts on, spelled once.
impl InstanceProfileSpec {
    pub const ROLE: &'static str = "role";
}

impl ResourceSpec for InstanceProfileSpec {
    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("name", &self.name, true),
            Attribute::scalar("path", &self.path, true),
            Attribute::scalar(Self::ROLE, &self.role, false),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        vec![Reference::weak(Self::ROLE, &self.role)]
    }
}

/// An account's OpenID Connect identity provider (GitHub Actions' for `deployer bootstrap`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OidcProviderSpec {
    /// `https://token.actions.githubusercontent.com`: the issuer, which names the provider.
    pub url: String,
    /// The audiences (client ids) tokens must carry: `sts.amazonaws.com`.
    pub audiences: BTreeSet<String>,
}

impl OidcProviderSpec {
    pub const AUDIENCES: &'static str = "audiences";
}

impl ResourceSpec for OidcProviderSpec {
    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("url", &self.url, true),
            Attribute::set(Self::AUDIENCES, &self.audiences),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        Vec::new()
    }
}

/// A customer managed IAM policy (what `deployer bootstrap` gives the CI roles).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManagedPolicySpec {
    pub name: String,
    pub path: String,
    /// The default version's document, canonical JSON.
    pub document: String,
}

impl ManagedPolicySpec {
    pub const DOCUMENT: &'static str = "document";
}

impl ResourceSpec for ManagedPolicySpec {
    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("name", &self.name, true),
            Attribute::scalar("path", &self.path, true),
            Attribute::scalar(Self::DOCUMENT, &self.document, false),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        Vec::new()
    }
}
