//! Runs one parsed command line: loads configuration, talks to AWS through `aws`, prints
//! through `ui`. Returns the process exit code; errors go back to `main` to be printed once.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::apply::{StepGraph, execute};
use crate::aws::{Aws, Provider, Settings};
use crate::cli::{ApplyArgs, Cli, Command, DestroyArgs, GlobalArgs, OutputArgs, PlanArgs, ValidateArgs};
use crate::config::{EnvironmentConfig, available_environments, load_environment};
use crate::model::{Desired, ObservedResource, desired};
use crate::outputs::Outputs;
use crate::plan::{Plan, plan, render_json, render_text};
use crate::ui::{self, Confirmation, StepReporter, Style};

/// Exit status of a successful run; `2` is "plan has changes" with --detailed-exitcode.
pub type Status = u8;

pub async fn run(cli: Cli) -> Result<Status> {
    match &cli.command {
        Command::Validate(args) => validate(&cli.global, args),
        Command::Plan(args) => plan_command(&cli.global, args).await,
        Command::Apply(args) => apply(&cli.global, args).await,
        Command::Destroy(args) => destroy(&cli.global, args).await,
        Command::Output(args) => output(&cli.global, args).await,
    }
}

fn validate(global: &GlobalArgs, args: &ValidateArgs) -> Result<Status> {
    let names = if args.names.is_empty() {
        let names = available_environments(&global.environments)?;
        if names.is_empty() {
            bail!("{} holds no environment files (*.yaml)", global.environments.display());
        }
        names
    } else {
        args.names.clone()
    };
    let mut failures = Vec::new();
    for name in &names {
        match load_environment(&global.environments, name) {
            Ok(loaded) => println!("{} {}", console::style("✓").green(), loaded.path.display()),
            Err(error) => failures.push(error),
        }
    }
    if failures.is_empty() {
        return Ok(0);
    }
    let count = failures.len();
    let rendered: Vec<String> = failures.iter().map(ToString::to_string).collect();
    bail!(
        "{}\n{count} of {} environment files are invalid",
        rendered.join("\nerror: "),
        names.len()
    )
}

/// An environment's configuration, the AWS clients for its region, and what exists.
struct Situation {
    config: EnvironmentConfig,
    aws: Aws,
    region: String,
    desired: Desired,
    observed: Vec<ObservedResource>,
}

async fn survey(global: &GlobalArgs, environment: &str, image: Option<&str>) -> Result<Situation> {
    let loaded = load_environment(&global.environments, environment)?;
    let mut config = loaded.config;
    if let Some(image) = image {
        crate::config::check_image(image).map_err(|message| anyhow::anyhow!("--image: {message}"))?;
        config.app.image = image.to_owned();
    }
    let settings = settings(global, config.region.as_deref());
    let region = settings.region.clone().unwrap_or_default();
    let aws = Aws::connect(&settings).await?;
    let needs_image = config.compute.kind == crate::config::ComputeKind::Ec2 && config.compute.ami.is_none();
    let (facts, observed) = tokio::try_join!(aws.facts(needs_image), aws.discover(&config.name))
        .with_context(|| format!("could not read the current state of {environment} in {region}"))?;
    let desired = desired(&config, &facts)?;
    Ok(Situation {
        config,
        aws,
        region,
        desired,
        observed,
    })
}

/// Flag beats environment file beats AWS chain for the region.
fn settings(global: &GlobalArgs, file_region: Option<&str>) -> Settings {
    let region = global
        .region
        .clone()
        .or_else(|| file_region.map(str::to_owned))
        .or_else(|| std::env::var("AWS_REGION").ok())
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok());
    Settings {
        region,
        profile: global.profile.clone(),
        endpoint_url: global.endpoint_url.clone(),
    }
}

async fn plan_command(global: &GlobalArgs, args: &PlanArgs) -> Result<Status> {
    let situation = survey(global, &args.environment, None).await?;
    let plan = plan(&situation.desired, &situation.observed);
    if args.json {
        println!("{}", render_json(&plan));
    } else {
        print!("{}", render_text(&plan));
    }
    Ok(if args.detailed_exitcode && !plan.is_empty() {
        2
    } else {
        0
    })
}

async fn apply(global: &GlobalArgs, args: &ApplyArgs) -> Result<Status> {
    let situation = survey(global, &args.environment, args.image.as_deref()).await?;
    let plan = plan(&situation.desired, &situation.observed);
    let style = progress_style(args.json);
    show_plan(&plan, style);
    if plan.is_empty() {
        show_outputs(
            &Outputs::from_observed(&situation.config.name, &situation.region, &situation.observed),
            style,
        );
        return Ok(0);
    }
    if situation.config.protect && plan.destroys_anything() && !args.allow_destroy {
        bail!(
            "environment {} is protected (protect: true) and this plan destroys or replaces resources\n  help: review the plan above; to go ahead, re-run with --allow-destroy",
            situation.config.name
        );
    }
    if !args.auto_approve {
        ask(
            &format!("Do you want to apply these changes to {}?", situation.config.name),
            Confirmation::Yes,
        )?;
    }
    let outcome = run_plan(
        &situation.aws,
        &situation.config.name,
        &plan,
        &situation.observed,
        args.parallelism,
        style,
    )
    .await?;
    ensure_complete(&outcome, "apply", &situation.config.name)?;
    let summary = plan.summary();
    let observed = situation.aws.discover(&situation.config.name).await?;
    if style != Style::Json {
        println!(
            "\n{} Resources: {} added, {} changed, {} destroyed.\n",
            console::style("Apply complete!").green().bold(),
            summary.add,
            summary.change,
            summary.destroy
        );
    }
    show_outputs(
        &Outputs::from_observed(&situation.config.name, &situation.region, &observed),
        style,
    );
    Ok(0)
}

async fn destroy(global: &GlobalArgs, args: &DestroyArgs) -> Result<Status> {
    let (environment, config) = match &args.environment {
        Some(name) => (name.clone(), load_optional(&global.environments, name)?),
        None => {
            let region = shared_region(&global.environments);
            let aws = Aws::connect(&settings(global, region.as_deref())).await?;
            let deployed = aws.ec2.deployed_environments().await?;
            match deployed.len() {
                0 => {
                    println!("Nothing to destroy: no deployer environment is deployed in this account and region.");
                    return Ok(0);
                }
                1 => {
                    let name = deployed.into_iter().next().expect("one");
                    let config = load_optional(&global.environments, &name)?;
                    (name, config)
                }
                _ => bail!(
                    "several environments are deployed: {}\n  help: name the one to destroy, e.g. `deployer destroy {}`",
                    deployed.iter().cloned().collect::<Vec<_>>().join(", "),
                    deployed.iter().next().expect("several")
                ),
            }
        }
    };
    let settings = settings(global, config.as_ref().and_then(|c| c.region.as_deref()));
    let aws = Aws::connect(&settings).await?;
    let observed = aws
        .discover(&environment)
        .await
        .with_context(|| format!("could not list the resources of {environment}"))?;
    let empty = Desired {
        environment: environment.clone(),
        resources: Default::default(),
    };
    let plan = plan(&empty, &observed);
    let style = progress_style(args.json);
    if plan.is_empty() {
        if style != Style::Json {
            println!("Nothing to destroy: no resources are tagged deployer:environment={environment}.");
        }
        return Ok(0);
    }
    show_plan(&plan, style);
    let protected = environment == "production" || config.as_ref().is_some_and(|c| c.protect);
    match (protected, args.auto_approve, args.allow_destroy) {
        (true, true, true) | (false, true, _) => {}
        (true, true, false) => bail!(
            "{environment} is protected: --auto-approve alone does not destroy it\n  help: add --allow-destroy, or run without --auto-approve on a terminal and type the environment's name"
        ),
        (true, false, _) => ask(
            &format!("Really destroy every resource of the protected environment {environment}? There is no undo."),
            Confirmation::Name(&environment),
        )?,
        (false, false, _) => ask(
            &format!("Do you really want to destroy {environment}?"),
            Confirmation::Yes,
        )?,
    }
    let outcome = run_plan(&aws, &environment, &plan, &observed, args.parallelism, style).await?;
    ensure_complete(&outcome, "destroy", &environment)?;
    if style != Style::Json {
        println!(
            "\n{} Resources: {} destroyed.",
            console::style("Destroy complete!").green().bold(),
            plan.summary().destroy
        );
    }
    Ok(0)
}

async fn output(global: &GlobalArgs, args: &OutputArgs) -> Result<Status> {
    let loaded = load_environment(&global.environments, &args.environment)?;
    let settings = settings(global, loaded.config.region.as_deref());
    let region = settings.region.clone().unwrap_or_default();
    let aws = Aws::connect(&settings).await?;
    let observed = aws.discover(&loaded.config.name).await?;
    if observed.is_empty() {
        bail!(
            "environment {} is not deployed: nothing is tagged deployer:environment={} in {region}\n  help: run `deployer apply {}`",
            loaded.config.name,
            loaded.config.name,
            loaded.config.name
        );
    }
    let outputs = Outputs::from_observed(&loaded.config.name, &region, &observed);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outputs)?);
    } else {
        print!("{}", outputs.render_text());
    }
    Ok(0)
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

/// The environment file if it exists: destroy works from tags alone, the file only adds the
/// region and the `protect` flag.
fn load_optional(dir: &Path, name: &str) -> Result<Option<EnvironmentConfig>> {
    match load_environment(dir, name) {
        Ok(loaded) => Ok(Some(loaded.config)),
        Err(crate::config::ConfigError::UnknownEnvironment { .. } | crate::config::ConfigError::NoDirectory { .. }) => {
            Ok(None)
        }
        Err(error) => Err(error.into()),
    }
}

fn progress_style(json: bool) -> Style {
    if json {
        Style::Json
    } else if ui::stdout_is_terminal() {
        Style::Bars
    } else {
        Style::Lines
    }
}

fn show_plan(plan: &Plan, style: Style) {
    if style == Style::Json {
        println!("{}", serde_json::json!({"event": "plan", "plan": render_json(plan)}));
    } else {
        print!("{}", render_text(plan));
        let _ = std::io::stdout().flush();
    }
}

fn show_outputs(outputs: &Outputs, style: Style) {
    if style == Style::Json {
        println!("{}", serde_json::json!({"event": "outputs", "outputs": outputs}));
    } else {
        println!("Outputs:\n{}", outputs.render_text());
    }
}

fn ask(question: &str, expected: Confirmation<'_>) -> Result<()> {
    if !ui::stdin_is_terminal() {
        bail!(
            "refusing to change anything without confirmation: stdin is not a terminal\n  help: re-run with --auto-approve"
        );
    }
    if !ui::confirm(question, expected).context("could not read the confirmation")? {
        bail!("cancelled: nothing was changed");
    }
    Ok(())
}

async fn run_plan(
    aws: &Aws,
    environment: &str,
    plan: &Plan,
    observed: &[ObservedResource],
    parallelism: u16,
    style: Style,
) -> Result<crate::apply::Outcome> {
    let graph = StepGraph::new(plan)?;
    // Steps may point at resources the plan leaves alone, so start from everything observed,
    // less the duplicates the plan deletes (their logical id belongs to the one kept).
    let duplicates: std::collections::BTreeSet<&str> = plan
        .changes
        .iter()
        .filter(|c| c.duplicate)
        .filter_map(|c| c.observed.as_ref().map(|o| o.physical_id.as_str()))
        .collect();
    let mut known = std::collections::BTreeMap::new();
    for resource in observed.iter().filter(|r| !duplicates.contains(r.physical_id.as_str())) {
        known
            .entry(resource.id.clone())
            .or_insert_with(|| resource.physical_id.clone());
    }
    let provider = Provider { aws, environment };
    let reporter = StepReporter::new(style);
    Ok(execute(&graph, &provider, known, usize::from(parallelism), &reporter).await)
}

fn ensure_complete(outcome: &crate::apply::Outcome, verb: &str, environment: &str) -> Result<()> {
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
