//! `deployer logs ENV`: the API's logs, oldest first, optionally following new lines.

use anyhow::Result;
use clap::Args;

use super::Status;
use crate::ops::{self, Session, Workspace};
use crate::ui::report;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Environment name.
    pub environment: String,
    /// How far back to start: 90s, 10m, 2h, 1d.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = humantime::parse_duration)]
    pub since: std::time::Duration,
    /// Keep printing new lines until interrupted.
    #[arg(short, long)]
    pub follow: bool,
    /// Only lines containing this text.
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// One JSON object per line: {"timestamp", "source", "message"}.
    #[arg(long)]
    pub json: bool,
}

pub async fn exec(workspace: &Workspace, args: &LogsArgs) -> Result<Status> {
    let session = Session::open(workspace, &args.environment).await?;
    let request = ops::LogsRequest {
        since: args.since,
        filter: args.filter.as_deref(),
        follow: args.follow,
    };
    ops::logs(&session, &request, |line| report::log_line(line, args.json)).await?;
    Ok(Status::Done)
}
