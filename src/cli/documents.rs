//! The commands that print a document about deployer itself and need no environment: the
//! JSON Schema of environment files, shell completions, the man page.

use anyhow::Result;
use clap::Args;

use super::{Cli, Status};
use crate::ui::report;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    pub shell: clap_complete::Shell,
}

/// `deployer schema`.
pub fn schema() -> Result<Status> {
    report::text(&crate::config::environment_schema());
    Ok(Status::Done)
}

/// `deployer completions SHELL`.
pub fn completions(args: &CompletionsArgs) -> Result<Status> {
    let mut command = <Cli as clap::CommandFactory>::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "deployer", &mut script);
    report::text(&String::from_utf8_lossy(&script));
    Ok(Status::Done)
}

/// `deployer man`.
pub fn man() -> Result<Status> {
    let mut page = Vec::new();
    clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(&mut page)?;
    report::text(&String::from_utf8_lossy(&page));
    Ok(Status::Done)
}
