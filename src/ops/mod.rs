//! The work of each command, as plain functions over a [`Session`] that return typed results.
//! Nothing here prints, asks or knows the command line: `cli/<command>.rs` turns arguments into
//! calls and questions, `ui` renders what comes back as text or JSON.

mod apply;
mod bootstrap;
mod cost;
mod destroy;
mod graph;
mod history;
mod lock;
mod logs;
mod output;
mod permissions;
mod protection;
mod push;
mod rollback;
mod saved_plan;
mod session;
mod shell;
mod status;
mod validate;

pub use apply::{Applied, apply};
pub use bootstrap::{CiRole, PreparedBootstrap, bootstrap, prepare_bootstrap};
pub use cost::{Costed, cost};
pub use destroy::{DestroyTarget, Destroyed, PreparedDestroy, destroy, destroy_target, prepare_destroy};
pub use graph::{Diagram, Node, environment_graph, read_timeline, timeline_graph, write_timeline};
pub use history::history;
pub use lock::{EnvironmentLock, lock_holder, unlock};
pub use logs::{LogsRequest, logs};
pub use output::outputs;
pub use permissions::permissions;
pub use protection::{Consent, check_protection, destroy_consent};
pub use push::{PushEvent, PushRequest, Pushed, push};
pub use rollback::{release, roll_back, rollback_target};
pub use saved_plan::{PLAN_KEY, SavedPlan, is_plan_file, plan_key, prepare_saved};
pub use session::{Session, Workspace};
pub use shell::{ShellCommand, shell};
pub use status::{EnvironmentStatus, status};
pub use validate::{Validated, validate};

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result, bail};

use crate::apply::{Outcome, Reporter, StepGraph, execute};
use crate::aws::{Aws, Hold, Provider, PushedImage, Timeouts};
use crate::config::{ComputeKind, EnvironmentConfig, check_image};
use crate::model::{Desired, Facts, ObservedResource, desired, repository_name};
use crate::plan::{Plan, plan};

/// An environment's configuration, the AWS clients for its region, what it should consist of
/// and what exists.
pub struct Situation {
    pub config: EnvironmentConfig,
    pub aws: Aws,
    pub desired: Desired,
    pub observed: Vec<ObservedResource>,
    /// The image pushed last to the environment's repository, when that is what it runs
    /// (no `app.image`, no `--image`).
    pub pushed: Option<PushedImage>,
    /// The rollback hold the environment runs under, when there is one and no `--image`.
    pub held: Option<Hold>,
    /// Whether the image was named for this run (`--image`, `--build`): applying it rolls
    /// forward, and ends a hold.
    pub explicit_image: bool,
    /// What the model was built from besides the file: recorded by a saved plan.
    pub facts: Facts,
    /// The region's use of the quotas an apply can exceed (`plan::quotas`).
    pub usage: Option<crate::plan::quotas::AccountUsage>,
    /// A newer Amazon Linux AMI than the one the instances run, kept back until the operator
    /// asks for it (`--update-ami`): an AMI release alone never replaces instances.
    pub newer_image: Option<String>,
    /// The environment file's digest (`sha256:<hex>`).
    pub config_digest: String,
}

impl Situation {
    /// The plan, priced (`cost`).
    pub fn plan(&self) -> Plan {
        plan(&self.desired, &self.observed).with_cost(
            &self.desired,
            &self.observed,
            &self.config.usage,
            &self.aws.region,
        )
    }

    /// The quotas `plan` would go over, said before anything is created.
    pub fn quota_warnings(&self, plan: &Plan) -> Vec<crate::plan::quotas::QuotaWarning> {
        self.usage
            .as_ref()
            .map(|usage| crate::plan::quotas::exceeded(plan, &self.desired, usage))
            .unwrap_or_default()
    }
}

/// Reads what AWS has for the session's environment, concurrently. `image` overrides
/// `app.image`; without either, the environment runs the image pushed last to its repository.
pub async fn survey(session: &Session, image: Option<&str>, update_ami: bool) -> Result<Situation> {
    let environment = session.name();
    let loaded = session.file()?;
    let config_digest = loaded.digest.clone();
    let mut config = loaded.config.clone();
    if let Some(image) = image {
        check_image(image).map_err(|message| anyhow::anyhow!("--image: {message}"))?;
        config.app.image = Some(image.to_owned());
    }
    let aws = session.aws.clone();
    let needs_image = (config.compute.kind == ComputeKind::Ec2 && config.compute.ami.is_none())
        .then_some(config.compute.architecture);
    let repository = repository_name(&config.name);
    let pushed = async {
        match config.app.image {
            Some(_) => Ok(None),
            None => aws.ecr.latest_image(&repository).await,
        }
    };
    // A rollback's hold beats the file's image and the last push; a named image beats it.
    let held = async {
        match image {
            Some(_) => Ok(None),
            None => match aws.locks.hold(&config.name).await? {
                Some(hold) => Ok(Some((hold, aws.ecr.repository_uri(&repository).await?))),
                None => Ok(None),
            },
        }
    };
    // The certificate check is the file's own error, not a failure to read AWS: kept apart.
    let (state, certificate) = tokio::join!(
        async {
            tokio::try_join!(
                aws.facts(needs_image),
                aws.discover(&config.name),
                pushed,
                held,
                aws.ec2.account_usage()
            )
            .with_context(|| format!("could not read the current state of {environment} in {}", aws.region))
        },
        check_certificate(&aws, &config, &loaded.path)
    );
    certificate?;
    let (mut facts, observed, pushed, held, usage) = state?;
    let held = held
        .map(|(hold, repository_uri)| check_hold(hold, repository_uri.as_deref(), environment))
        .transpose()?;
    let pushed = if let Some(hold) = &held {
        config.app.image = Some(hold.image.clone());
        None
    } else {
        pushed
    };
    facts.pushed_image = pushed.as_ref().map(|image| image.reference.clone());
    let newer_image = if update_ami {
        None
    } else {
        keep_running_image(&mut facts, &observed)
    };
    let desired = desired(&config, &facts)?;
    Ok(Situation {
        config,
        aws,
        desired,
        observed,
        pushed,
        held,
        explicit_image: image.is_some(),
        facts,
        usage: Some(usage),
        newer_image,
        config_digest,
    })
}

/// A hold is read from a table other principals can write: it is trusted only to name an
/// image of the environment's own repository by digest, which only a push to that repository
/// can have made. Anything else is refused, not run.
fn check_hold(hold: Hold, repository_uri: Option<&str>, environment: &str) -> Result<Hold> {
    if repository_uri.is_some_and(|uri| crate::config::is_digest_in(&hold.image, uri)) {
        return Ok(hold);
    }
    bail!(
        "the rollback hold of {environment} names `{}`, which is not an image of its own repository ({}) by digest: refusing to run it\n  help: someone other than `deployer rollback` wrote the hold (table {}, item {environment}#hold); check who could, then clear it with `deployer rollback {environment} --release`",
        crate::printable::printable_line(&hold.image),
        repository_uri.unwrap_or("not created yet"),
        crate::aws::LOCK_TABLE
    )
}

/// Keeps the AMI the launch template boots (when the file names none) instead of the newest
/// one; returns the newest one when it differs, for the plan to mention. Without this every
/// Amazon Linux release would replace the instances on an unrelated apply.
fn keep_running_image(facts: &mut Facts, observed: &[ObservedResource]) -> Option<String> {
    let running = observed.iter().find_map(|resource| match &resource.spec {
        crate::model::Spec::LaunchTemplate(template) if !template.image_id.is_empty() => Some(&template.image_id),
        _ => None,
    })?;
    let newest = facts.default_image_id.as_ref()?;
    if newest == running {
        return None;
    }
    facts.default_image_id.replace(running.clone())
}

/// The HTTPS certificate the file names must exist and be issued: a listener on a missing or
/// pending certificate would fail half-way through an apply.
async fn check_certificate(aws: &Aws, config: &EnvironmentConfig, path: &std::path::Path) -> Result<()> {
    let Some(https) = &config.load_balancer.https else {
        return Ok(());
    };
    let arn = &https.certificate_arn;
    match aws.acm.certificate_status(arn).await?.as_deref() {
        Some("ISSUED") => Ok(()),
        Some(status) => bail!(
            "{}: load_balancer.https.certificate_arn: certificate {arn} is {status}, not ISSUED\n  help: finish its validation (`aws acm describe-certificate --certificate-arn {arn}` lists the DNS records ACM waits for), or name an issued certificate",
            path.display()
        ),
        None => bail!(
            "{}: load_balancer.https.certificate_arn: this account has no certificate {arn} in {}\n  help: request one (`aws acm request-certificate --domain-name api.example.com --validation-method DNS`) or import one, in the environment's region",
            path.display(),
            aws.region
        ),
    }
}

/// How steps are carried out: how many at once, and how long each kind may wait.
#[derive(Debug, Clone)]
pub struct Execution {
    pub parallelism: usize,
    pub timeouts: Timeouts,
}

/// Runs `plan` against AWS, reporting each step's progress to `reporter`.
async fn run_plan(
    aws: &Aws,
    plan: &Plan,
    observed: &[ObservedResource],
    execution: &Execution,
    reporter: &dyn Reporter,
) -> Result<Outcome> {
    let graph = StepGraph::new(plan)?;
    // Steps may point at resources the plan leaves alone, so start from everything observed,
    // less the duplicates the plan deletes (their logical id belongs to the one kept).
    let duplicates: BTreeSet<&str> = plan
        .changes
        .iter()
        .filter(|c| c.duplicate)
        .filter_map(|c| c.observed.as_ref().map(|o| o.physical_id.as_str()))
        .collect();
    let mut known = BTreeMap::new();
    for resource in observed.iter().filter(|r| !duplicates.contains(r.physical_id.as_str())) {
        known
            .entry(resource.id.clone())
            .or_insert_with(|| resource.physical_id.clone());
    }
    let provider = Provider {
        aws,
        timeouts: &execution.timeouts,
    };
    Ok(execute(&graph, &provider, known, execution.parallelism, reporter).await)
}

fn ensure_complete(outcome: &Outcome, verb: &str, environment: &str) -> Result<()> {
    if outcome.succeeded() {
        return Ok(());
    }
    let failures: Vec<String> = outcome
        .failed
        .iter()
        .map(|(id, _, error)| format!("  {id}: {error}"))
        .collect();
    bail!(
        "{verb} of {environment} stopped: {} step(s) failed, {} completed, {} not started\n{}\n  help: everything created so far is tagged and will be found again; fix the cause and re-run `deployer {verb} {environment}`",
        outcome.failed.len(),
        outcome.completed,
        outcome.skipped,
        failures.join("\n")
    )
}
