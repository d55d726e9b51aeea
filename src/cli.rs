//! The command line, as clap derive definitions. Each doc comment is the help text users see.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::model::Kind;

/// Provision and tear down AWS environments described in YAML.
///
/// Reads environments/<ENV>.yaml, discovers what exists in AWS by tag, and converges the two.
/// Credentials, region and endpoint come from the standard AWS chain (AWS_PROFILE, AWS_REGION,
/// AWS_ENDPOINT_URL, ~/.aws) unless the flags below say otherwise.
/// What the exit status says, for scripts and pipelines.
pub const EXIT_CODES: &str = "Exit status:
  0  done (for `plan`: the plan was made, with or without changes)
  1  error: the command failed, or could not read or change AWS (the message says why)
  2  `plan --detailed-exitcode`: the plan has changes
  3  `status`: the environment is not healthy, or an alarm is firing
  `shell` exits with the session's own status";

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
    Plan(PlanArgs),
    /// Converge an environment to its YAML file, or carry out a plan saved by `plan --out`.
    Apply(ApplyArgs),
    /// Print a plan saved by `plan --out`, as `plan` showed it (or its JSON).
    Show(ShowArgs),
    /// Delete every resource of an environment, dependants first.
    Destroy(DestroyArgs),
    /// Break an environment's lock left by a deployer that was killed (asks first).
    Unlock(UnlockArgs),
    /// Build the bundled API's image and push it to the environment's repository, by digest.
    Push(PushArgs),
    /// Print an environment's outputs (VPC, subnets, load balancer DNS name, API URL).
    Output(OutputArgs),
    /// Show the API's logs (CloudWatch Logs), oldest first, each line with its task or instance.
    Logs(LogsArgs),
    /// How the environment runs now: tasks or instances, targets, database. Exit 1 when
    /// something is not healthy.
    Status(StatusArgs),
    /// The revisions deployed (task definition revisions, or launch template versions), newest
    /// first, with their images and which one runs.
    History(StatusArgs),
    /// Run an earlier revision's image again (the one before what runs, or --to), and hold
    /// the environment there until --release, `apply --image` or `apply --build`.
    Rollback(RollbackArgs),
    /// Open a Systems Manager session on one of an EC2 environment's instances (through the
    /// AWS CLI and its Session Manager plugin; no SSH port is open anywhere).
    Shell(ShellArgs),
    /// Check environment files without calling AWS (all of them when none is named).
    Validate(ValidateArgs),
    /// Print the dependency graph of an environment (what waits for what, the critical path
    /// marked), or of an apply recorded with `apply --timeline FILE`.
    Graph(GraphArgs),
    /// Print the JSON Schema of environment files (what environments/schema.json holds).
    Schema,
    /// Print a shell completion script: `deployer completions bash > /etc/bash_completion.d/deployer`.
    Completions(CompletionsArgs),
    /// Print the man page (roff): `deployer man > /usr/local/share/man/man1/deployer.1`.
    Man,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Environment name: environments/<ENV>.yaml (not needed with --timeline).
    #[arg(required_unless_present = "timeline")]
    pub environment: Option<String>,
    /// `dot` for Graphviz (`| dot -Tsvg`), `mermaid` for Markdown, `text` for a timeline chart.
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,
    /// Draw the apply recorded in FILE (by `apply --timeline FILE`): when each step ran, and
    /// the chain that made it as long as it was.
    #[arg(long, value_name = "FILE")]
    pub timeline: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
    Text,
}

#[derive(Debug, Args)]
pub struct ShellArgs {
    /// Environment name: environments/<ENV>.yaml.
    pub environment: String,
    /// The instance (default: the first in service).
    #[arg(long, value_name = "ID")]
    pub instance: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Environment name: environments/<ENV>.yaml.
    pub environment: String,
    /// Print the plan as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan for this container image instead of the file's `app.image` or the last push.
    #[arg(long, value_name = "IMAGE", env = "DEPLOYER_IMAGE")]
    pub image: Option<String>,
    /// Also save the plan to FILE, for `deployer apply FILE` to carry out exactly (and `show`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// EC2: move the instances to the newest Amazon Linux 2023 AMI. Without it they keep the
    /// AMI they run, and the plan says when a newer one is out.
    #[arg(long)]
    pub update_ami: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan file written by `deployer plan ENV --out FILE`.
    pub file: PathBuf,
    /// Print the plan as one JSON object, in `plan --json`'s format.
    #[arg(long)]
    pub json: bool,
}

/// How to build and where to push: shared by `push` and `apply --build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The Dockerfile to build.
    #[arg(long, value_name = "PATH", default_value = "Dockerfile")]
    pub dockerfile: PathBuf,
    /// The directory the image is built from.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub context: PathBuf,
    /// The image tag (default: the git commit of the context, `-dirty-<time>` with changes).
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// The container engine (default: the first of docker, podman, buildah that works).
    #[arg(long, value_name = "ENGINE", env = "DEPLOYER_CONTAINER_ENGINE")]
    pub engine: Option<crate::engine::EngineKind>,
    /// Push to this registry instead of the repository's own: for tests and mirrors. Plain
    /// http:// only for a loopback address. The environment still runs the repository's URI.
    #[arg(long, value_name = "URL", env = "DEPLOYER_REGISTRY_URL")]
    pub registry_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Environment name: environments/<ENV>.yaml.
    pub environment: String,
    #[command(flatten)]
    pub build: BuildArgs,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Environment name (environments/<ENV>.yaml), or a plan file saved by `plan --out` (a
    /// path: it has a `/` or a `.`), which is applied exactly, without asking, or refused when
    /// the environment or its file changed since.
    #[arg(value_name = "ENV|PLAN_FILE")]
    pub environment: String,
    /// Apply without asking; required when stdin is not a terminal.
    #[arg(long)]
    pub auto_approve: bool,
    /// Allow deletes and replacements in a protected environment (`protect: true`).
    #[arg(long)]
    pub allow_destroy: bool,
    /// Container image to run instead of the file's `app.image` or the last push (rolls the
    /// service).
    #[arg(long, value_name = "IMAGE", env = "DEPLOYER_IMAGE", conflicts_with = "build")]
    pub image: Option<String>,
    /// Build and push the image first (as `deployer push`), then deploy exactly that digest.
    #[arg(long)]
    pub build: bool,
    /// EC2: move the instances to the newest Amazon Linux 2023 AMI. Without it they keep the
    /// AMI they run, and the plan says when a newer one is out.
    #[arg(long)]
    pub update_ami: bool,
    #[command(flatten)]
    pub build_args: BuildArgs,
    #[command(flatten)]
    pub execution: ExecutionArgs,
    /// Emit one JSON object per event on stdout instead of progress bars.
    #[arg(long)]
    pub json: bool,
    /// Record when each step started and ended in FILE (JSON), for `deployer graph --timeline FILE`.
    #[arg(long, value_name = "FILE")]
    pub timeline: Option<PathBuf>,
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

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Environment to destroy; when omitted and exactly one environment is deployed, that one.
    pub environment: Option<String>,
    /// Destroy without asking; required when stdin is not a terminal.
    #[arg(long)]
    pub auto_approve: bool,
    /// Required with --auto-approve to destroy production or a `protect: true` environment.
    #[arg(long)]
    pub allow_destroy: bool,
    #[command(flatten)]
    pub execution: ExecutionArgs,
    /// Emit one JSON object per event on stdout instead of progress bars.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// Environment name.
    pub environment: String,
    /// Break the lock without asking; required when stdin is not a terminal.
    #[arg(long)]
    pub auto_approve: bool,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Environment name.
    pub environment: String,
    /// Print the outputs as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Environment name.
    pub environment: String,
    /// The revision to go back to, as `deployer history` names it (`staging-api:3`, or `3`).
    #[arg(long, value_name = "REVISION", conflicts_with = "release")]
    pub to: Option<String>,
    /// End the hold instead: the next apply rolls forward to the file's or the last pushed image.
    #[arg(long)]
    pub release: bool,
    /// Roll back without asking; required when stdin is not a terminal.
    #[arg(long)]
    pub auto_approve: bool,
    #[command(flatten)]
    pub execution: ExecutionArgs,
    /// Emit one JSON object per event on stdout instead of progress bars.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Environment name.
    pub environment: String,
    /// Print one JSON object (`status` adds `healthy`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Environment name.
    pub environment: String,
    /// How far back to start: 90s, 10m, 2h, 1d.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = humantime::parse_duration)]
    pub since: std::time::Duration,
    /// Keep printing new lines until interrupted.
    #[arg(short, long)]
    pub follow: bool,
    /// Only lines containing this text.
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// One JSON object per line: {"timestamp", "source", "message"}.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Environments to check; all files in the environments directory when none are named.
    #[arg(value_name = "ENV")]
    pub names: Vec<String>,
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
