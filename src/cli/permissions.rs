//! `deployer permissions ENV [--for deploy|plan|push]`: the IAM policies an operator needs.

use anyhow::Result;
use clap::{Args, ValueEnum};

use super::Status;
use crate::aws::OperatorRole;
use crate::ops::{self, Session, Workspace};
use crate::ui::report;

#[derive(Debug, Args)]
pub struct PermissionsArgs {
    /// Environment name.
    pub environment: String,
    /// Which operator: `deploy` (apply, destroy, rollback, unlock, status, logs, history,
    /// shell, push), `plan` (plan, show: reads only, not even the lock), `push` (ECR only),
    /// `bootstrap` (what the administrator running `deployer bootstrap` in its region needs).
    #[arg(long = "for", value_enum, default_value = "deploy")]
    pub role: RoleArg,
    /// Print the policies as one JSON object (`policies[].document` is each policy).
    #[arg(long)]
    pub json: bool,
    /// The account the policies are for (12 digits); without it, the credentials' own, asked
    /// of STS. With it, no AWS call is made and no credentials are needed.
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Deploy,
    Plan,
    Push,
    Bootstrap,
}

impl From<RoleArg> for OperatorRole {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Deploy => Self::Deploy,
            RoleArg::Plan => Self::Plan,
            RoleArg::Push => Self::Push,
            RoleArg::Bootstrap => Self::Bootstrap,
        }
    }
}

pub async fn exec(workspace: &Workspace, args: &PermissionsArgs) -> Result<Status> {
    let session = Session::open(workspace, &args.environment).await?;
    let permissions = ops::permissions(&session, args.role.into(), args.account.as_deref()).await?;
    report::permissions(&args.environment, &permissions, args.json)?;
    Ok(Status::Done)
}
