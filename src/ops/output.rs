//! `output`: an environment's outputs, read from what is deployed.

use anyhow::{Result, bail};

use super::Session;
use crate::model::Outputs;

pub async fn outputs(session: &Session) -> Result<Outputs> {
    let name = &session.file()?.config.name;
    let aws = &session.aws;
    let observed = aws.discover(name).await?;
    if observed.is_empty() {
        bail!(
            "environment {name} is not deployed: nothing is tagged deployer:environment={name} in {}\n  help: run `deployer apply {name}`",
            aws.region
        );
    }
    Ok(aws.outputs(name, &observed))
}
