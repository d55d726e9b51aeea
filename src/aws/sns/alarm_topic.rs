//! The alarm topic, its policy and its email subscription.

use super::*;

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
        if request.changed(AlarmTopicSpec::POLICY) {
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
        if request.changed(AlarmTopicSpec::EMAILS) {
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
