//! `history`: the revisions an environment has deployed, newest first, and which one runs.

use anyhow::{Result, bail};

use super::settings;
use crate::aws::{Aws, Revision};
use crate::cli::GlobalArgs;
use crate::config::load_environment;

pub async fn history(global: &GlobalArgs, environment: &str) -> Result<Vec<Revision>> {
    let loaded = load_environment(&global.environments, environment)?;
    let name = &loaded.config.name;
    let aws = Aws::connect(&settings(global, loaded.config.region.as_deref())).await?;
    let observed = aws.discover(name).await?;
    if let Some(revisions) = aws.revisions(&observed).await? {
        return Ok(revisions);
    }
    bail!(
        "environment {name} runs nothing yet: no ECS service or launch template is tagged deployer:environment={name} in {}\n  help: run `deployer apply {name}`",
        aws.region
    )
}
