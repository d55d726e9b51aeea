//! `deployer plan ENV`: what apply would change, without touching anything.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::Status;
use crate::ops::{self, SavedPlan, Session, Workspace};
use crate::ui::{self, report};

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Environment name: environments/<ENV>.yaml.
    pub environment: String,
    /// Print the plan as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan for this container image instead of the file's `app.image` or the last push.
    #[arg(long, value_name = "IMAGE", env = "DEPLOYER_IMAGE")]
    pub image: Option<String>,
    /// Also save the plan to FILE, for `deployer apply FILE` to carry out exactly (and `show`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// EC2: move the instances to the newest Amazon Linux 2023 AMI. Without it they keep the
    /// AMI they run, and the plan says when a newer one is out.
    #[arg(long)]
    pub update_ami: bool,
}

pub async fn exec(workspace: &Workspace, args: &PlanArgs) -> Result<Status> {
    // A bad signing key fails before AWS is read.
    let key = match &args.out {
        Some(_) => ops::plan_key()?,
        None => None,
    };
    let session = Session::open(workspace, &args.environment).await?;
    let situation = ops::survey(&session, args.image.as_deref(), args.update_ami).await?;
    let plan = situation.plan();
    if !args.json {
        report::running_image(situation.pushed.as_ref(), ui::Style::Lines);
        report::held(&situation.config.name, situation.held.as_ref(), ui::Style::Lines);
        report::newer_image(&situation, ui::Style::Lines);
    }
    report::quota_warnings(&situation.quota_warnings(&plan));
    report::plan(&plan, args.json);
    if let Some(file) = &args.out {
        SavedPlan::new(&situation, &plan).write(file, key.as_deref())?;
        if !args.json {
            report::plan_saved(&situation.config.name, file);
        }
    }
    Ok(if args.detailed_exitcode && !plan.is_empty() {
        Status::Changes
    } else {
        Status::Done
    })
}
