//! `deployer cost ENV [--json]`: what the environment costs a month, offline.

use anyhow::Result;
use clap::Args;

use super::Status;
use crate::ops::{self, Workspace};
use crate::ui::report;

#[derive(Debug, Args)]
pub struct CostArgs {
    /// Environment name.
    pub environment: String,
    /// Print the estimate as one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn exec(workspace: &Workspace, args: &CostArgs) -> Result<Status> {
    let costed = ops::cost(workspace, &args.environment)?;
    report::cost(&costed, args.json)?;
    Ok(Status::Done)
}
