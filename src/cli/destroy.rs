//! `deployer destroy [ENV]`: delete every resource of an environment, dependants first.

use anyhow::{Result, bail};
use clap::Args;

use super::{ExecutionArgs, Status, ask, locked};
use crate::ops::{self, Consent, DestroyTarget, Session, Workspace};
use crate::ui::{self, Confirmation, StepReporter, report};

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Environment to destroy; when omitted and exactly one environment is deployed, that one.
    pub environment: Option<String>,
    /// Destroy without asking; required when stdin is not a terminal.
    #[arg(long)]
    pub auto_approve: bool,
    /// Required with --auto-approve to destroy production or a `protect: true` environment.
    #[arg(long)]
    pub allow_destroy: bool,
    #[command(flatten)]
    pub execution: ExecutionArgs,
    /// Emit one JSON object per event on stdout instead of progress bars.
    #[arg(long)]
    pub json: bool,
}

pub async fn exec(workspace: &Workspace, args: &DestroyArgs) -> Result<Status> {
    let environment = match ops::destroy_target(workspace, args.environment.as_deref()).await? {
        DestroyTarget::One(name) => name,
        DestroyTarget::Nothing => {
            report::nothing_deployed(ui::progress_style(args.json));
            return Ok(Status::Done);
        }
        DestroyTarget::Several(names) => bail!(
            "several environments are deployed: {}\n  help: name the one to destroy, e.g. `deployer destroy {}`",
            names.join(", "),
            names[0]
        ),
    };
    let session = Session::open_deployed(workspace, &environment).await?;
    locked(&session, "destroy", destroy_locked(&session, args)).await
}

async fn destroy_locked(session: &Session, args: &DestroyArgs) -> Result<Status> {
    let environment = session.name();
    let prepared = ops::prepare_destroy(session).await?;
    let style = ui::progress_style(args.json);
    if prepared.plan.is_empty() {
        report::nothing_to_destroy(environment, style);
        return Ok(Status::Done);
    }
    report::plan_event(&prepared.plan, style);
    match ops::destroy_consent(environment, prepared.protected, args.auto_approve, args.allow_destroy)? {
        Consent::Given => {}
        Consent::Name => ask(
            &format!("Really destroy every resource of the protected environment {environment}? There is no undo."),
            Confirmation::Name(environment),
        )?,
        Consent::Yes => ask(
            &format!("Do you really want to destroy {environment}?"),
            Confirmation::Yes,
        )?,
    }
    let reporter = StepReporter::new(style);
    let destroyed = ops::destroy(&prepared, &args.execution.execution(), &reporter).await?;
    report::destroyed(environment, &destroyed, style);
    Ok(Status::Done)
}
