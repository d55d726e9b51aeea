//! `deployer validate [ENV…]`: check environment files without calling AWS.

use anyhow::{Result, bail};
use clap::Args;

use super::Status;
use crate::ops::{self, Workspace};
use crate::ui::report;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Environments to check; all files in the environments directory when none are named.
    #[arg(value_name = "ENV")]
    pub names: Vec<String>,
}

pub fn exec(workspace: &Workspace, args: &ValidateArgs) -> Result<Status> {
    let validated = ops::validate(&workspace.environments, &args.names)?;
    report::validated(&validated);
    if validated.invalid.is_empty() {
        return Ok(Status::Done);
    }
    bail!(
        "{}\n{} of {} environment files are invalid",
        validated.invalid.join("\nerror: "),
        validated.invalid.len(),
        validated.invalid.len() + validated.valid.len()
    )
}
