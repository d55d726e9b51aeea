//! SNS: the topic an environment's alarms publish to, with the email address from `alarms.email`
//! subscribed. AWS mails the address a link to confirm; until it is followed the subscription is
//! `PendingConfirmation`, cannot be removed through the API, and lapses after three days.
//! The topic's access policy is an attribute: created with deployer's (only the environment's
//! alarms publish), and any other found is put back (SetTopicAttributes `Policy`).

use aws_sdk_sns::Client;
use aws_sdk_sns::types::Tag;

use super::error::{AwsError, Classify};
use super::found::Found;
use super::resource::{Create, Delete, Resource, Update};
use super::tags::sync_tags;
use crate::aws::resource::Read;
use crate::model::Outputs;
use crate::model::{AlarmTopicSpec, Spec, Tags, alarm_topic_name};

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

pub(crate) struct AlarmTopics<'a>(pub(crate) &'a Sns);

impl Resource for AlarmTopics<'_> {
    type Spec = AlarmTopicSpec;

    /// SNS lists topics by ARN only: the environment's is the one with its name.
    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let name = alarm_topic_name(environment);
        let topics: Vec<_> = all_pages!(self.0.client.list_topics(), "ListTopics")?;
        let Some(arn) = topics
            .iter()
            .filter_map(|t| t.topic_arn())
            .find(|arn| arn.rsplit(':').next() == Some(name.as_str()))
            .map(str::to_owned)
        else {
            return Ok(Vec::new());
        };
        let (tags, subscriptions, policy) = tokio::try_join!(
            self.0.tags_of(&arn),
            self.0.email_subscriptions(&arn),
            self.0.policy_of(&arn)
        )?;
        let spec = AlarmTopicSpec {
            name,
            emails: subscriptions.into_iter().map(|(email, _)| email).collect(),
            policy,
        };
        Ok(vec![Found::new(arn, tags, move |_| Spec::AlarmTopic(spec))])
    }

    /// CreateTopic with the same name returns the existing topic: a retried create is safe.
    async fn create(&self, request: Create<'_, AlarmTopicSpec>) -> Result<String, AwsError> {
        let spec = request.spec;
        let created = self
            .0
            .client
            .create_topic()
            .name(&spec.name)
            .attributes(POLICY, &spec.policy)
            .set_tags(Some(to_sns_tags(request.tags)?))
            .send()
            .await
            .op("CreateTopic")?;
        let arn = created.topic_arn().unwrap_or_default().to_owned();
        for email in &spec.emails {
            self.0.subscribe(&arn, email).await?;
        }
        if !spec.emails.is_empty() {
            request
                .progress
                .waiting("AWS mailed a confirmation link: alarms are delivered once it is followed");
        }
        Ok(arn)
    }

    async fn update(&self, request: Update<'_, AlarmTopicSpec>) -> Result<(), AwsError> {
        let topic = request.physical_id;
        if request.changed("policy") {
            self.0
                .client
                .set_topic_attributes()
                .topic_arn(topic)
                .attribute_name(POLICY)
                .attribute_value(&request.spec.policy)
                .send()
                .await
                .op("SetTopicAttributes")?;
        }
        if request.changed("emails") {
            let existing = self.0.email_subscriptions(topic).await?;
            for email in request
                .spec
                .emails
                .iter()
                .filter(|e| !existing.iter().any(|(had, _)| had == *e))
            {
                self.0.subscribe(topic, email).await?;
            }
            for (email, subscription) in existing.iter().filter(|(e, _)| !request.spec.emails.contains(e)) {
                if subscription == PENDING {
                    request.progress.waiting(format!(
                        "{email} never confirmed its subscription: SNS keeps it pending for up to three days"
                    ));
                    continue;
                }
                self.0
                    .client
                    .unsubscribe()
                    .subscription_arn(subscription)
                    .send()
                    .await
                    .op("Unsubscribe")?;
            }
        }
        sync_tags(self.0, topic, request.tags, request.current_tags).await
    }

    /// Deleting a topic deletes its subscriptions; one already gone counts as deleted.
    async fn delete(&self, request: Delete<'_, AlarmTopicSpec>) -> Result<(), AwsError> {
        match self
            .0
            .client
            .delete_topic()
            .topic_arn(request.physical_id)
            .send()
            .await
            .op("DeleteTopic")
        {
            Err(error) if error.code() == Some("NotFound") => Ok(()),
            other => other.map(drop),
        }
    }

    fn outputs(&self, read: &Read<'_, Self::Spec>, outputs: &mut Outputs) {
        outputs.alarm_topic_arn = Some(read.resource.physical_id.clone());
    }
}
