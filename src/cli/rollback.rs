//! `deployer rollback ENV`: run an earlier revision's image again and hold the environment
//! there, or end the hold (`--release`).

use anyhow::Result;
use clap::Args;

use super::apply::carry_out;
use super::{ExecutionArgs, Status, ask, locked};
use crate::ops::{self, Session, Workspace};
use crate::printable::printable_line;
use crate::ui::{self, Confirmation, report};

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Environment name.
    pub environment: String,
    /// The revision to go back to, as `deployer history` names it (`staging-api:3`, or `3`).
    #[arg(long, value_name = "REVISION", conflicts_with = "release")]
    pub to: Option<String>,
    /// End the hold instead: the next apply rolls forward to the file's or the last pushed image.
    #[arg(long)]
    pub release: bool,
    /// Roll back without asking; required when stdin is not a terminal.
    #[arg(long)]
    pub auto_approve: bool,
    #[command(flatten)]
    pub execution: ExecutionArgs,
    /// Emit one JSON object per event on stdout instead of progress bars.
    #[arg(long)]
    pub json: bool,
}

pub async fn exec(workspace: &Workspace, args: &RollbackArgs) -> Result<Status> {
    let session = Session::open(workspace, &args.environment).await?;
    if args.release {
        match ops::release(&session).await? {
            Some(hold) => report::released(&args.environment, &hold),
            None => report::released_nothing(&args.environment),
        }
        return Ok(Status::Done);
    }
    locked(&session, "rollback", rollback_locked(&session, args)).await
}

async fn rollback_locked(session: &Session, args: &RollbackArgs) -> Result<Status> {
    let style = ui::progress_style(args.json);
    let environment = session.name();
    let revisions = ops::history(session).await?;
    let target = ops::rollback_target(&revisions, args.to.as_deref())?;
    if !args.auto_approve {
        ask(
            &format!(
                "Roll {environment} back to revision {} ({})?",
                printable_line(&target.revision),
                printable_line(&target.image)
            ),
            Confirmation::Yes,
        )?;
    }
    let (situation, plan) = ops::roll_back(session, target).await?;
    report::held(environment, situation.held.as_ref(), style);
    report::plan_event(&plan, style);
    ops::check_protection(&situation, &plan, false)?;
    let applied = carry_out(&situation, &plan, (&args.execution, None), style).await?;
    report::applied(&applied, !plan.is_empty(), style);
    Ok(Status::Done)
}
