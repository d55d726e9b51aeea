//! `deployer shell ENV`: a Systems Manager session on one of an EC2 environment's instances.

use anyhow::{Context, Result};
use clap::Args;

use super::Status;
use crate::ops::{self, Session, Workspace};
use crate::ui::report;

#[derive(Debug, Args)]
pub struct ShellArgs {
    /// Environment name: environments/<ENV>.yaml.
    pub environment: String,
    /// The instance (default: the first in service).
    #[arg(long, value_name = "ID")]
    pub instance: Option<String>,
}

pub async fn exec(workspace: &Workspace, args: &ShellArgs) -> Result<Status> {
    let session = Session::open(workspace, &args.environment).await?;
    let command = ops::shell(&session, args.instance.as_deref()).await?;
    report::session(&command);
    // The terminal is the session's until it ends; its exit status is ours.
    let status = std::process::Command::new(&command.program)
        .args(&command.args)
        .status()
        .with_context(|| format!("could not run {}", command.program.display()))?;
    Ok(Status::Session(
        status.code().map_or(1, |code| code.clamp(0, 255) as u8),
    ))
}
