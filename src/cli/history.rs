//! `deployer history ENV`: the revisions deployed, newest first, and which one runs.

use anyhow::Result;

use super::Status;
use super::status::StatusArgs;
use crate::ops::{self, Session, Workspace};
use crate::ui::report;

pub async fn exec(workspace: &Workspace, args: &StatusArgs) -> Result<Status> {
    let session = Session::open(workspace, &args.environment).await?;
    report::history(&ops::history(&session).await?, args.json)?;
    Ok(Status::Done)
}
