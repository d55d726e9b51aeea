//! `destroy`: delete every resource tagged for an environment, dependants first.

use std::path::Path;

use anyhow::{Context, Result};

use super::{Execution, Session, Workspace, ensure_complete, run_plan};
use crate::apply::Reporter;
use crate::aws::Aws;
use crate::config::{available_environments, load_environment};
use crate::model::{Desired, ObservedResource, TAG_PROTECT};
use crate::plan::{Plan, plan};

/// Which environment `destroy` without a name means.
pub enum DestroyTarget {
    /// Nothing deployer made is in this account and region.
    Nothing,
    One(String),
    /// Several are deployed: the user must name one.
    Several(Vec<String>),
}

/// With a name, that environment; without, the only deployed one, if there is exactly one.
pub async fn destroy_target(workspace: &Workspace, environment: Option<&str>) -> Result<DestroyTarget> {
    if let Some(name) = environment {
        return Ok(DestroyTarget::One(name.to_owned()));
    }
    let region = shared_region(&workspace.environments);
    let aws = Aws::connect(&workspace.settings(region.as_deref())).await?;
    let deployed: Vec<String> = aws.ec2.deployed_environments().await?.into_iter().collect();
    Ok(match deployed.len() {
        0 => DestroyTarget::Nothing,
        1 => DestroyTarget::One(deployed.into_iter().next().expect("one")),
        _ => DestroyTarget::Several(deployed),
    })
}

/// The destroy plan of one environment, and whether it is protected.
pub struct PreparedDestroy {
    pub environment: String,
    pub plan: Plan,
    /// From the file's `protect:`, or, without a file, from the resources' own tags.
    pub protected: bool,
    aws: Aws,
    observed: Vec<ObservedResource>,
}

/// `session` may be without a file ([`Session::open_deployed`]).
pub async fn prepare_destroy(session: &Session) -> Result<PreparedDestroy> {
    let (environment, config, aws) = (session.name(), session.config(), session.aws.clone());
    let observed = aws
        .discover(environment)
        .await
        .with_context(|| format!("could not list the resources of {environment}"))?;
    let empty = Desired {
        environment: environment.to_owned(),
        resources: Default::default(),
    };
    let protected = match config {
        Some(config) => config.protect,
        None => observed
            .iter()
            .any(|r| r.tags.get(TAG_PROTECT).is_some_and(|v| v == "true")),
    };
    let usage = config.map(|c| c.usage.clone()).unwrap_or_default();
    Ok(PreparedDestroy {
        environment: environment.to_owned(),
        plan: plan(&empty, &observed).with_cost(&empty, &observed, &usage, &aws.region),
        protected,
        aws,
        observed,
    })
}

/// How many resources a destroy deleted.
pub struct Destroyed {
    pub count: usize,
}

pub async fn destroy(prepared: &PreparedDestroy, execution: &Execution, reporter: &dyn Reporter) -> Result<Destroyed> {
    let environment = &prepared.environment;
    let outcome = run_plan(&prepared.aws, &prepared.plan, &prepared.observed, execution, reporter).await?;
    ensure_complete(&outcome, "destroy", environment)?;
    Ok(Destroyed {
        count: prepared.plan.summary().destroy,
    })
}

/// The region every environment file names, when they agree: where `destroy` without an
/// environment looks when neither --region nor the AWS chain says.
fn shared_region(dir: &Path) -> Option<String> {
    let names = available_environments(dir).ok()?;
    let regions: std::collections::BTreeSet<String> = names
        .iter()
        .filter_map(|name| load_environment(dir, name).ok()?.config.region)
        .collect();
    if regions.len() == 1 {
        regions.into_iter().next()
    } else {
        None
    }
}
