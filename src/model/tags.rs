//! The tag scheme: every resource carries `Name`, `deployer:environment`, `deployer:id` and
//! `deployer:spec` from its create call on, so AWS itself is the record of what deployer owns.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::{Id, Spec};

pub type Tags = BTreeMap<String, String>;

pub const TAG_ENVIRONMENT: &str = "deployer:environment";
pub const TAG_ID: &str = "deployer:id";
pub const TAG_SPEC: &str = "deployer:spec";
/// A digest of content AWS does not echo back in comparable form: the launch template version
/// an Auto Scaling group rolled to, a task definition's container definitions.
pub const TAG_DIGEST: &str = "deployer:digest";
/// On every resource of an environment with `protect: true`: destroy asks for more than `yes`.
pub const TAG_PROTECT: &str = "deployer:protect";
/// On a database cluster: take a final snapshot when it is destroyed.
pub const TAG_FINAL_SNAPSHOT: &str = "deployer:final-snapshot";

/// A short, stable hash of a spec, so drift in attributes AWS does not echo back still shows.
pub fn spec_hash(spec: &Spec) -> String {
    let json = serde_json::to_vec(spec).expect("specs serialize");
    let digest = Sha256::digest(&json);
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// A short digest of text that AWS does not echo back verbatim.
pub(super) fn content_digest(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The full tag set of one resource: the user's tags plus deployer's own.
pub fn tags_for(environment: &str, id: &Id, spec: &Spec, user_tags: &Tags) -> Tags {
    let mut tags = user_tags.clone();
    tags.insert("Name".to_owned(), format!("{environment}-{id}"));
    tags.insert(TAG_ENVIRONMENT.to_owned(), environment.to_owned());
    tags.insert(TAG_ID.to_owned(), id.to_string());
    tags.insert(TAG_SPEC.to_owned(), spec_hash(spec));
    tags
}
