//! Runs one parsed command line: turns arguments into calls to `commands`, shows their results
//! through `ui`, and asks for confirmation where a command changes things. Returns the exit
//! status; errors go back to `main` to be printed once.

use anyhow::{Context, Result, bail};

use crate::apply::{StepGraph, TimelineRecorder};
use crate::aws::Timeouts;
use crate::cli::{
    ApplyArgs, BuildArgs, Cli, Command, DestroyArgs, ExecutionArgs, GlobalArgs, GraphArgs, GraphFormat, LogsArgs,
    OutputArgs, PlanArgs, PushArgs, RollbackArgs, ShowArgs, StatusArgs, UnlockArgs, ValidateArgs,
};
use crate::commands::{self, DestroyTarget, PushRequest, Pushed, SavedPlan};
use crate::ui::{self, Confirmation, PushProgress, StepReporter, report};

/// How a command that did not fail ended; `main` makes it the exit status (an error is 1).
/// The codes are documented in `deployer --help` (`cli::EXIT_CODES`) and the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 0: done.
    Done,
    /// 2: `plan --detailed-exitcode` found changes to make.
    Changes,
    /// 3: `status` found the environment unhealthy, or an alarm firing.
    Unhealthy,
    /// `shell`: the session's own exit status.
    Session(u8),
}

impl Status {
    pub fn code(self) -> u8 {
        match self {
            Self::Done => 0,
            Self::Changes => 2,
            Self::Unhealthy => 3,
            Self::Session(code) => code,
        }
    }
}

pub async fn run(cli: Cli) -> Result<Status> {
    match &cli.command {
        Command::Validate(args) => validate(&cli.global, args),
        Command::Plan(args) => plan(&cli.global, args).await,
        Command::Apply(args) => apply(&cli.global, args).await,
        Command::Show(args) => show(&cli.global, args).await,
        Command::Graph(args) => graph(&cli.global, args),
        Command::Shell(args) => {
            let session = commands::shell(&cli.global, &args.environment, args.instance.as_deref()).await?;
            report::session(&session);
            // The terminal is the session's until it ends; its exit status is ours.
            let status = std::process::Command::new(&session.program)
                .args(&session.args)
                .status()
                .with_context(|| format!("could not run {}", session.program.display()))?;
            Ok(Status::Session(
                status.code().map_or(1, |code| code.clamp(0, 255) as u8),
            ))
        }
        Command::Schema => {
            report::text(&crate::config::environment_schema());
            Ok(Status::Done)
        }
        Command::Completions(args) => {
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut command, "deployer", &mut script);
            report::text(&String::from_utf8_lossy(&script));
            Ok(Status::Done)
        }
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(&mut page)?;
            report::text(&String::from_utf8_lossy(&page));
            Ok(Status::Done)
        }
        Command::Destroy(args) => destroy(&cli.global, args).await,
        Command::Push(args) => push(&cli.global, args).await,
        Command::Unlock(args) => unlock(&cli.global, args).await,
        Command::Output(args) => output(&cli.global, args).await,
        Command::Logs(args) => logs(&cli.global, args).await,
        Command::Status(args) => status(&cli.global, args).await,
        Command::Rollback(args) => rollback(&cli.global, args).await,
        Command::History(args) => {
            let revisions = commands::history(&cli.global, &args.environment).await?;
            report::history(&revisions, args.json)?;
            Ok(Status::Done)
        }
    }
}

fn validate(global: &GlobalArgs, args: &ValidateArgs) -> Result<Status> {
    let validated = commands::validate(&global.environments, &args.names)?;
    report::validated(&validated);
    if validated.invalid.is_empty() {
        return Ok(Status::Done);
    }
    bail!(
        "{}\n{} of {} environment files are invalid",
        validated.invalid.join("\nerror: "),
        validated.invalid.len(),
        validated.invalid.len() + validated.valid.len()
    )
}

async fn plan(global: &GlobalArgs, args: &PlanArgs) -> Result<Status> {
    // A bad signing key fails before AWS is read.
    let key = match &args.out {
        Some(_) => commands::plan_key()?,
        None => None,
    };
    let situation = commands::survey(global, &args.environment, args.image.as_deref(), args.update_ami).await?;
    let plan = situation.plan();
    if !args.json {
        report::running_image(situation.pushed.as_ref(), ui::Style::Lines);
        report::held(&situation.config.name, situation.held.as_ref(), ui::Style::Lines);
        report::newer_image(&situation, ui::Style::Lines);
    }
    report::quota_warnings(&situation.quota_warnings(&plan));
    report::plan(&plan, args.json);
    if let Some(file) = &args.out {
        SavedPlan::new(&situation, &plan).write(file, key.as_deref())?;
        if !args.json {
            report::plan_saved(&situation.config.name, file);
        }
    }
    Ok(if args.detailed_exitcode && !plan.is_empty() {
        Status::Changes
    } else {
        Status::Done
    })
}

/// Runs `work` holding `environment`'s lock, and gives the lock back however it ends.
async fn locked(
    global: &GlobalArgs,
    environment: &str,
    command: &str,
    work: impl Future<Output = Result<Status>>,
) -> Result<Status> {
    let lock = commands::lock(global, environment, &format!("{command} {environment}")).await?;
    let result = work.await;
    let released = lock.release().await;
    let status = result?;
    released?;
    Ok(status)
}

async fn apply(global: &GlobalArgs, args: &ApplyArgs) -> Result<Status> {
    if commands::is_plan_file(&args.environment) {
        let file = std::path::Path::new(&args.environment);
        let saved = SavedPlan::read(file, commands::plan_key()?.as_deref())?;
        // The plan fixed its image; the same one named again (DEPLOYER_IMAGE set for the whole
        // pipeline) is no conflict, another one is.
        let other_image = args
            .image
            .as_ref()
            .is_some_and(|image| saved.image.as_ref() != Some(image));
        if args.build || other_image {
            bail!(
                "{} deploys {}; a saved plan is applied with the image it was made with, so --build and another --image (or DEPLOYER_IMAGE) do not go with it\n  help: make a new plan with `deployer plan {} --image ... --out FILE`",
                file.display(),
                crate::printable::printable_line(
                    saved
                        .image
                        .as_deref()
                        .or(saved.facts.pushed_image.as_deref())
                        .unwrap_or("the file's image")
                ),
                crate::printable::printable_line(&saved.environment)
            );
        }
        return locked(
            global,
            &saved.environment,
            "apply",
            apply_saved(global, args, &saved, file),
        )
        .await;
    }
    locked(global, &args.environment, "apply", apply_locked(global, args)).await
}

/// `apply FILE`: the reviewed plan, carried out without asking again (approving the review
/// was the question), or refused when anything it was made from changed.
async fn apply_saved(
    global: &GlobalArgs,
    args: &ApplyArgs,
    saved: &SavedPlan,
    file: &std::path::Path,
) -> Result<Status> {
    let style = ui::progress_style(args.json);
    let (situation, plan) = commands::prepare_saved(global, saved, file).await?;
    report::plan_event(&plan, style);
    if !plan.is_empty() {
        commands::check_protection(&situation, &plan, args.allow_destroy)?;
    }
    let applied = carry_out(&situation, &plan, (&args.execution, args.timeline.as_deref()), style).await?;
    report::applied(&applied, !plan.is_empty(), style);
    Ok(Status::Done)
}

/// Applies `plan`, recording its timeline when asked (also when it fails: that is when a
/// timeline explains most).
async fn carry_out(
    situation: &commands::Situation,
    plan: &crate::plan::Plan,
    (execution_args, timeline): (&ExecutionArgs, Option<&std::path::Path>),
    style: ui::Style,
) -> Result<commands::Applied> {
    let reporter = StepReporter::new(style);
    let execution = execution(execution_args);
    let Some(file) = timeline else {
        return commands::apply(situation, plan, &execution, &reporter).await;
    };
    let recorder = TimelineRecorder::new(&reporter);
    let applied = commands::apply(situation, plan, &execution, &recorder).await;
    let timeline = recorder.finish(&situation.config.name, &StepGraph::new(plan)?);
    commands::write_timeline(&timeline, file)?;
    applied
}

fn graph(global: &GlobalArgs, args: &GraphArgs) -> Result<Status> {
    let (diagram, timeline) = match (&args.timeline, &args.environment) {
        (Some(file), _) => {
            let timeline = commands::read_timeline(file)?;
            (commands::timeline_graph(&timeline), Some(timeline))
        }
        (None, Some(environment)) => (commands::environment_graph(global, environment)?, None),
        (None, None) => bail!("name an environment, or a timeline with --timeline FILE"),
    };
    let drawing = match (args.format, &timeline) {
        (GraphFormat::Dot, _) => ui::graph::dot(&diagram),
        (GraphFormat::Mermaid, _) => ui::graph::mermaid(&diagram),
        (GraphFormat::Text, Some(timeline)) => ui::graph::timeline_text(timeline),
        (GraphFormat::Text, None) => bail!(
            "--format text draws a timeline\n  help: record one with `deployer apply ENV --timeline FILE`, then `deployer graph --timeline FILE --format text`; for the graph itself use --format dot or mermaid"
        ),
    };
    report::text(&drawing);
    Ok(Status::Done)
}

/// `show FILE` prints the plan recomputed from what the file records, after the checks
/// `apply FILE` makes: never the file's own text, which anyone who can write it could change.
async fn show(global: &GlobalArgs, args: &ShowArgs) -> Result<Status> {
    let saved = SavedPlan::read(&args.file, commands::plan_key()?.as_deref())?;
    let (_, plan) = commands::prepare_saved(global, &saved, &args.file).await?;
    report::saved_plan(&saved, &plan, args.json);
    Ok(Status::Done)
}

async fn apply_locked(global: &GlobalArgs, args: &ApplyArgs) -> Result<Status> {
    let style = ui::progress_style(args.json);
    let built = if args.build {
        Some(build_and_push(global, &args.environment, &args.build_args, style).await?)
    } else {
        None
    };
    // Deploy exactly the digest just pushed, not whatever is newest by the time we look.
    let image = built
        .as_ref()
        .map(|pushed| pushed.image.as_str())
        .or(args.image.as_deref());
    let situation = commands::survey(global, &args.environment, image, args.update_ami).await?;
    let plan = situation.plan();
    report::running_image(situation.pushed.as_ref(), style);
    report::held(&situation.config.name, situation.held.as_ref(), style);
    report::newer_image(&situation, style);
    report::plan_event(&plan, style);
    report::quota_warnings(&situation.quota_warnings(&plan));
    if !plan.is_empty() {
        commands::check_protection(&situation, &plan, args.allow_destroy)?;
        if !args.auto_approve {
            ask(
                &format!("Do you want to apply these changes to {}?", situation.config.name),
                Confirmation::Yes,
            )?;
        }
    }
    let applied = carry_out(&situation, &plan, (&args.execution, args.timeline.as_deref()), style).await?;
    report::applied(&applied, !plan.is_empty(), style);
    Ok(Status::Done)
}

async fn destroy(global: &GlobalArgs, args: &DestroyArgs) -> Result<Status> {
    let environment = match commands::destroy_target(global, args.environment.as_deref()).await? {
        DestroyTarget::One(name) => name,
        DestroyTarget::Nothing => {
            report::nothing_deployed();
            return Ok(Status::Done);
        }
        DestroyTarget::Several(names) => bail!(
            "several environments are deployed: {}\n  help: name the one to destroy, e.g. `deployer destroy {}`",
            names.join(", "),
            names[0]
        ),
    };
    locked(
        global,
        &environment,
        "destroy",
        destroy_locked(global, args, &environment),
    )
    .await
}

async fn destroy_locked(global: &GlobalArgs, args: &DestroyArgs, environment: &str) -> Result<Status> {
    let environment = environment.to_owned();
    let prepared = commands::prepare_destroy(global, &environment).await?;
    let style = ui::progress_style(args.json);
    if prepared.plan.is_empty() {
        report::nothing_to_destroy(&environment, style);
        return Ok(Status::Done);
    }
    report::plan_event(&prepared.plan, style);
    match (prepared.protected, args.auto_approve, args.allow_destroy) {
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
    let reporter = StepReporter::new(style);
    let destroyed = commands::destroy(&prepared, &execution(&args.execution), &reporter).await?;
    report::destroyed(&destroyed, style);
    Ok(Status::Done)
}

async fn push(global: &GlobalArgs, args: &PushArgs) -> Result<Status> {
    build_and_push(global, &args.environment, &args.build, ui::progress_style(false)).await?;
    Ok(Status::Done)
}

async fn build_and_push(global: &GlobalArgs, environment: &str, args: &BuildArgs, style: ui::Style) -> Result<Pushed> {
    let request = PushRequest {
        environment,
        dockerfile: &args.dockerfile,
        context: &args.context,
        tag: args.tag.as_deref(),
        engine: args.engine,
        registry_url: args.registry_url.as_deref(),
    };
    let steps = StepReporter::new(style);
    let progress = PushProgress::new(style);
    let result = commands::push(global, &request, &steps, &|event| progress.event(event)).await;
    progress.finish();
    let pushed = result?;
    ui::pushed(&pushed, style);
    Ok(pushed)
}

async fn unlock(global: &GlobalArgs, args: &UnlockArgs) -> Result<Status> {
    let environment = &args.environment;
    let Some(holder) = commands::lock_holder(global, environment).await? else {
        report::not_locked(environment);
        return Ok(Status::Done);
    };
    report::lock_holder(environment, &holder);
    if !args.auto_approve {
        ask(
            "Break this lock? Only do so when that run is no longer running.",
            Confirmation::Yes,
        )?;
    }
    if commands::unlock(global, environment, &holder).await? {
        report::unlocked(environment);
    } else {
        bail!("the lock on {environment} changed while you were asked (released, or taken by another run); nothing was broken
  help: run `deployer unlock {environment}` again to see the current holder");
    }
    Ok(Status::Done)
}

async fn output(global: &GlobalArgs, args: &OutputArgs) -> Result<Status> {
    let outputs = commands::outputs(global, &args.environment).await?;
    report::outputs(&outputs, args.json)?;
    Ok(Status::Done)
}

async fn rollback(global: &GlobalArgs, args: &RollbackArgs) -> Result<Status> {
    let environment = &args.environment;
    if args.release {
        match commands::release(global, environment).await? {
            Some(hold) => report::released(environment, &hold),
            None => report::released_nothing(environment),
        }
        return Ok(Status::Done);
    }
    locked(global, environment, "rollback", rollback_locked(global, args)).await
}

/// Holds the environment at the target revision first, then applies: a rollback that stops
/// half-way leaves the hold, so `deployer apply` finishes it instead of rolling forward.
async fn rollback_locked(global: &GlobalArgs, args: &RollbackArgs) -> Result<Status> {
    let style = ui::progress_style(args.json);
    let environment = &args.environment;
    let revisions = commands::history(global, environment).await?;
    let target = commands::rollback_target(&revisions, args.to.as_deref())?;
    if !args.auto_approve {
        ask(
            &format!(
                "Roll {environment} back to revision {} ({})?",
                crate::printable::printable_line(&target.revision),
                crate::printable::printable_line(&target.image)
            ),
            Confirmation::Yes,
        )?;
    }
    commands::hold(global, environment, target).await?;
    let situation = commands::survey(global, environment, None, false).await?;
    let plan = situation.plan();
    report::held(environment, situation.held.as_ref(), style);
    report::plan_event(&plan, style);
    commands::check_protection(&situation, &plan, false)?;
    let applied = carry_out(&situation, &plan, (&args.execution, None), style).await?;
    report::applied(&applied, !plan.is_empty(), style);
    Ok(Status::Done)
}

async fn status(global: &GlobalArgs, args: &StatusArgs) -> Result<Status> {
    let status = commands::status(global, &args.environment).await?;
    report::status(&status, args.json)?;
    Ok(if status.healthy() {
        Status::Done
    } else {
        Status::Unhealthy
    })
}

async fn logs(global: &GlobalArgs, args: &LogsArgs) -> Result<Status> {
    let request = commands::LogsRequest {
        environment: &args.environment,
        since: args.since,
        filter: args.filter.as_deref(),
        follow: args.follow,
    };
    commands::logs(global, &request, |line| report::log_line(line, args.json)).await?;
    Ok(Status::Done)
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

fn execution(args: &ExecutionArgs) -> commands::Execution {
    commands::Execution {
        parallelism: usize::from(args.parallelism),
        timeouts: Timeouts::new(args.timeouts.iter().copied()),
    }
}
