//! CloudWatch Logs: the API's log group, with a retention period, created before anything
//! writes to it (no role may create log groups) and deleted with the environment.

use std::collections::HashMap;

use aws_sdk_cloudwatchlogs::Client;

use super::error::{AwsError, Classify};
use super::found::{Found, recorded_arn};
use super::permissions::{Arn, Call, LIST, On, read, reads_data, write};
use super::resource::{Create, Delete, Resource, Update};
use super::tags::{TagApi, sync_tags};
use crate::model::{LogGroupSpec, Spec, TAG_ENVIRONMENT, Tags};

mod log_group;

pub(crate) use log_group::LogGroups;

#[derive(Debug, Clone)]
pub struct Logs {
    client: Client,
}

impl Logs {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: crate::aws::classifier::client!(aws_sdk_cloudwatchlogs, config),
        }
    }

    async fn put_retention(&self, name: &str, days: u16) -> Result<(), AwsError> {
        self.client
            .put_retention_policy()
            .log_group_name(name)
            .retention_in_days(i32::from(days))
            .send()
            .await
            .op("PutRetentionPolicy")
            .map(drop)
    }

    /// The group's ARN as the tagging calls want it (no trailing `:*`).
    async fn arn(&self, name: &str) -> Result<Option<String>, AwsError> {
        let groups: Vec<_> = all_pages!(
            self.client.describe_log_groups().log_group_name_prefix(name),
            "DescribeLogGroups"
        )?;
        Ok(groups
            .into_iter()
            .find(|g| g.log_group_name() == Some(name))
            .and_then(|g| group_arn(&g)))
    }
}

/// One line the API logged.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogLine {
    /// Milliseconds since the Unix epoch, as CloudWatch Logs records them.
    pub timestamp: i64,
    /// The task or instance that wrote it: the last part of its log stream's name.
    pub source: String,
    pub message: String,
    /// CloudWatch's id of the event: the same line read twice has the same id.
    #[serde(skip)]
    pub id: String,
}

impl Logs {
    /// The events of `group` from `since_ms` on (all pages), oldest first, whose message
    /// contains `filter` (CloudWatch's filter pattern syntax: plain words match as terms).
    /// A group that does not exist yet has no lines.
    pub async fn read(&self, group: &str, since_ms: i64, filter: Option<&str>) -> Result<Vec<LogLine>, AwsError> {
        let request = self
            .client
            .filter_log_events()
            .log_group_name(group)
            .start_time(since_ms)
            .set_filter_pattern(filter.map(quoted_term));
        let pages = match request
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .op("FilterLogEvents")
        {
            Ok(pages) => pages,
            Err(error) if error.code() == Some("ResourceNotFoundException") => return Ok(Vec::new()),
            Err(error) => return Err(error),
        };
        let events = pages.into_iter().flat_map(|page| page.events.unwrap_or_default());
        let mut lines: Vec<LogLine> = events
            .map(|event| LogLine {
                timestamp: event.timestamp().unwrap_or_default(),
                source: event
                    .log_stream_name()
                    .and_then(|s| s.rsplit('/').next())
                    .unwrap_or("-")
                    .to_owned(),
                message: event.message().unwrap_or_default().trim_end().to_owned(),
                id: event.event_id().unwrap_or_default().to_owned(),
            })
            .collect();
        lines.sort_by_key(|line| line.timestamp);
        Ok(lines)
    }
}

/// A filter pattern matching `text` literally (CloudWatch reads unquoted text as terms and
/// operators).
fn quoted_term(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\\\""))
}

crate::aws::tags::tag_api!(
    Logs,
    resource_arn,
    tag_resource("TagResource", tags => tags.clone().into_iter().collect()),
    untag_resource("UntagResource")
);

/// `logGroupArn`, or `arn` without the `:*` that DescribeLogGroups appends to it.
fn group_arn(group: &aws_sdk_cloudwatchlogs::types::LogGroup) -> Option<String> {
    group
        .log_group_arn()
        .map(str::to_owned)
        .or_else(|| group.arn().map(|arn| arn.trim_end_matches(":*").to_owned()))
}

/// What the CloudWatch Logs adapter calls (see `aws::permissions`).
pub(crate) const CALLS: &[Call] = &[
    read("logs:DescribeLogGroups", On::Anything(LIST)),
    read("logs:ListTagsForResource", On::Own(&[Arn::LogGroup])),
    reads_data("logs:FilterLogEvents", On::Own(&[Arn::LogGroup])),
    write("logs:CreateLogGroup", On::Own(&[Arn::LogGroup])),
    write("logs:PutRetentionPolicy", On::Own(&[Arn::LogGroup])),
    write("logs:TagResource", On::Own(&[Arn::LogGroup])),
    write("logs:UntagResource", On::Own(&[Arn::LogGroup])),
    write("logs:DeleteLogGroup", On::Own(&[Arn::LogGroup])),
];
