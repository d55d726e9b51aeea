//! `deployer output ENV`: the environment's outputs, read from what is deployed.

use anyhow::Result;
use clap::Args;

use super::Status;
use crate::ops::{self, Session, Workspace};
use crate::ui::report;

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Environment name.
    pub environment: String,
    /// Print the outputs as one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub async fn exec(workspace: &Workspace, args: &OutputArgs) -> Result<Status> {
    let session = Session::open(workspace, &args.environment).await?;
    report::outputs(&ops::outputs(&session).await?, args.json)?;
    Ok(Status::Done)
}
