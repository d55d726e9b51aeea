//! One run's view of one environment: its file read once and AWS connected once, shared by
//! every step of the run (the lock, the survey, the history, the hold, the push), so the file
//! cannot change between two steps of one locked run and the credential chain is resolved once.

use std::path::PathBuf;

use anyhow::{Result, anyhow};

use super::lock::EnvironmentLock;
use crate::aws::{Aws, Settings};
use crate::config::{ConfigError, EnvironmentConfig, LoadedEnvironment, load_environment};

/// What every command gets from its global flags: where the environment files are and how to
/// reach AWS. The command line's own types stop at `cli/`; this is what `ops` takes.
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    /// The directory of the `<ENV>.yaml` files.
    pub environments: PathBuf,
    /// `--region`: beats the file's `region:`, which beats the AWS chain.
    pub region: Option<String>,
    /// `--profile`.
    pub profile: Option<String>,
    /// `--endpoint-url`.
    pub endpoint_url: Option<String>,
}

impl Workspace {
    /// Where to talk to AWS: --region beats the environment file's `region:`, which beats the
    /// AWS chain (AWS_REGION, the profile), which aws-config resolves.
    pub fn settings(&self, file_region: Option<&str>) -> Settings {
        Settings {
            region: self.region.clone().or_else(|| file_region.map(str::to_owned)),
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
        }
    }
}

/// One environment, opened for one run.
pub struct Session {
    name: String,
    /// The environment's file, or why there is none (only a session opened with
    /// [`Session::open_deployed`] can be without one).
    file: Result<LoadedEnvironment, ConfigError>,
    pub aws: Aws,
    workspace: Workspace,
}

impl Session {
    /// An environment described by its file: a missing or invalid file is the error.
    pub async fn open(workspace: &Workspace, environment: &str) -> Result<Self> {
        let file = load_environment(&workspace.environments, environment)?;
        Self::connect(workspace, environment, Ok(file)).await
    }

    /// An environment as deployed, described by its file when it still has one: destroy,
    /// unlock and the lock work from the resources' tags alone (the file only adds the region
    /// and `protect:`). An invalid file is still an error; a missing one is not.
    pub async fn open_deployed(workspace: &Workspace, environment: &str) -> Result<Self> {
        let file = match load_environment(&workspace.environments, environment) {
            Ok(file) => Ok(file),
            Err(missing @ (ConfigError::UnknownEnvironment { .. } | ConfigError::NoDirectory { .. })) => Err(missing),
            Err(error) => return Err(error.into()),
        };
        Self::connect(workspace, environment, file).await
    }

    async fn connect(
        workspace: &Workspace,
        environment: &str,
        file: Result<LoadedEnvironment, ConfigError>,
    ) -> Result<Self> {
        let region = file.as_ref().ok().and_then(|file| file.config.region.as_deref());
        let aws = Aws::connect(&workspace.settings(region)).await?;
        Ok(Self {
            name: environment.to_owned(),
            file,
            aws,
            workspace: workspace.clone(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The environment's file, as read when the session opened.
    pub fn file(&self) -> Result<&LoadedEnvironment> {
        self.file.as_ref().map_err(|missing| anyhow!("{missing}"))
    }

    /// The environment's configuration, when it has a file.
    pub fn config(&self) -> Option<&EnvironmentConfig> {
        self.file.as_ref().ok().map(|file| &file.config)
    }

    pub fn workspace(&self) -> &Workspace {
        &self.workspace
    }

    /// Takes the environment's lock for `command` (e.g. `apply staging`), or fails at once
    /// naming who holds it.
    pub async fn lock(&self, command: &str) -> Result<EnvironmentLock> {
        super::lock::lock(&self.aws, &self.name, command).await
    }
}
