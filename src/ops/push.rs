//! `push`: build the bundled API's image, push it to the environment's own repository, and
//! name it by digest, which is what the environment then runs.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};

use super::{Session, run_plan};
use crate::apply::Reporter;
use crate::aws::Aws;
use crate::engine::{Engine, EngineError, EngineKind, LoginDir, OnLine, Registry};
use crate::model::{Kind, desired_repository, repository_name};
use crate::plan::plan;

/// What to build and where to push it.
pub struct PushRequest<'a> {
    pub dockerfile: &'a Path,
    pub context: &'a Path,
    /// The image tag; derived from the git commit when None.
    pub tag: Option<&'a str>,
    pub engine: Option<EngineKind>,
    /// Push here instead of the repository's own registry (tests, mirrors).
    pub registry_url: Option<&'a str>,
}

/// What `push` did.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub environment: String,
    pub engine: EngineKind,
    pub repository: String,
    /// Where the engine pushed, by digest: `<registry>/<repository>@sha256:...`.
    pub pushed: String,
    /// What the environment runs: the repository's URI with the digest.
    pub image: String,
    pub digest: String,
    pub tag: String,
    /// The repository did not exist and push created it.
    pub created_repository: bool,
    /// The login was kept in memory-backed storage (false: in a private temporary directory).
    pub login_in_memory: bool,
}

/// What `push` tells its caller while it works: a stage, or a line the engine printed.
pub enum PushEvent<'a> {
    Stage(&'a str),
    Output(&'a str),
}

pub async fn push(
    session: &Session,
    request: &PushRequest<'_>,
    steps: &dyn Reporter,
    on_event: &(dyn Fn(PushEvent<'_>) + Sync),
) -> Result<Pushed> {
    // Everything that can fail without AWS fails first.
    let config = &session.file()?.config;
    let override_registry = request.registry_url.map(parse_registry_url).transpose()?;
    check_build_inputs(request)?;
    on_event(PushEvent::Stage("looking for a container engine"));
    let engine = Engine::detect(request.engine).await?;
    let tag = match request.tag {
        Some(tag) => check_tag(tag)?,
        None => source_tag(request.context).await?,
    };

    let aws = &session.aws;
    let repository = repository_name(&config.name);
    let created_repository = ensure_repository(aws, config, steps).await?;
    let uri = aws.ecr.repository_uri(&repository).await?.ok_or_else(|| {
        anyhow!(
            "the repository {repository} was not found right after apply created it\n  help: re-run `deployer push {}`",
            config.name
        )
    })?;
    let own_host = uri.split('/').next().unwrap_or_default();
    let registry = match override_registry {
        // ECR's push token is good for 12 hours on every repository the caller may push to:
        // it goes to the repository's own registry (or one on this machine), no other.
        Some(mut registry) => {
            registry.engine_login = !receives_ecr_token(&registry.host, own_host);
            registry
        }
        None => Registry {
            host: own_host.to_owned(),
            plain_http: false,
            engine_login: false,
        },
    };
    let reference = format!("{}/{repository}:{tag}", registry.host);

    let on_line = |line: &str| on_event(PushEvent::Output(line));
    let on_line: OnLine<'_> = &on_line;
    on_event(PushEvent::Stage(&format!(
        "building {reference} for {} with {}",
        config.compute.architecture.platform(),
        engine.kind
    )));
    engine
        .build(
            request.dockerfile,
            request.context,
            &reference,
            config.compute.architecture.platform(),
            on_line,
        )
        .await
        .map_err(|error| explain(error, "building the image", &help_build(request)))?;

    let dir = LoginDir::new().map_err(EngineError::LoginDir)?;
    if registry.engine_login {
        on_event(PushEvent::Stage(&format!(
            "pushing to {} with {}'s own login (ECR's token goes only to {own_host})",
            registry.host, engine.kind
        )));
    } else {
        on_event(PushEvent::Stage(&format!("logging in to {}", registry.host)));
        let login = aws.ecr.registry_login().await?;
        engine
            .login(&registry, &login.username, &login.password, &dir)
            .await
            .map_err(|error| {
                explain(
                    error,
                    &format!("the registry {} refused the login", registry.host),
                    HELP_REFUSED,
                )
            })?;
    }

    on_event(PushEvent::Stage(&format!("pushing {reference}")));
    let digest = engine
        .push(&registry, &reference, &dir, on_line)
        .await
        .map_err(|error| {
            explain(
                error,
                &format!("the registry {} refused the push", registry.host),
                HELP_REFUSED,
            )
        })?;
    Ok(Pushed {
        environment: config.name.clone(),
        engine: engine.kind,
        pushed: format!("{}/{repository}@{digest}", registry.host),
        image: format!("{uri}@{digest}"),
        repository,
        digest,
        tag,
        created_repository,
        login_in_memory: dir.in_memory(),
    })
}

const HELP_REFUSED: &str = "check that your AWS identity may push to the repository (ecr:InitiateLayerUpload, ecr:UploadLayerPart, ecr:CompleteLayerUpload, ecr:BatchCheckLayerAvailability, ecr:PutImage); tags are immutable, so a tag that exists already is refused: pass another --tag";

fn help_build(request: &PushRequest<'_>) -> String {
    format!(
        "fix the build of {} (context {}) and re-run; nothing was pushed",
        request.dockerfile.display(),
        request.context.display()
    )
}

fn explain(error: EngineError, what: &str, help: &str) -> anyhow::Error {
    anyhow!("{what}: {error}\n  help: {help}")
}

/// Creates the environment's repository when it does not exist yet, the way `apply` would
/// (same spec, same tags), so the first push needs no apply before it. A repository that
/// exists is left to `apply`.
async fn ensure_repository(aws: &Aws, config: &crate::config::EnvironmentConfig, steps: &dyn Reporter) -> Result<bool> {
    let observed: Vec<_> = aws
        .discover_kind(&config.name, Kind::EcrRepository)
        .await
        .with_context(|| format!("could not read the current state of {}", config.name))?;
    if !observed.is_empty() {
        return Ok(false);
    }
    let desired = desired_repository(config);
    let plan = plan(&desired, &observed);
    let execution = super::Execution {
        parallelism: 1,
        timeouts: Default::default(),
    };
    let outcome = run_plan(aws, &plan, &observed, &execution, steps).await?;
    super::ensure_complete(&outcome, "push", &config.name)?;
    Ok(true)
}

fn check_build_inputs(request: &PushRequest<'_>) -> Result<()> {
    if !request.context.is_dir() {
        bail!(
            "--context {}: no such directory\n  help: name the directory the Dockerfile builds from (default: the current directory)",
            request.context.display()
        );
    }
    if !request.dockerfile.is_file() {
        bail!(
            "--dockerfile {}: no such file\n  help: name the Dockerfile to build (default: Dockerfile)",
            request.dockerfile.display()
        );
    }
    Ok(())
}

/// An image tag as registries take it: 1 to 128 of `[A-Za-z0-9_.-]`, not starting with `.`/`-`.
fn check_tag(tag: &str) -> Result<String> {
    let valid = !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !valid {
        bail!(
            "--tag {tag:?} is not an image tag\n  help: use up to 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-`"
        );
    }
    Ok(tag.to_owned())
}

/// The git commit the context is at; with uncommitted changes, `-dirty-<unix time>`, because
/// tags are immutable and two different dirty builds must not claim one name.
async fn source_tag(context: &Path) -> Result<String> {
    // The context may be anyone's repository: its hooks and configured helpers (the fsmonitor
    // `git status` runs, hooks) must not run on this machine.
    let git = |args: &[&str]| {
        let mut command = tokio::process::Command::new("git");
        command
            .arg("-C")
            .arg(context)
            .args(["-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null"])
            .args(["-c", "core.untrackedCache=false"])
            .args(args)
            .env("GIT_OPTIONAL_LOCKS", "0");
        command
    };
    let head = git(&["rev-parse", "--short=12", "HEAD"])
        .output()
        .await
        .context("running git to name the image (pass --tag to name it yourself)")?;
    if !head.status.success() {
        bail!(
            "cannot name the image after a git commit: {}\n  help: pass --tag, or build from a git work tree",
            String::from_utf8_lossy(&head.stderr).trim()
        );
    }
    let commit = String::from_utf8_lossy(&head.stdout).trim().to_owned();
    let status = git(&["status", "--porcelain"]).output().await?;
    if status.status.success() && status.stdout.is_empty() {
        return Ok(commit);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok(format!("{commit}-dirty-{now}"))
}

/// `https://host[:port]`, or `http://` for a loopback address only: credentials and images
/// never cross a network in clear.
fn parse_registry_url(url: &str) -> Result<Registry> {
    let usage = "expected https://HOST[:PORT], or http://127.0.0.1:PORT for a registry on this machine";
    let (plain_http, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (false, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (true, rest)
    } else {
        bail!("--registry-url {url}: {usage}");
    };
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains('/') {
        bail!("--registry-url {url}: {usage}");
    }
    if plain_http && !crate::aws::is_loopback(host) {
        bail!(
            "--registry-url {url}: plain http is allowed only for a loopback address (127.0.0.1, ::1, localhost)\n  help: use https:// for a registry on another machine"
        );
    }
    Ok(Registry {
        host: host.to_owned(),
        plain_http,
        engine_login: false,
    })
}

/// Whether ECR's token may go to `host`: the repository's own registry, or one on this machine.
fn receives_ecr_token(host: &str, own_host: &str) -> bool {
    host.eq_ignore_ascii_case(own_host) || crate::aws::is_loopback(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_on_loopback() {
        let local = parse_registry_url("http://127.0.0.1:5000").unwrap();
        assert_eq!((local.host.as_str(), local.plain_http), ("127.0.0.1:5000", true));
        assert!(parse_registry_url("http://[::1]:5000/").unwrap().plain_http);
        assert!(parse_registry_url("http://localhost:5000").is_ok());
        let remote = parse_registry_url("http://10.0.0.5:5000").unwrap_err().to_string();
        assert!(
            remote.contains("plain http is allowed only for a loopback address"),
            "{remote}"
        );
        assert!(parse_registry_url("http://127.0.0.1.example.com").is_err());
        assert!(!parse_registry_url("https://mirror.example.com").unwrap().plain_http);
        assert!(parse_registry_url("mirror.example.com").is_err());
        assert!(parse_registry_url("https://mirror.example.com/path").is_err());
    }

    #[test]
    fn tags_are_what_registries_take() {
        assert!(check_tag("abc123def456-dirty-1764064500").is_ok());
        assert!(check_tag("v1.2.3").is_ok());
        assert!(check_tag("-x").is_err());
        assert!(check_tag("a b").is_err());
        assert!(check_tag(&"a".repeat(129)).is_err());
    }

    #[test]
    fn the_ecr_token_goes_to_its_own_registry_or_this_machine_only() {
        let own = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
        assert!(receives_ecr_token(own, own));
        assert!(receives_ecr_token("127.0.0.1:5000", own));
        assert!(receives_ecr_token("localhost:5000", own));
        assert!(!receives_ecr_token("mirror.example.com", own));
        assert!(!receives_ecr_token(
            "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example",
            own
        ));
    }

    /// `git status` runs the repository's fsmonitor hook: a context from elsewhere must not run
    /// code on this machine by being named.
    #[tokio::test]
    async fn naming_the_image_runs_nothing_the_context_configures() {
        let dir = tempfile::tempdir().unwrap();
        let ran = dir.path().join("hook-ran");
        let git = |args: &[&str]| {
            let status = std::process::Command::new("git")
                .arg("-C")
                .arg(dir.path())
                .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
                .args(args)
                .status()
                .unwrap();
            assert!(status.success(), "git {args:?}");
        };
        git(&["init", "-q"]);
        std::fs::write(dir.path().join("file"), "x").unwrap();
        git(&["add", "file"]);
        git(&["commit", "-q", "-m", "one"]);
        let hook = dir.path().join("monitor.sh");
        std::fs::write(&hook, format!("#!/bin/sh\ntouch {}\n", ran.display())).unwrap();
        std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        git(&["config", "core.fsmonitor", &hook.to_string_lossy()]);
        let tag = source_tag(dir.path()).await.unwrap();
        assert!(!ran.exists(), "the context's fsmonitor hook ran");
        assert!(tag.contains("-dirty-"), "the hook script is untracked: {tag}");
    }

    #[tokio::test]
    async fn a_directory_outside_git_has_no_default_tag() {
        let dir = tempfile::tempdir().unwrap();
        let error = source_tag(dir.path()).await.unwrap_err().to_string();
        assert!(error.contains("pass --tag"), "{error}");
    }
}
