//! `shell`: an operator's session on one of an environment's instances, through AWS Systems
//! Manager (no SSH port, no key pairs; AWS logs every session). deployer finds the instance;
//! the AWS CLI and its Session Manager plugin carry the session.

use std::path::PathBuf;

use anyhow::{Result, bail};

use super::Session;
use crate::config::ComputeKind;

/// The command that opens the session, for `cli::shell` to hand the terminal to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub instance_id: String,
}

pub async fn shell(session: &Session, instance: Option<&str>) -> Result<ShellCommand> {
    let (config, environment) = (&session.file()?.config, session.name());
    if config.compute.kind == ComputeKind::Ecs {
        bail!(
            "{environment} runs ECS tasks, which have nothing to open a shell in: the API's image is distroless (no shell, no tools) and its root filesystem read-only, which ECS Exec cannot use\n  help: `deployer logs {environment}` and `deployer status {environment}` show what the tasks do; the API answers `/healthcheck` and, from inside the VPC, `/metrics`"
        );
    }
    let program = on_path("aws").ok_or_else(|| {
        anyhow::anyhow!(
            "the AWS CLI (`aws`) is not installed, and it carries Systems Manager sessions\n  help: install AWS CLI v2 (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html) and its Session Manager plugin, then run `deployer shell {environment}` again"
        )
    })?;
    if on_path("session-manager-plugin").is_none() {
        bail!(
            "the AWS CLI's Session Manager plugin (`session-manager-plugin`) is not installed\n  help: install it (https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html), then run `deployer shell {environment}` again"
        );
    }
    let aws = &session.aws;
    let group = crate::model::names::app(environment);
    let instances = aws.asg.instances_in_service(&group).await?;
    let instance_id = match instance {
        Some(wanted) if instances.iter().any(|i| i == wanted) => wanted.to_owned(),
        Some(wanted) => bail!(
            "{wanted} is not an instance in service in {group}\n  help: choose one of: {}",
            if instances.is_empty() {
                "(none)".to_owned()
            } else {
                instances.join(", ")
            }
        ),
        None => match instances.first() {
            Some(first) => first.clone(),
            None => bail!(
                "{group} has no instance in service to open a session on\n  help: `deployer status {environment}` shows what its instances are doing"
            ),
        },
    };
    let mut args = vec![
        "ssm".to_owned(),
        "start-session".to_owned(),
        "--target".to_owned(),
        instance_id.clone(),
        "--region".to_owned(),
        aws.region.clone(),
    ];
    let workspace = session.workspace();
    if let Some(profile) = &workspace.profile {
        args.extend(["--profile".to_owned(), profile.clone()]);
    }
    if let Some(endpoint) = &workspace.endpoint_url {
        args.extend(["--endpoint-url".to_owned(), endpoint.clone()]);
    }
    Ok(ShellCommand {
        program,
        args,
        instance_id,
    })
}

/// Where `program` is on PATH, if anywhere.
fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}
