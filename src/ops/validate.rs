//! `validate`: check environment files without calling AWS.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::config::{available_environments, load_environment};
use crate::model::check_without_aws;

/// The files that passed and, for those that did not, what is wrong.
pub struct Validated {
    pub valid: Vec<PathBuf>,
    pub invalid: Vec<String>,
}

/// Checks the named environments, or every file in `dir` when none is named: the files, and
/// the model built from each (templates included), without calling AWS.
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
            Ok(loaded) => match check_without_aws(&loaded.config) {
                Ok(()) => report.valid.push(loaded.path),
                Err(error) => report.invalid.push(format!("{}: {error}", loaded.path.display())),
            },
            Err(error) => report.invalid.push(error.to_string()),
        }
    }
    Ok(report)
}
