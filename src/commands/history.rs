//! `history`: the revisions an environment has deployed, newest first, and which one runs.

use anyhow::{Result, bail};

use super::settings;
use crate::aws::{Aws, Revision};
use crate::cli::GlobalArgs;
use crate::config::load_environment;
use crate::model::Spec;

pub async fn history(global: &GlobalArgs, environment: &str) -> Result<Vec<Revision>> {
    let loaded = load_environment(&global.environments, environment)?;
    let name = &loaded.config.name;
    let aws = Aws::connect(&settings(global, loaded.config.region.as_deref())).await?;
    let observed = aws.discover(name).await?;
    let physical = |id: &crate::model::Ref| match id {
        crate::model::Ref::Managed(id) => observed
            .iter()
            .find(|r| &r.id == id)
            .map(|r| r.physical_id.clone())
            .unwrap_or_default(),
        crate::model::Ref::External(physical) => physical.clone(),
    };
    for resource in &observed {
        match &resource.spec {
            Spec::EcsService(service) => {
                let current = physical(&service.task_definition);
                let family = observed
                    .iter()
                    .find_map(|r| match &r.spec {
                        Spec::TaskDefinition(definition) => Some(definition.family.clone()),
                        _ => None,
                    })
                    .unwrap_or_else(|| format!("{name}-api"));
                return Ok(aws.ecs.revisions(&family, &current).await?);
            }
            Spec::LaunchTemplate(_) => return Ok(aws.ec2.template_versions(&resource.physical_id).await?),
            _ => {}
        }
    }
    bail!(
        "environment {name} runs nothing yet: no ECS service or launch template is tagged deployer:environment={name} in {}\n  help: run `deployer apply {name}`",
        aws.region
    )
}
