//! CloudWatch alarms: found by the environment's name prefix and deployer's names for them, kept
//! only when deployer's tags say so.

use super::*;

pub(crate) struct Alarms<'a>(pub(crate) &'a CloudWatch);

impl Resource for Alarms<'_> {
    type Spec = AlarmSpec;

    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let alarms = self
            .0
            .alarms_named(&crate::model::names::alarm_prefix(environment))
            .await?;
        // The prefix also finds the alarms of an environment called `<env>-<x>`: only the names
        // deployer gives (which its policies name, one by one) are candidates, and each
        // candidate's tags say whether it is ours. A suffix is never taken out of
        // `ALARM_SUFFIXES` while an alarm may carry it.
        let names = crate::model::names::alarms(environment);
        let alarms = alarms
            .into_iter()
            .filter(|alarm| alarm.alarm_name().is_some_and(|name| names.iter().any(|n| n == name)));
        let tagged = try_join_all(alarms.filter_map(|alarm| {
            let arn = alarm.alarm_arn()?.to_owned();
            Some(async move { Ok::<_, AwsError>((self.0.tags_of(&arn).await?, arn, alarm)) })
        }))
        .await?;
        Ok(tagged
            .into_iter()
            .map(|(tags, arn, alarm)| {
                let name = alarm.alarm_name().unwrap_or_default().to_owned();
                let state = alarm.state_value().map(|s| s.as_str().to_owned());
                let environment = environment.to_owned();
                Found::new(name, tags, move |lookup| {
                    let notify = alarm.alarm_actions().first().map(|topic| lookup(topic));
                    Spec::Alarm(spec_from(&alarm, &environment, notify))
                })
                .with_info(|info| {
                    info.arn = Some(arn);
                    info.alarm_state = state;
                })
            })
            .collect())
    }

    async fn create(&self, request: Create<'_, AlarmSpec>) -> Result<String, AwsError> {
        self.0.put(request.spec, Some(request.tags), request.resolved).await?;
        Ok(request.spec.name.clone())
    }

    async fn update(&self, request: Update<'_, AlarmSpec>) -> Result<(), AwsError> {
        // Every attribute is part of the one definition PutMetricAlarm replaces.
        if request.spec.attributes().iter().any(|a| request.changed(a.name)) {
            self.0.put(request.spec, None, request.resolved).await?;
        }
        let arn = recorded_arn(request.info, &request.spec.name, "TagResource")?;
        sync_tags(self.0, arn, request.tags, request.current_tags).await
    }

    /// Deleting an alarm that is not there succeeds.
    async fn delete(&self, request: Delete<'_, AlarmSpec>) -> Result<(), AwsError> {
        self.0
            .client
            .delete_alarms()
            .alarm_names(request.physical_id)
            .send()
            .await
            .op("DeleteAlarms")
            .map(drop)
    }

    fn outputs(&self, read: &Read<'_, Self::Spec>, outputs: &mut Outputs) {
        outputs.alarms.push(read.resource.physical_id.clone());
    }

    /// Discovery read the alarm's state with its definition.
    async fn health(&self, read: &Read<'_, Self::Spec>) -> Result<Option<Health>, AwsError> {
        Ok(Some(Health::Alarm(AlarmStatus {
            name: read.resource.physical_id.clone(),
            state: read.resource.info.alarm_state.clone().unwrap_or_else(|| "?".to_owned()),
        })))
    }
}
