//! The alarm's spec: what it watches (a metric, or metric math over several) and when it fires.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::model::Ref;
use crate::model::spec::{Attribute, Reference, ResourceSpec};

/// The value of a metric dimension.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DimensionValue {
    /// A name deployer gives (the ECS cluster, the Aurora cluster).
    Named(String),
    /// One of the environment's resources, as CloudWatch names it: a classic ELB by its name,
    /// an ALB or a target group by the end of its ARN (`app/<name>/<id>`).
    Resource(Ref),
}

impl DimensionValue {
    /// How CloudWatch names the resource whose AWS id is `physical`.
    pub fn of_physical(physical: &str) -> String {
        if let Some((_, balancer)) = physical.split_once(":loadbalancer/") {
            balancer.to_owned()
        } else if physical.starts_with("arn:") && physical.contains(":targetgroup/") {
            physical
                .rsplit_once(':')
                .map_or(physical, |(_, group)| group)
                .to_owned()
        } else {
            physical.to_owned()
        }
    }
}

impl fmt::Display for DimensionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Named(name) => name.fmt(f),
            Self::Resource(target) => target.fmt(f),
        }
    }
}

/// One statistic of one metric, as an alarm reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricRead {
    pub namespace: String,
    pub name: String,
    /// `Average`, `Maximum`, `Minimum`, `Sum`, or a percentile such as `p99`.
    pub statistic: String,
    pub dimensions: BTreeMap<String, DimensionValue>,
}

impl fmt::Display for MetricRead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.namespace, self.name, self.statistic)?;
        for (name, value) in &self.dimensions {
            write!(f, " {name}={value}")?;
        }
        Ok(())
    }
}

/// What an alarm compares with its threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmMetric {
    Metric(MetricRead),
    /// Metric math over metrics called `m0`, `m1`, … in this order.
    Expression {
        expression: String,
        metrics: Vec<MetricRead>,
    },
}

impl fmt::Display for AlarmMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Metric(metric) => metric.fmt(f),
            Self::Expression { expression, metrics } => {
                write!(f, "{expression} where")?;
                for (index, metric) in metrics.iter().enumerate() {
                    let separator = if index == 0 { "" } else { ";" };
                    write!(f, "{separator} m{index} = {metric}")?;
                }
                Ok(())
            }
        }
    }
}

/// One CloudWatch metric alarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlarmSpec {
    pub name: String,
    pub description: String,
    pub metric: AlarmMetric,
    /// `GreaterThanThreshold` or `LessThanThreshold`.
    pub comparison: String,
    /// As CloudWatch stores it (a double), written the shortest way.
    pub threshold: String,
    pub period_seconds: u32,
    /// The alarm fires when `datapoints_to_alarm` of the last `evaluation_periods` breach.
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: u32,
    /// `notBreaching`: no data (no traffic, no errors reported) is not trouble.
    pub treat_missing_data: String,
    /// The topic told when the alarm fires and when it recovers.
    pub notify: Option<Ref>,
}

impl AlarmSpec {
    fn dimension_refs(&self) -> Vec<&Ref> {
        let metrics: Vec<&MetricRead> = match &self.metric {
            AlarmMetric::Metric(metric) => vec![metric],
            AlarmMetric::Expression { metrics, .. } => metrics.iter().collect(),
        };
        metrics
            .into_iter()
            .flat_map(|m| m.dimensions.values())
            .filter_map(|value| match value {
                DimensionValue::Resource(target) => Some(target),
                DimensionValue::Named(_) => None,
            })
            .collect()
    }
}

impl ResourceSpec for AlarmSpec {
    fn physical_name(&self) -> Option<&str> {
        Some(&self.name)
    }

    fn attributes(&self) -> Vec<Attribute> {
        vec![
            Attribute::scalar("name", &self.name, true),
            Attribute::scalar("description", &self.description, false),
            Attribute::scalar("metric", &self.metric, false),
            Attribute::scalar("comparison", &self.comparison, false),
            Attribute::scalar("threshold", &self.threshold, false),
            Attribute::scalar("period_seconds", self.period_seconds, false),
            Attribute::scalar("evaluation_periods", self.evaluation_periods, false),
            Attribute::scalar("datapoints_to_alarm", self.datapoints_to_alarm, false),
            Attribute::scalar("treat_missing_data", &self.treat_missing_data, false),
            Attribute::optional("notify", self.notify.as_ref(), false),
        ]
    }

    fn references(&self) -> Vec<Reference<'_>> {
        // Weak: the alarm is pointed at a replaced load balancer or topic in place.
        let mut references: Vec<Reference<'_>> = Reference::weak_all("metric", self.dimension_refs()).collect();
        references.extend(self.notify.iter().map(|topic| Reference::weak("notify", topic)));
        references
    }
}
