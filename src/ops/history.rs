//! `history`: the revisions an environment has deployed, newest first, and which one runs.

use anyhow::{Result, bail};

use super::Session;
use crate::aws::Revision;

pub async fn history(session: &Session) -> Result<Vec<Revision>> {
    let name = &session.file()?.config.name;
    let aws = &session.aws;
    let observed = aws.discover(name).await?;
    if let Some(revisions) = aws.revisions(&observed).await? {
        return Ok(revisions);
    }
    bail!(
        "environment {name} runs nothing yet: no ECS service or launch template is tagged deployer:environment={name} in {}\n  help: run `deployer apply {name}`",
        aws.region
    )
}
