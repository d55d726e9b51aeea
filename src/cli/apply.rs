//! `deployer apply ENV|PLAN_FILE`: converge an environment to its file, or carry out a saved
//! plan exactly.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;

use super::push::{BuildArgs, build_and_push};
use super::{ExecutionArgs, Status, ask, locked};
use crate::apply::{StepGraph, TimelineRecorder};
use crate::ops::{self, SavedPlan, Session, Situation, Workspace};
use crate::plan::Plan;
use crate::ui::{self, Confirmation, StepReporter, report};

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Environment name (environments/<ENV>.yaml), or a plan file saved by `plan --out` (a
    /// path: it has a `/` or a `.`), which is applied exactly, without asking, or refused when
    /// the environment or its file changed since.
    #[arg(value_name = "ENV|PLAN_FILE")]
    pub environment: String,
    /// Apply without asking; required when stdin is not a terminal.
    #[arg(long)]
    pub auto_approve: bool,
    /// Allow deletes and replacements in a protected environment (`protect: true`).
    #[arg(long)]
    pub allow_destroy: bool,
    /// Container image to run instead of the file's `app.image` or the last push (rolls the
    /// service).
    #[arg(long, value_name = "IMAGE", env = "DEPLOYER_IMAGE", conflicts_with = "build")]
    pub image: Option<String>,
    /// Build and push the image first (as `deployer push`), then deploy exactly that digest.
    #[arg(long)]
    pub build: bool,
    /// EC2: move the instances to the newest Amazon Linux 2023 AMI. Without it they keep the
    /// AMI they run, and the plan says when a newer one is out.
    #[arg(long)]
    pub update_ami: bool,
    #[command(flatten)]
    pub build_args: BuildArgs,
    #[command(flatten)]
    pub execution: ExecutionArgs,
    /// Emit one JSON object per event on stdout instead of progress bars.
    #[arg(long)]
    pub json: bool,
    /// Record when each step started and ended in FILE (JSON), for `deployer graph --timeline FILE`.
    #[arg(long, value_name = "FILE")]
    pub timeline: Option<PathBuf>,
}

pub async fn exec(workspace: &Workspace, args: &ApplyArgs) -> Result<Status> {
    if ops::is_plan_file(&args.environment) {
        let file = Path::new(&args.environment);
        let saved = SavedPlan::read(file, ops::plan_key()?.as_deref())?;
        saved.check_image_not_overridden(file, args.image.as_deref(), args.build)?;
        let session = Session::open(workspace, &saved.environment).await?;
        return locked(&session, "apply", apply_saved(&session, args, &saved, file)).await;
    }
    let session = Session::open(workspace, &args.environment).await?;
    locked(&session, "apply", apply_file(&session, args)).await
}

/// `apply FILE`: the reviewed plan, carried out without asking again (approving the review
/// was the question), or refused when anything it was made from changed.
async fn apply_saved(session: &Session, args: &ApplyArgs, saved: &SavedPlan, file: &Path) -> Result<Status> {
    let style = ui::progress_style(args.json);
    let (situation, plan) = ops::prepare_saved(session, saved, file).await?;
    report::plan_event(&plan, style);
    if !plan.is_empty() {
        ops::check_protection(&situation, &plan, args.allow_destroy)?;
    }
    let applied = carry_out(&situation, &plan, (&args.execution, args.timeline.as_deref()), style).await?;
    report::applied(&applied, !plan.is_empty(), style);
    Ok(Status::Done)
}

async fn apply_file(session: &Session, args: &ApplyArgs) -> Result<Status> {
    let style = ui::progress_style(args.json);
    let built = if args.build {
        Some(build_and_push(session, &args.build_args, style).await?)
    } else {
        None
    };
    // Deploy exactly the digest just pushed, not whatever is newest by the time we look.
    let image = built
        .as_ref()
        .map(|pushed| pushed.image.as_str())
        .or(args.image.as_deref());
    let situation = ops::survey(session, image, args.update_ami).await?;
    let plan = situation.plan();
    report::running_image(situation.pushed.as_ref(), style);
    report::held(&situation.config.name, situation.held.as_ref(), style);
    report::newer_image(&situation, style);
    report::plan_event(&plan, style);
    report::quota_warnings(&situation.quota_warnings(&plan));
    if !plan.is_empty() {
        ops::check_protection(&situation, &plan, args.allow_destroy)?;
        if !args.auto_approve {
            ask(
                &format!("Do you want to apply these changes to {}?", situation.config.name),
                Confirmation::Yes,
            )?;
        }
    }
    let applied = carry_out(&situation, &plan, (&args.execution, args.timeline.as_deref()), style).await?;
    report::applied(&applied, !plan.is_empty(), style);
    Ok(Status::Done)
}

/// Applies `plan`, recording its timeline when asked (also when it fails: that is when a
/// timeline explains most).
pub(super) async fn carry_out(
    situation: &Situation,
    plan: &Plan,
    (execution_args, timeline): (&ExecutionArgs, Option<&Path>),
    style: ui::Style,
) -> Result<ops::Applied> {
    let reporter = StepReporter::new(style);
    let execution = execution_args.execution();
    let Some(file) = timeline else {
        return ops::apply(situation, plan, &execution, &reporter).await;
    };
    let recorder = TimelineRecorder::new(&reporter);
    let applied = ops::apply(situation, plan, &execution, &recorder).await;
    let timeline = recorder.finish(&situation.config.name, &StepGraph::new(plan)?);
    ops::write_timeline(&timeline, file)?;
    applied
}
