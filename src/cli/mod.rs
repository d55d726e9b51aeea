//! The command line, in cargo's shape: this file holds the global flags, the table of
//! commands and what they share (questions, the lock, exit statuses); each command is one
//! file beside it with its clap arguments and an `exec` that opens a session, calls `ops` for
//! the work, asks what must be asked and hands the results to `ui`. Each doc comment is the
//! help text users see.

pub mod apply;
pub mod bootstrap;
pub mod cost;
pub mod destroy;
pub mod documents;
pub mod graph;
pub mod history;
pub mod logs;
pub mod output;
pub mod permissions;
pub mod plan;
pub mod push;
pub mod rollback;
pub mod shell;
pub mod show;
pub mod status;
pub mod unlock;
pub mod validate;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

use crate::aws::Timeouts;
use crate::model::Kind;
use crate::ops::{Execution, Session, Workspace};
use crate::ui::events::{self, RunEvent};
use crate::ui::{self, Confirmation};

/// What the exit status says, for scripts and pipelines.
pub const EXIT_CODES: &str = "Exit status:
  0  done (for `plan`: the plan was made, with or without changes)
  1  error: the command failed, or could not read or change AWS (the message says why)
  2  `plan --detailed-exitcode`: the plan has changes
  3  `status`: the environment is not healthy, or an alarm is firing
  `shell` exits with the session's own status";

/// Provision and tear down AWS environments described in YAML.
///
/// Reads environments/<ENV>.yaml, discovers what exists in AWS by tag, and converges the two.
/// Credentials, region and endpoint come from the standard AWS chain (AWS_PROFILE, AWS_REGION,
/// AWS_ENDPOINT_URL, ~/.aws) unless the flags below say otherwise.

#[derive(Debug, Parser)]
#[command(name = "deployer", version, propagate_version = true, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// AWS region; overrides the environment file's `region:` and AWS_REGION.
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// Named profile from ~/.aws/config (default: AWS_PROFILE, then `default`).
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// AWS endpoint URL, e.g. http://127.0.0.1:5000 for the local emulator (default: AWS_ENDPOINT_URL).
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Directory holding the <ENV>.yaml files.
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        default_value = "environments",
        env = "DEPLOYER_ENVIRONMENTS"
    )]
    pub environments: PathBuf,
    /// Never use colours (NO_COLOR in the environment does the same).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// More logging on stderr: -v for deployer's steps, -vv adds AWS SDK requests.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what apply would change, without touching anything.
    Plan(plan::PlanArgs),
    /// Converge an environment to its YAML file, or carry out a plan saved by `plan --out`.
    Apply(apply::ApplyArgs),
    /// Print a plan saved by `plan --out`, as `plan` showed it (or its JSON).
    Show(show::ShowArgs),
    /// Delete every resource of an environment, dependants first.
    Destroy(destroy::DestroyArgs),
    /// Break an environment's lock left by a deployer that was killed (asks first).
    Unlock(unlock::UnlockArgs),
    /// Build the bundled API's image and push it to the environment's repository, by digest.
    Push(push::PushArgs),
    /// Print an environment's outputs (VPC, subnets, load balancer DNS name, API URL).
    Output(output::OutputArgs),
    /// Show the API's logs (CloudWatch Logs), oldest first, each line with its task or instance.
    Logs(logs::LogsArgs),
    /// How the environment runs now: tasks or instances, targets, database, alarms. Exit 3
    /// when something is not healthy.
    Status(status::StatusArgs),
    /// The revisions deployed (task definition revisions, or launch template versions), newest
    /// first, with their images and which one runs.
    History(status::StatusArgs),
    /// Run an earlier revision's image again (the one before what runs, or --to), and hold
    /// the environment there until --release, `apply --image` or `apply --build`.
    Rollback(rollback::RollbackArgs),
    /// Open a Systems Manager session on one of an EC2 environment's instances (through the
    /// AWS CLI and its Session Manager plugin; no SSH port is open anywhere).
    Shell(shell::ShellArgs),
    /// What the environment costs a month as its file describes it, per resource and
    /// dimension, from the prices in prices/aws.yaml (offline).
    Cost(cost::CostArgs),
    /// Print the IAM policies an operator of the environment needs (`--for deploy`, `plan` or
    /// `push`), scoped to its own resources, each under IAM's size limit.
    Permissions(permissions::PermissionsArgs),
    /// Make GitHub Actions' identity provider and each environment's deploy and plan roles,
    /// holding the policies `permissions` prints (`--destroy` removes them).
    Bootstrap(bootstrap::BootstrapArgs),
    /// Check environment files without calling AWS (all of them when none is named).
    Validate(validate::ValidateArgs),
    /// Print the dependency graph of an environment (what waits for what, the critical path
    /// marked), or of an apply recorded with `apply --timeline FILE`.
    Graph(graph::GraphArgs),
    /// Print the JSON Schema of environment files (what environments/schema.json holds).
    Schema,
    /// Print a shell completion script: `deployer completions bash > /etc/bash_completion.d/deployer`.
    Completions(documents::CompletionsArgs),
    /// Print the man page (roff): `deployer man > /usr/local/share/man/man1/deployer.1`.
    Man,
}

/// Runs one parsed command line; returns how it ended, for `main` to make the exit status
/// (errors go back to `main` to be printed once). A command that streams `--json` events has
/// its stream opened and closed here, whatever happens in between.
pub async fn run(cli: Cli) -> Result<Status> {
    let stream = cli.command.event_stream();
    if let Some(command) = stream {
        events::emit(&RunEvent::Version {
            format_version: events::EVENTS_FORMAT_VERSION,
            deployer: env!("CARGO_PKG_VERSION"),
            command,
        });
    }
    let result = dispatch(&cli).await;
    if stream.is_some() {
        let finished = match &result {
            Ok(status) => RunEvent::RunFinished {
                success: true,
                exit_code: status.code(),
                error: None,
            },
            Err(error) => RunEvent::RunFinished {
                success: false,
                exit_code: 1,
                error: Some(crate::printable::printable(&format!("{error:#}")).into_owned()),
            },
        };
        events::emit(&finished);
    }
    result
}

impl Command {
    /// The command's name when it streams `--json` events (`ui::events`).
    fn event_stream(&self) -> Option<&'static str> {
        match self {
            Self::Apply(args) if args.json => Some("apply"),
            Self::Destroy(args) if args.json => Some("destroy"),
            Self::Rollback(args) if args.json && !args.release => Some("rollback"),
            _ => None,
        }
    }
}

async fn dispatch(cli: &Cli) -> Result<Status> {
    let workspace = &cli.global.workspace();
    match &cli.command {
        Command::Plan(args) => plan::exec(workspace, args).await,
        Command::Apply(args) => apply::exec(workspace, args).await,
        Command::Show(args) => show::exec(workspace, args).await,
        Command::Destroy(args) => destroy::exec(workspace, args).await,
        Command::Unlock(args) => unlock::exec(workspace, args).await,
        Command::Push(args) => push::exec(workspace, args).await,
        Command::Output(args) => output::exec(workspace, args).await,
        Command::Logs(args) => logs::exec(workspace, args).await,
        Command::Status(args) => status::exec(workspace, args).await,
        Command::History(args) => history::exec(workspace, args).await,
        Command::Rollback(args) => rollback::exec(workspace, args).await,
        Command::Shell(args) => shell::exec(workspace, args).await,
        Command::Cost(args) => cost::exec(workspace, args),
        Command::Permissions(args) => permissions::exec(workspace, args).await,
        Command::Bootstrap(args) => bootstrap::exec(workspace, args).await,
        Command::Validate(args) => validate::exec(workspace, args),
        Command::Graph(args) => graph::exec(workspace, args),
        Command::Schema => documents::schema(),
        Command::Completions(args) => documents::completions(args),
        Command::Man => documents::man(),
    }
}

/// How a command that did not fail ended; `main` makes it the exit status (an error is 1).
/// The codes are documented in `deployer --help` ([`EXIT_CODES`]) and the README.
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

impl GlobalArgs {
    /// What `ops` takes from the global flags.
    pub fn workspace(&self) -> Workspace {
        Workspace {
            environments: self.environments.clone(),
            region: self.region.clone(),
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
        }
    }
}

/// Runs `work` holding the session's environment lock, and gives the lock back however it
/// ends.
async fn locked(session: &Session, command: &str, work: impl Future<Output = Result<Status>>) -> Result<Status> {
    let lock = session.lock(&format!("{command} {}", session.name())).await?;
    let result = work.await;
    let released = lock.release().await;
    let status = result?;
    released?;
    Ok(status)
}

/// Asks before a change; refuses without a terminal to ask on.
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

/// How apply and destroy carry out their steps.
#[derive(Debug, Args)]
pub struct ExecutionArgs {
    /// How many resources to work on at once.
    #[arg(long, default_value_t = 10, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=100))]
    pub parallelism: u16,
    /// Wait at most this long for resources of one kind (repeatable, or comma-separated in
    /// DEPLOYER_TIMEOUTS), e.g. `--timeout nat_gateway=30m`. Defaults: db_cluster and
    /// db_instance 45m, auto_scaling_group and ecs_service 20m, nat_gateway 15m, others 10m.
    #[arg(
        long = "timeout",
        value_name = "KIND=DURATION",
        value_parser = parse_timeout,
        env = "DEPLOYER_TIMEOUTS",
        value_delimiter = ','
    )]
    pub timeouts: Vec<(Kind, Duration)>,
}

impl ExecutionArgs {
    fn execution(&self) -> Execution {
        Execution {
            parallelism: usize::from(self.parallelism),
            timeouts: Timeouts::new(self.timeouts.iter().copied()),
        }
    }
}

/// `nat_gateway=30m`: a resource kind and a duration (`90s`, `20m`, `1h 30m`).
fn parse_timeout(text: &str) -> Result<(Kind, Duration), String> {
    let Some((kind, duration)) = text.split_once('=') else {
        return Err(format!("expected KIND=DURATION, e.g. nat_gateway=30m, not `{text}`"));
    };
    let kind = Kind::named(kind.trim()).ok_or_else(|| {
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        format!("`{kind}` is not a resource kind; expected one of: {}", names.join(", "))
    })?;
    let duration = humantime::parse_duration(duration.trim())
        .map_err(|error| format!("`{duration}` is not a duration ({error}); expected e.g. 90s, 20m or 1h"))?;
    if duration.is_zero() {
        return Err("a timeout of zero would give up before the first look; expected e.g. 90s".to_owned());
    }
    Ok((kind, duration))
}

#[cfg(test)]
mod tests {
    #[test]
    fn definitions_are_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }

    #[test]
    fn timeouts_name_a_kind_and_a_duration() {
        use super::{Kind, parse_timeout};
        use std::time::Duration;
        assert_eq!(
            parse_timeout("nat_gateway=30m"),
            Ok((Kind::NatGateway, Duration::from_secs(1800)))
        );
        assert!(
            parse_timeout("nat=30m")
                .unwrap_err()
                .contains("expected one of: vpc, subnet")
        );
        assert!(
            parse_timeout("nat_gateway=soon")
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(parse_timeout("nat_gateway").unwrap_err().contains("KIND=DURATION"));
        assert!(parse_timeout("nat_gateway=0s").unwrap_err().contains("zero"));
    }
}
