//! Errors about environment files, rendered the way a user can act on them: file, line,
//! column, field, what was expected and what to do.

use std::fmt;
use std::path::PathBuf;

use super::locate::Position;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environments directory {} does not exist\n  help: run deployer from the repository root, or pass --environments DIR", dir.display())]
    NoDirectory { dir: PathBuf },

    #[error("{}", unknown_environment(name, dir, available))]
    UnknownEnvironment {
        name: String,
        dir: PathBuf,
        available: Vec<String>,
    },

    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },

    #[error(
        "`{}` is not an environment name: it names a file, so it may hold only lowercase letters, digits and `-`\n  help: name an environment of the directory (`deployer validate` lists them), such as staging",
        crate::printable::printable_line(name)
    )]
    BadName { name: String },

    #[error(
        "{} is {size} bytes; environment files are limited to {limit} bytes\n  help: an environment file is a page of settings: check it is the right file",
        path.display()
    )]
    TooLarge { path: PathBuf, size: u64, limit: u64 },

    #[error("{}", render_problems(path, problems))]
    Invalid { path: PathBuf, problems: Vec<Problem> },
}

/// One thing wrong with one field of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted path of the field, e.g. `compute.desired` or `network.public_subnets[1]`.
    pub field: String,
    pub message: String,
    pub help: Option<String>,
    pub position: Option<Position>,
    /// The text of the line at `position`, shown under the message.
    pub source_line: Option<String>,
}

impl Problem {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            help: None,
            position: None,
            source_line: None,
        }
    }

    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

fn unknown_environment(name: &str, dir: &std::path::Path, available: &[String]) -> String {
    let mut text = format!(
        "unknown environment `{name}`: there is no {}/{name}.yaml",
        dir.display()
    );
    if available.is_empty() {
        text.push_str(&format!("\n  help: {} holds no environment files", dir.display()));
    } else {
        text.push_str(&format!("\n  help: known environments: {}", available.join(", ")));
    }
    text
}

fn render_problems(path: &std::path::Path, problems: &[Problem]) -> String {
    let mut out = String::new();
    for (i, problem) in problems.iter().enumerate() {
        if i > 0 {
            out.push_str("\nerror: ");
        }
        out.push_str(&problem.to_string_in(path));
    }
    out
}

impl Problem {
    fn to_string_in(&self, path: &std::path::Path) -> String {
        let mut out = String::new();
        let location = match self.position {
            Some(p) => format!("{}:{}:{}", path.display(), p.line, p.column),
            None => path.display().to_string(),
        };
        out.push_str(&format!("{location}: {}: {}", self.field, self.message));
        if let (Some(position), Some(line)) = (self.position, &self.source_line) {
            let number = position.line.to_string();
            let gutter = " ".repeat(number.len());
            let caret_pad = " ".repeat(position.column.saturating_sub(1));
            out.push_str(&format!("\n{gutter} |\n{number} | {line}\n{gutter} | {caret_pad}^"));
        }
        if let Some(help) = &self.help {
            out.push_str(&format!("\n  help: {help}"));
        }
        out
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}
