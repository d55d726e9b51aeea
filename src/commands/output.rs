//! `output`: an environment's outputs, read from what is deployed.

use anyhow::{Result, bail};

use super::settings;
use crate::aws::Aws;
use crate::cli::GlobalArgs;
use crate::config::load_environment;
use crate::model::Outputs;

pub async fn outputs(global: &GlobalArgs, environment: &str) -> Result<Outputs> {
    let loaded = load_environment(&global.environments, environment)?;
    let name = &loaded.config.name;
    let aws = Aws::connect(&settings(global, loaded.config.region.as_deref())).await?;
    let observed = aws.discover(name).await?;
    if observed.is_empty() {
        bail!(
            "environment {name} is not deployed: nothing is tagged deployer:environment={name} in {}\n  help: run `deployer apply {name}`",
            aws.region
        );
    }
    Ok(aws.outputs(name, &observed))
}
