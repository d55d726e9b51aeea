//! `apply`: converge an environment to its file.

use anyhow::Result;

use super::{Execution, Situation, ensure_complete, run_plan};
use crate::apply::Reporter;
use crate::model::Outputs;
use crate::plan::{Plan, Summary};

/// What an apply did, and the environment's outputs after it.
pub struct Applied {
    pub summary: Summary,
    pub outputs: Outputs,
}

/// Carries out `plan` (made from `situation`), then reads the environment again for its
/// outputs. An empty plan changes nothing and reports the outputs as they are.
pub async fn apply(
    situation: &Situation,
    plan: &Plan,
    execution: &Execution,
    reporter: &dyn Reporter,
) -> Result<Applied> {
    let name = &situation.config.name;
    if plan.is_empty() {
        release_if_rolled_forward(situation).await?;
        return Ok(Applied {
            summary: plan.summary(),
            outputs: situation.aws.outputs(name, &situation.observed),
        });
    }
    let outcome = run_plan(&situation.aws, plan, &situation.observed, execution, reporter).await?;
    ensure_complete(&outcome, "apply", name)?;
    release_if_rolled_forward(situation).await?;
    let observed = situation.aws.discover(name).await?;
    Ok(Applied {
        summary: plan.summary(),
        outputs: situation.aws.outputs(name, &observed),
    })
}

/// An apply of a named image (`--image`, `--build`) rolls forward: it ends a rollback's hold.
async fn release_if_rolled_forward(situation: &Situation) -> Result<()> {
    if situation.explicit_image {
        situation.aws.locks.release_hold(&situation.config.name).await?;
    }
    Ok(())
}
