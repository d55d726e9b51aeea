//! `deployer graph ENV | --timeline FILE`: the dependency graph, or an apply's timeline.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;

use super::Status;
use crate::ops::{self, Workspace};
use crate::ui::{self, report};

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

pub fn exec(workspace: &Workspace, args: &GraphArgs) -> Result<Status> {
    let (diagram, timeline) = match (&args.timeline, &args.environment) {
        (Some(file), _) => {
            let timeline = ops::read_timeline(file)?;
            (ops::timeline_graph(&timeline), Some(timeline))
        }
        (None, Some(environment)) => (ops::environment_graph(&workspace.environments, environment)?, None),
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
