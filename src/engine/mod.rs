//! Container engines: finding one that works on this machine, and building, logging in and
//! pushing with it. Knows nothing of AWS: `ops::push` hands it a registry, a login and
//! a reference.

mod login;
mod process;

pub use login::LoginDir;
pub use process::Failed;

use std::fmt;
use std::path::{Path, PathBuf};

use process::{Output, run};

/// The engines deployer can drive, in the order it looks for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineKind {
    Docker,
    Podman,
    Buildah,
}

impl EngineKind {
    pub const ALL: [EngineKind; 3] = [Self::Docker, Self::Podman, Self::Buildah];

    pub fn program(self) -> &'static str {
        match self {
            Self::Docker => "docker",
            Self::Podman => "podman",
            Self::Buildah => "buildah",
        }
    }

    /// A command that succeeds only when the engine can build: Docker's client alone is not
    /// enough, its daemon must answer.
    fn probe(self) -> &'static [&'static str] {
        match self {
            Self::Docker => &["info", "--format", "{{.ServerVersion}}"],
            Self::Podman => &["info", "--format", "{{.Version.Version}}"],
            Self::Buildah => &["version"],
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.program())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(
        "no usable container engine: {}\n  help: install Docker, Podman or Buildah, or name the one to use with --engine or DEPLOYER_CONTAINER_ENGINE",
        .0.join("; ")
    )]
    NoneUsable(Vec<String>),

    #[error("{0}")]
    Failed(#[from] Failed),

    #[error(
        "{engine} pushed {reference} but reported no digest\n  help: check the registry; re-running `deployer push` is safe"
    )]
    NoDigest { engine: EngineKind, reference: String },

    #[error("could not keep the registry login in a private directory: {0}")]
    LoginDir(std::io::Error),
}

/// An engine found working on this machine.
#[derive(Debug, Clone)]
pub struct Engine {
    pub kind: EngineKind,
    program: PathBuf,
}

/// Where the engine pushes: `host[:port]`, and whether it speaks plain HTTP (loopback only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    pub host: String,
    pub plain_http: bool,
    /// Push with the engine's own login (its configuration, `docker login` done by the
    /// operator) instead of the one in the run's `LoginDir`: for a registry other than the
    /// repository's own, which must never see ECR's token.
    pub engine_login: bool,
}

/// What the engine tells deployer about each line it prints.
pub type OnLine<'a> = &'a (dyn Fn(&str) + Sync);

impl Engine {
    /// The named engine, or the first of docker, podman, buildah that is installed and works.
    pub async fn detect(named: Option<EngineKind>) -> Result<Self, EngineError> {
        let candidates = named.map_or(EngineKind::ALL.to_vec(), |kind| vec![kind]);
        let mut reasons = Vec::new();
        for kind in candidates {
            let Some(program) = find_program(kind.program()) else {
                reasons.push(format!("{kind} is not installed"));
                continue;
            };
            let engine = Self { kind, program };
            match engine.run(kind.probe(), None, &|_| {}).await {
                Ok(_) => return Ok(engine),
                Err(failed) => reasons.push(format!(
                    "{kind} is installed but does not work ({})",
                    failed.last_line().unwrap_or("no output")
                )),
            }
        }
        Err(EngineError::NoneUsable(reasons))
    }

    async fn run(&self, args: &[&str], stdin: Option<&str>, on_line: OnLine<'_>) -> Result<Output, Failed> {
        run(&self.program, args, stdin, on_line).await
    }

    /// Builds `dockerfile` in `context` as `reference`, for `platform` (`linux/amd64`): the
    /// environment's architecture, whatever the machine building it (an arm64 laptop's
    /// default image would not start on x86_64 Fargate or t3 instances).
    pub async fn build(
        &self,
        dockerfile: &Path,
        context: &Path,
        reference: &str,
        platform: &str,
        on_line: OnLine<'_>,
    ) -> Result<(), EngineError> {
        let dockerfile = dockerfile.to_string_lossy();
        let context = context.to_string_lossy();
        let args = [
            "build",
            "--platform",
            platform,
            "--file",
            &dockerfile,
            "--tag",
            reference,
            &context,
        ];
        self.run(&args, None, on_line).await?;
        Ok(())
    }

    /// Logs in to `registry`, keeping the credentials in `dir` only; the password goes on
    /// stdin, never in arguments other users can read.
    pub async fn login(
        &self,
        registry: &Registry,
        username: &str,
        password: &str,
        dir: &LoginDir,
    ) -> Result<(), EngineError> {
        let mut args = self.with_login("login", registry, dir);
        args.extend(["--username", username, "--password-stdin", &registry.host].map(str::to_owned));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(&args, Some(password), &|_| {}).await?;
        Ok(())
    }

    /// Pushes `reference` with the login in `dir`, and returns the digest the registry stored.
    pub async fn push(
        &self,
        registry: &Registry,
        reference: &str,
        dir: &LoginDir,
        on_line: OnLine<'_>,
    ) -> Result<String, EngineError> {
        let digest_file = dir.path().join("digest");
        let mut args = self.with_login("push", registry, dir);
        if self.kind != EngineKind::Docker {
            args.extend(["--digestfile".to_owned(), digest_file.to_string_lossy().into_owned()]);
        }
        args.push(reference.to_owned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = self.run(&args, None, on_line).await?;
        let digest = match self.kind {
            EngineKind::Docker => docker_digest(&output.lines),
            EngineKind::Podman | EngineKind::Buildah => {
                std::fs::read_to_string(&digest_file).ok().map(|d| d.trim().to_owned())
            }
        };
        digest
            .filter(|d| d.starts_with("sha256:"))
            .ok_or_else(|| EngineError::NoDigest {
                engine: self.kind,
                reference: reference.to_owned(),
            })
    }

    /// `subcommand` with the engine keeping logins in `dir`, not in the user's own files
    /// (`~/.docker/config.json`), and plain HTTP for a loopback registry (Docker allows
    /// 127.0.0.0/8 without TLS by itself).
    fn with_login(&self, subcommand: &str, registry: &Registry, dir: &LoginDir) -> Vec<String> {
        if registry.engine_login {
            let mut args = vec![subcommand.to_owned()];
            if registry.plain_http && self.kind != EngineKind::Docker {
                args.push("--tls-verify=false".into());
            }
            return args;
        }
        let dir_path = dir.path().to_string_lossy().into_owned();
        let auth_file = dir.auth_file().to_string_lossy().into_owned();
        match self.kind {
            EngineKind::Docker => vec!["--config".into(), dir_path, subcommand.into()],
            EngineKind::Podman | EngineKind::Buildah => {
                let mut args = vec![subcommand.to_owned(), "--authfile".into(), auth_file];
                if registry.plain_http {
                    args.push("--tls-verify=false".into());
                }
                args
            }
        }
    }
}

/// The digest in `docker push`'s last report: `latest: digest: sha256:... size: 528`.
fn docker_digest(lines: &[String]) -> Option<String> {
    lines
        .iter()
        .rev()
        .find_map(|line| line.split("digest: ").nth(1)?.split_whitespace().next())
        .map(str::to_owned)
}

/// `program` on PATH, as `which` would find it.
fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_push_names_its_digest_on_its_last_line() {
        let lines: Vec<String> = [
            "The push refers to repository [123456789012.dkr.ecr.us-east-1.amazonaws.com/deployer/staging/api]",
            "5f70bf18a086: Pushed",
            "abc123: digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef size: 528",
        ]
        .map(str::to_owned)
        .to_vec();
        assert_eq!(
            docker_digest(&lines).as_deref(),
            Some("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
        );
        assert_eq!(docker_digest(&lines[..2]), None);
    }

    #[test]
    fn logins_never_go_to_the_users_own_files() {
        let dir = LoginDir::new().unwrap();
        let registry = Registry {
            host: "127.0.0.1:5000".into(),
            plain_http: true,
            engine_login: false,
        };
        let engine = |kind| Engine {
            kind,
            program: PathBuf::from(kind.program()),
        };
        let docker = engine(EngineKind::Docker).with_login("push", &registry, &dir);
        assert_eq!(
            docker[..2],
            ["--config".to_owned(), dir.path().to_string_lossy().into_owned()]
        );
        assert_eq!(docker[2], "push");
        let buildah = engine(EngineKind::Buildah).with_login("login", &registry, &dir);
        assert_eq!(
            buildah,
            [
                "login".to_owned(),
                "--authfile".to_owned(),
                dir.auth_file().to_string_lossy().into_owned(),
                "--tls-verify=false".to_owned()
            ]
        );
        let mirror = Registry {
            host: "mirror.example.com".into(),
            plain_http: false,
            engine_login: true,
        };
        assert_eq!(engine(EngineKind::Docker).with_login("push", &mirror, &dir), ["push"]);
        assert_eq!(engine(EngineKind::Podman).with_login("push", &mirror, &dir), ["push"]);
    }
}
