//! `deployer bootstrap --github OWNER/REPO [ENV…]`: GitHub Actions' identity provider and each
//! environment's deploy and plan roles, holding `deployer permissions`' policies.

use anyhow::Result;
use clap::Args;

use super::{ExecutionArgs, Status, ask};
use crate::ops::{self, Workspace};
use crate::ui::{self, Confirmation, StepReporter, report};

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// The repository whose GitHub Actions deploy: OWNER/REPO. Its jobs in the GitHub
    /// environment ENV may assume ENV's deploy role, in `plan-ENV` its plan role; nothing else.
    #[arg(long, value_name = "OWNER/REPO", required_unless_present = "destroy")]
    pub github: Option<String>,
    /// The environments to make roles for; every environment file when none is named. Their
    /// files must name one region: the roles' policies are that region's.
    #[arg(value_name = "ENV")]
    pub names: Vec<String>,
    /// Remove what bootstrap made (its roles, their policies, the identity provider if it
    /// made it), and nothing else.
    #[arg(long)]
    pub destroy: bool,
    /// Change without asking; required when stdin is not a terminal.
    #[arg(long)]
    pub auto_approve: bool,
    #[command(flatten)]
    pub execution: ExecutionArgs,
}

pub async fn exec(workspace: &Workspace, args: &BootstrapArgs) -> Result<Status> {
    let prepared = ops::prepare_bootstrap(workspace, args.github.as_deref(), &args.names, args.destroy).await?;
    let style = ui::progress_style(false);
    report::plan(&prepared.plan, false);
    if !prepared.plan.is_empty() {
        if !args.auto_approve {
            let question = if args.destroy {
                "Do you really want to remove the CI roles bootstrap made?"
            } else {
                "Do you want to make these CI roles?"
            };
            ask(question, Confirmation::Yes)?;
        }
        let reporter = StepReporter::new(style);
        ops::bootstrap(&prepared, &args.execution.execution(), &reporter).await?;
    }
    report::bootstrapped(&prepared.region, &prepared.roles);
    Ok(Status::Done)
}
