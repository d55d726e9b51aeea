//! SNS: the topic an environment's alarms publish to, with the email address from `alarms.email`
//! subscribed. AWS mails the address a link to confirm; until it is followed the subscription is
//! `PendingConfirmation`, cannot be removed through the API, and lapses after three days.
//! The topic's access policy is an attribute: created with deployer's (only the environment's
//! alarms publish), and any other found is put back (SetTopicAttributes `Policy`).

use aws_sdk_sns::Client;
use aws_sdk_sns::types::Tag;

use super::error::{AwsError, Classify};
use super::found::Found;
use super::permissions::{Arn, Call, LIST, On, read, write};
use super::resource::{Create, Delete, Resource, Update};
use super::tags::sync_tags;
use crate::aws::resource::Read;
use crate::model::Outputs;
use crate::model::{AlarmTopicSpec, Spec, Tags, alarm_topic_name};

mod alarm_topic;

pub(crate) use alarm_topic::AlarmTopics;

/// What SNS lists as the ARN of a subscription not confirmed yet.
const PENDING: &str = "PendingConfirmation";
/// The topic attribute that holds its access policy.
const POLICY: &str = "Policy";

#[derive(Debug, Clone)]
pub struct Sns {
    client: Client,
}

impl Sns {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: crate::aws::classifier::client!(aws_sdk_sns, config),
        }
    }

    async fn tags_of(&self, arn: &str) -> Result<Tags, AwsError> {
        let listed = self
            .client
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .op("ListTagsForResource")?;
        Ok(listed
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect())
    }

    /// (email address, subscription ARN or `PendingConfirmation`) of each email subscriber.
    async fn email_subscriptions(&self, topic: &str) -> Result<Vec<(String, String)>, AwsError> {
        let subscriptions: Vec<_> = all_pages!(
            self.client.list_subscriptions_by_topic().topic_arn(topic),
            "ListSubscriptionsByTopic"
        )?;
        Ok(subscriptions
            .iter()
            .filter(|s| s.protocol() == Some("email"))
            .filter_map(|s| Some((s.endpoint()?.to_owned(), s.subscription_arn()?.to_owned())))
            .collect())
    }

    /// The topic's access policy, canonical JSON (empty if SNS reports none).
    async fn policy_of(&self, topic: &str) -> Result<String, AwsError> {
        let attributes = self
            .client
            .get_topic_attributes()
            .topic_arn(topic)
            .send()
            .await
            .op("GetTopicAttributes")?;
        let policy = attributes
            .attributes()
            .and_then(|a| a.get(POLICY))
            .map_or("", String::as_str);
        Ok(serde_json::from_str::<serde_json::Value>(policy).map_or_else(|_| policy.to_owned(), |v| v.to_string()))
    }

    async fn subscribe(&self, topic: &str, email: &str) -> Result<(), AwsError> {
        self.client
            .subscribe()
            .topic_arn(topic)
            .protocol("email")
            .endpoint(email)
            .send()
            .await
            .op("Subscribe")
            .map(drop)
    }
}

fn to_sns_tags(tags: &Tags) -> Result<Vec<Tag>, AwsError> {
    tags.iter()
        .map(|(key, value)| {
            Tag::builder()
                .key(key)
                .value(value)
                .build()
                .map_err(|e| AwsError::unbuilt("TagResource", e))
        })
        .collect()
}

crate::aws::tags::tag_api!(
    Sns,
    resource_arn,
    tag_resource("TagResource", tags => to_sns_tags(tags)?),
    untag_resource("UntagResource")
);

/// What the alarm topic's adapter calls (see `aws::permissions`).
pub(crate) const CALLS: &[Call] = &[
    read("sns:ListTopics", On::Anything(LIST)),
    read("sns:GetTopicAttributes", On::Own(&[Arn::AlarmTopic])),
    read("sns:ListTagsForResource", On::Own(&[Arn::AlarmTopic])),
    read("sns:ListSubscriptionsByTopic", On::Own(&[Arn::AlarmTopic])),
    write("sns:CreateTopic", On::Own(&[Arn::AlarmTopic])),
    write("sns:SetTopicAttributes", On::Own(&[Arn::AlarmTopic])),
    write("sns:TagResource", On::Own(&[Arn::AlarmTopic])),
    write("sns:UntagResource", On::Own(&[Arn::AlarmTopic])),
    write("sns:Subscribe", On::Own(&[Arn::AlarmTopic])),
    write(
        "sns:Unsubscribe",
        On::Anything("Unsubscribe names a subscription, which SNS gives no resource-level permission"),
    ),
    write("sns:DeleteTopic", On::Own(&[Arn::AlarmTopic])),
];
