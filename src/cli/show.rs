//! `deployer show FILE`: a saved plan, recomputed from what the file records.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::Status;
use crate::ops::{self, SavedPlan, Session, Workspace};
use crate::ui::report;

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan file written by `deployer plan ENV --out FILE`.
    pub file: PathBuf,
    /// Print the plan as one JSON object, in `plan --json`'s format.
    #[arg(long)]
    pub json: bool,
}

/// Prints the plan recomputed from what the file records, after the checks `apply FILE`
/// makes: never the file's own text, which anyone who can write it could change.
pub async fn exec(workspace: &Workspace, args: &ShowArgs) -> Result<Status> {
    let saved = SavedPlan::read(&args.file, ops::plan_key()?.as_deref())?;
    let session = Session::open(workspace, &saved.environment).await?;
    let (_, plan) = ops::prepare_saved(&session, &saved, &args.file).await?;
    report::saved_plan(&saved, &plan, args.json);
    Ok(Status::Done)
}
