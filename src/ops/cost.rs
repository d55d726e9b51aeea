//! `deployer cost`: the environment's monthly estimate as its file describes it, offline (the
//! model is built with stand-in facts: the cost depends on counts and sizes, never on ids).

use anyhow::{Result, bail};

use super::Workspace;
use crate::config::load_environment;
use crate::cost::Estimate;
use crate::model::{desired, stand_in_facts};

pub struct Costed {
    pub environment: String,
    pub estimate: Estimate,
}

/// --region, else the file's `region:`, else AWS_REGION (no AWS call is made).
fn region(workspace: &Workspace, file_region: Option<&str>) -> Option<String> {
    workspace
        .region
        .clone()
        .or_else(|| file_region.map(str::to_owned))
        .or_else(|| std::env::var("AWS_REGION").ok())
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
        .filter(|r| !r.is_empty())
}

pub fn cost(workspace: &Workspace, environment: &str) -> Result<Costed> {
    let loaded = load_environment(&workspace.environments, environment)?;
    let Some(region) = region(workspace, loaded.config.region.as_deref()) else {
        bail!(
            "{}: no region to price: the file sets no `region:`\n  help: set it, or pass --region",
            loaded.path.display()
        );
    };
    let mut config = loaded.config.clone();
    config.region = Some(region.clone());
    let desired = desired(&config, &stand_in_facts(&config))?;
    let resources: Vec<_> = desired.resources.iter().map(|(id, r)| (id, &r.spec)).collect();
    let estimate = crate::cost::estimate(&resources, &config.usage, &region)?;
    Ok(Costed {
        environment: environment.to_owned(),
        estimate,
    })
}
