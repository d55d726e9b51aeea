//! `deployer unlock ENV`: break a lock left by a deployer that was killed (asks first).

use anyhow::{Result, bail};
use clap::Args;

use super::{Status, ask};
use crate::ops::{self, Session, Workspace};
use crate::ui::{Confirmation, report};

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// Environment name.
    pub environment: String,
    /// Break the lock without asking; required when stdin is not a terminal.
    #[arg(long)]
    pub auto_approve: bool,
}

pub async fn exec(workspace: &Workspace, args: &UnlockArgs) -> Result<Status> {
    let environment = &args.environment;
    let session = Session::open_deployed(workspace, environment).await?;
    let Some(holder) = ops::lock_holder(&session).await? else {
        report::not_locked(environment);
        return Ok(Status::Done);
    };
    report::lock_holder(environment, &holder);
    if !args.auto_approve {
        ask(
            "Break this lock? Only do so when that run is no longer running.",
            Confirmation::Yes,
        )?;
    }
    if ops::unlock(&session, &holder).await? {
        report::unlocked(environment);
    } else {
        bail!("the lock on {environment} changed while you were asked (released, or taken by another run); nothing was broken
  help: run `deployer unlock {environment}` again to see the current holder");
    }
    Ok(Status::Done)
}
