//! `logs`: the API's CloudWatch Logs for an environment (ECS tasks and EC2 instances log to
//! the same managed group), oldest first, optionally following new lines.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use super::Session;
use crate::aws::LogLine;
use crate::model::log_group_name;

/// How often `--follow` asks for new lines.
const FOLLOW_INTERVAL: Duration = Duration::from_secs(2);
/// Lines written this long before the last one seen may still arrive (CloudWatch orders by
/// the time the container stamped, not the time it arrived); `--follow` looks back this far.
const LATE_ARRIVALS: Duration = Duration::from_secs(30);

pub struct LogsRequest<'a> {
    pub since: Duration,
    pub filter: Option<&'a str>,
    pub follow: bool,
}

/// Reads the lines of the last `since` and hands each to `print` once, oldest first; with
/// `follow`, keeps polling (until the process is interrupted) and never hands a line twice.
pub async fn logs(session: &Session, request: &LogsRequest<'_>, mut print: impl FnMut(&LogLine)) -> Result<()> {
    let name = &session.file()?.config.name;
    let aws = &session.aws;
    let group = log_group_name(name);
    let mut from = now_ms().saturating_sub(millis(request.since));
    let mut seen: HashSet<String> = HashSet::new();
    loop {
        let lines = aws
            .logs
            .read(&group, from, request.filter)
            .await
            .with_context(|| format!("could not read the logs of {name} ({group})"))?;
        for line in lines.iter().filter(|line| seen.insert(line.id.clone())) {
            print(line);
        }
        if !request.follow {
            return Ok(());
        }
        // Look back a little for late arrivals; `seen` keeps them from printing twice, and
        // forgets what is older than the window, so it stays small.
        if let Some(last) = lines.iter().map(|l| l.timestamp).max() {
            from = from.max(last.saturating_sub(millis(LATE_ARRIVALS)));
            let window: HashSet<String> = lines
                .iter()
                .filter(|l| l.timestamp >= from)
                .map(|l| l.id.clone())
                .collect();
            seen.retain(|id| window.contains(id));
        }
        tokio::time::sleep(FOLLOW_INTERVAL).await;
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
