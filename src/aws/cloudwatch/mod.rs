//! CloudWatch metric alarms. PutMetricAlarm both creates and replaces an alarm's whole
//! definition (it ignores tags when the alarm exists), so an update puts the definition again
//! and syncs tags with TagResource/UntagResource.
//!
//! Found by the environment's name prefix (`<env>-`) and kept only with deployer's tags:
//! alarms that an autoscaler creates (`TargetTracking-…`) or a person adds are never ours.

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, Metric, MetricAlarm, MetricDataQuery, MetricStat, Statistic, Tag,
};
use futures::future::try_join_all;

use super::error::{AwsError, Classify};
use super::found::{Found, recorded_arn};
use super::permissions::{Arn, Call, LIST, On, read, write};
use super::resource::{Create, Delete, Resource, Update};
use super::tags::sync_tags;
use crate::apply::Resolved;
use crate::aws::resource::Read;
use crate::aws::status::AlarmStatus;
use crate::aws::status::Health;
use crate::model::Outputs;
use crate::model::{AlarmMetric, AlarmSpec, DimensionValue, MetricRead, Ref, ResourceSpec, Spec, Tags};

mod alarm;

pub(crate) use alarm::Alarms;

#[derive(Debug, Clone)]
pub struct CloudWatch {
    client: Client,
}

impl CloudWatch {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: crate::aws::classifier::client!(aws_sdk_cloudwatch, config),
        }
    }

    async fn alarms_named(&self, prefix: &str) -> Result<Vec<MetricAlarm>, AwsError> {
        let pages: Vec<_> = self
            .client
            .describe_alarms()
            .alarm_name_prefix(prefix)
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .op("DescribeAlarms")?;
        Ok(pages
            .into_iter()
            .flat_map(|page| page.metric_alarms.unwrap_or_default())
            .collect())
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
            .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
            .collect())
    }

    /// Creates or replaces the alarm's definition (tags only count at creation).
    async fn put(&self, spec: &AlarmSpec, tags: Option<&Tags>, resolved: &Resolved) -> Result<(), AwsError> {
        let actions: Vec<String> = match &spec.notify {
            Some(topic) => vec![resolved.physical(topic)?],
            None => Vec::new(),
        };
        let mut request = self
            .client
            .put_metric_alarm()
            .alarm_name(&spec.name)
            .alarm_description(&spec.description)
            .comparison_operator(ComparisonOperator::from(spec.comparison.as_str()))
            .threshold(spec.threshold.parse::<f64>().map_err(|_| AwsError::Other {
                operation: "PutMetricAlarm",
                detail: format!("internal error: threshold `{}` is not a number", spec.threshold),
            })?)
            .evaluation_periods(to_i32(spec.evaluation_periods))
            .datapoints_to_alarm(to_i32(spec.datapoints_to_alarm))
            .treat_missing_data(&spec.treat_missing_data)
            .actions_enabled(true)
            .set_alarm_actions(Some(actions.clone()))
            .set_ok_actions(Some(actions))
            .set_tags(tags.map(|tags| {
                tags.iter()
                    .map(|(k, v)| Tag::builder().key(k).value(v).build())
                    .collect()
            }));
        match &spec.metric {
            AlarmMetric::Metric(metric) => {
                let mut with = request
                    .namespace(&metric.namespace)
                    .metric_name(&metric.name)
                    .period(to_i32(spec.period_seconds))
                    .set_dimensions(Some(dimensions(metric, resolved)?));
                with = if metric.statistic.starts_with('p') {
                    with.extended_statistic(&metric.statistic)
                } else {
                    with.statistic(Statistic::from(metric.statistic.as_str()))
                };
                request = with;
            }
            AlarmMetric::Expression { expression, metrics } => {
                let mut queries = vec![
                    MetricDataQuery::builder()
                        .id(EXPRESSION_ID)
                        .expression(expression)
                        .label(&spec.description)
                        .return_data(true)
                        .build(),
                ];
                for (index, metric) in metrics.iter().enumerate() {
                    let stat = MetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace(&metric.namespace)
                                .metric_name(&metric.name)
                                .set_dimensions(Some(dimensions(metric, resolved)?))
                                .build(),
                        )
                        .period(to_i32(spec.period_seconds))
                        .stat(&metric.statistic)
                        .build();
                    queries.push(
                        MetricDataQuery::builder()
                            .id(format!("m{index}"))
                            .metric_stat(stat)
                            .return_data(false)
                            .build(),
                    );
                }
                request = request.set_metrics(Some(queries));
            }
        }
        request.send().await.op("PutMetricAlarm").map(drop)
    }
}

/// The id of the expression among an alarm's metric queries.
const EXPRESSION_ID: &str = "rate";

fn to_i32(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

fn dimensions(metric: &MetricRead, resolved: &Resolved) -> Result<Vec<Dimension>, AwsError> {
    metric
        .dimensions
        .iter()
        .map(|(name, value)| {
            let value = match value {
                DimensionValue::Named(named) => named.clone(),
                DimensionValue::Resource(target) => DimensionValue::of_physical(&resolved.physical(target)?),
            };
            Ok(Dimension::builder().name(name).value(value).build())
        })
        .collect()
}

/// A dimension read back: the environment's own load balancer and target group become their
/// logical ids again, anything else stays a name.
fn dimension_from(name: &str, value: &str, environment: &str) -> DimensionValue {
    let own_balancer = crate::model::names::load_balancer(environment);
    let parts: Vec<&str> = value.split('/').collect();
    match name {
        "LoadBalancerName" if value == own_balancer => DimensionValue::Resource(Ref::to("load-balancer")),
        "LoadBalancer" if parts.len() == 3 && parts[1] == own_balancer => {
            DimensionValue::Resource(Ref::to("load-balancer"))
        }
        "TargetGroup" if parts.len() == 3 && crate::model::is_target_group_name(environment, parts[1]) => {
            DimensionValue::Resource(Ref::to("target-group"))
        }
        _ => DimensionValue::Named(value.to_owned()),
    }
}

fn metric_from(
    (namespace, name, statistic): (Option<&str>, Option<&str>, String),
    dimensions: &[Dimension],
    environment: &str,
) -> MetricRead {
    MetricRead {
        namespace: namespace.unwrap_or_default().to_owned(),
        name: name.unwrap_or_default().to_owned(),
        statistic,
        dimensions: dimensions
            .iter()
            .map(|d| {
                let (name, value) = (d.name().unwrap_or_default(), d.value().unwrap_or_default());
                (name.to_owned(), dimension_from(name, value, environment))
            })
            .collect(),
    }
}

/// The alarm's definition as deployer writes it, read back.
fn spec_from(alarm: &MetricAlarm, environment: &str, notify: Option<Ref>) -> AlarmSpec {
    let metric = if alarm.metrics().is_empty() {
        let statistic = alarm
            .extended_statistic()
            .map(str::to_owned)
            .or_else(|| alarm.statistic().map(|s| s.as_str().to_owned()))
            .unwrap_or_default();
        AlarmMetric::Metric(metric_from(
            (alarm.namespace(), alarm.metric_name(), statistic),
            alarm.dimensions(),
            environment,
        ))
    } else {
        let expression = alarm
            .metrics()
            .iter()
            .find_map(|q| q.expression())
            .unwrap_or_default()
            .to_owned();
        let mut reads: Vec<(&str, MetricRead)> = alarm
            .metrics()
            .iter()
            .filter_map(|q| {
                let stat = q.metric_stat()?;
                let metric = stat.metric()?;
                Some((
                    q.id().unwrap_or_default(),
                    metric_from(
                        (
                            metric.namespace(),
                            metric.metric_name(),
                            stat.stat().unwrap_or_default().to_owned(),
                        ),
                        metric.dimensions(),
                        environment,
                    ),
                ))
            })
            .collect();
        // `m0`, `m1`, … in order, whatever order AWS lists them in.
        reads.sort_by_key(|(id, _)| id.trim_start_matches('m').parse::<u32>().unwrap_or(u32::MAX));
        AlarmMetric::Expression {
            expression,
            metrics: reads.into_iter().map(|(_, read)| read).collect(),
        }
    };
    let period = alarm.period().or_else(|| {
        alarm
            .metrics()
            .iter()
            .find_map(|q| q.metric_stat().map(|s| s.period()))
            .flatten()
    });
    AlarmSpec {
        name: alarm.alarm_name().unwrap_or_default().to_owned(),
        description: alarm.alarm_description().unwrap_or_default().to_owned(),
        metric,
        comparison: alarm.comparison_operator().map_or("", |c| c.as_str()).to_owned(),
        threshold: alarm.threshold().unwrap_or_default().to_string(),
        period_seconds: period.unwrap_or_default().max(0) as u32,
        evaluation_periods: alarm.evaluation_periods().unwrap_or_default().max(0) as u32,
        datapoints_to_alarm: alarm
            .datapoints_to_alarm()
            .or(alarm.evaluation_periods())
            .unwrap_or_default()
            .max(0) as u32,
        treat_missing_data: alarm.treat_missing_data().unwrap_or("missing").to_owned(),
        notify,
    }
}

crate::aws::tags::tag_api!(
    CloudWatch,
    resource_arn,
    tag_resource("TagResource", tags => tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()),
    untag_resource("UntagResource")
);

/// What the alarms' adapter calls (see `aws::permissions`).
pub(crate) const CALLS: &[Call] = &[
    read("cloudwatch:DescribeAlarms", On::Anything(LIST)),
    read("cloudwatch:ListTagsForResource", On::Own(&[Arn::Alarm])),
    write("cloudwatch:PutMetricAlarm", On::Own(&[Arn::Alarm])),
    write("cloudwatch:TagResource", On::Own(&[Arn::Alarm])),
    write("cloudwatch:UntagResource", On::Own(&[Arn::Alarm])),
    write("cloudwatch:DeleteAlarms", On::Own(&[Arn::Alarm])),
];
