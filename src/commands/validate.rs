//! `validate`: check environment files without calling AWS.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::config::{ConfigError, available_environments, load_environment};

/// The files that passed and the errors of those that did not.
pub struct Validated {
    pub valid: Vec<PathBuf>,
    pub invalid: Vec<ConfigError>,
}

/// Checks the named environments, or every file in `dir` when none is named.
pub fn validate(dir: &Path, names: &[String]) -> Result<Validated> {
    let names = if names.is_empty() {
        let found = available_environments(dir)?;
        if found.is_empty() {
            bail!("{} holds no environment files (*.yaml)", dir.display());
        }
        found
    } else {
        names.to_vec()
    };
    let mut report = Validated {
        valid: Vec::new(),
        invalid: Vec::new(),
    };
    for name in &names {
        match load_environment(dir, name) {
            Ok(loaded) => report.valid.push(loaded.path),
            Err(error) => report.invalid.push(error),
        }
    }
    Ok(report)
}
