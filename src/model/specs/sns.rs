//! The alarm topic's spec.

use serde::Serialize;

use crate::model::spec::{Attribute, Reference, ResourceSpec};

/// The SNS topic alarms publish to, with the one email address subscribed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlarmTopicSpec {
    pub name: String,
    /// Subscribed email addresses: the wanted one; what AWS lists when read back, confirmed or
    /// still pending confirmation.
    pub emails: std::collections::BTreeSet<String>,
    /// The topic's access policy, canonical JSON (`alarm_topic_policy`).
    pub policy: String,
}

/// The attribute names `aws/` acts on, spelled once.
impl AlarmTopicSpec {
    pub const EMAILS: &'static str = "emails";
    pub const POLICY: &'static str = "policy";
}

impl ResourceSpec for AlarmTopicSpec {
    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("name", &self.name, true),
            Attribute::set(Self::EMAILS, &self.emails),
            Attribute::scalar(Self::POLICY, &self.policy, false),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        Vec::new()
    }
}

/// `<env>-alarms`.
pub fn alarm_topic_name(environment: &str) -> String {
    crate::model::names::alarm_topic(environment)
}
