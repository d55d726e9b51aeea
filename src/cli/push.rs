//! `deployer push ENV`: build the bundled API's image and push it to the environment's
//! repository, by digest (also the first step of `apply --build`).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::Status;
use crate::ops::{self, PushRequest, Pushed, Session, Workspace};
use crate::ui::{self, PushProgress, StepReporter};

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

pub async fn exec(workspace: &Workspace, args: &PushArgs) -> Result<Status> {
    let session = Session::open(workspace, &args.environment).await?;
    build_and_push(&session, &args.build, ui::progress_style(false)).await?;
    Ok(Status::Done)
}

pub(super) async fn build_and_push(session: &Session, args: &BuildArgs, style: ui::Style) -> Result<Pushed> {
    let request = PushRequest {
        dockerfile: &args.dockerfile,
        context: &args.context,
        tag: args.tag.as_deref(),
        engine: args.engine,
        registry_url: args.registry_url.as_deref(),
    };
    let steps = StepReporter::new(style);
    let progress = PushProgress::new(style);
    let result = ops::push(session, &request, &steps, &|event| progress.event(event)).await;
    progress.finish();
    let pushed = result?;
    ui::pushed(&pushed, style);
    Ok(pushed)
}
