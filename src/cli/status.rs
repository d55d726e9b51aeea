//! `deployer status ENV`: how the environment runs now, and whether that is healthy (exit 3
//! when not).

use anyhow::Result;
use clap::Args;

use super::Status;
use crate::ops::{self, Session, Workspace};
use crate::ui::report;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Environment name.
    pub environment: String,
    /// Print one JSON object (`status` adds `healthy`).
    #[arg(long)]
    pub json: bool,
}

pub async fn exec(workspace: &Workspace, args: &StatusArgs) -> Result<Status> {
    let session = Session::open(workspace, &args.environment).await?;
    let status = ops::status(&session).await?;
    report::status(&status, args.json)?;
    Ok(if status.healthy() {
        Status::Done
    } else {
        Status::Unhealthy
    })
}
