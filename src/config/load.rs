//! Finding and reading environment files: `<dir>/<name>.yaml`, parsed and validated.

use sha2::Digest;
use std::path::{Path, PathBuf};

use super::error::{ConfigError, Problem};
use super::locate::SourceMap;
use super::schema::EnvironmentConfig;
use super::validate::validate;

/// A parsed, valid environment and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedEnvironment {
    pub config: EnvironmentConfig,
    pub path: PathBuf,
    /// `sha256:<hex>` of the file's bytes: a saved plan records it, and refuses a file that
    /// changed since.
    pub digest: String,
}

/// The environment names in `dir` (the stems of its `*.yaml` files), sorted.
pub fn available_environments(dir: &Path) -> Result<Vec<String>, ConfigError> {
    let entries = std::fs::read_dir(dir).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ConfigError::NoDirectory { dir: dir.to_owned() },
        _ => ConfigError::Read {
            path: dir.to_owned(),
            source,
        },
    })?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .filter_map(|path| path.file_stem().and_then(|s| s.to_str()).map(str::to_owned))
        .collect();
    names.sort();
    Ok(names)
}

/// Environment files are a page of settings; anything much larger is not one, and is refused
/// before a parser spends memory on it.
pub(super) const MAX_FILE_BYTES: u64 = 256 * 1024;

/// Whether `name` can be an environment's name, checked before it becomes a path: no `/`,
/// no `..`, nothing but what `validate` allows in `name:`.
fn is_environment_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn read_limited(path: &Path) -> std::io::Result<Result<String, u64>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        let size = std::fs::metadata(path).map_or(bytes.len() as u64, |m| m.len());
        return Ok(Err(size));
    }
    String::from_utf8(bytes)
        .map(Ok)
        .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, error))
}

/// Loads `<dir>/<name>.yaml`.
pub fn load_environment(dir: &Path, name: &str) -> Result<LoadedEnvironment, ConfigError> {
    if !is_environment_name(name) {
        return Err(ConfigError::BadName { name: name.to_owned() });
    }
    let path = dir.join(format!("{name}.yaml"));
    let text = match read_limited(&path) {
        Ok(Ok(text)) => text,
        Ok(Err(size)) => {
            return Err(ConfigError::TooLarge {
                path,
                size,
                limit: MAX_FILE_BYTES,
            });
        }
        Err(source) if source.kind() == std::io::ErrorKind::NotFound => {
            let available = available_environments(dir)?;
            return Err(ConfigError::UnknownEnvironment {
                name: name.to_owned(),
                dir: dir.to_owned(),
                available,
            });
        }
        Err(source) => return Err(ConfigError::Read { path, source }),
    };
    let config = parse_environment(&text, name).map_err(|problems| ConfigError::Invalid {
        path: path.clone(),
        problems,
    })?;
    let digest = format!("sha256:{:x}", sha2::Sha256::digest(text.as_bytes()));
    Ok(LoadedEnvironment { config, path, digest })
}

/// Parses and validates one environment file's text; `expected_name` is the file's stem.
pub fn parse_environment(text: &str, expected_name: &str) -> Result<EnvironmentConfig, Vec<Problem>> {
    // Before serde_yaml sees it: aliases multiply memory, deep nesting costs it quadratic time.
    if let Err(problem) = super::locate::check_shape(text) {
        let mut problem = *problem;
        problem.source_line = problem.position.and_then(|p| source_line(text, p.line));
        return Err(vec![problem]);
    }
    let config: EnvironmentConfig = match serde_yaml::from_str(text) {
        Ok(config) => config,
        Err(error) => return Err(vec![yaml_problem(text, &error)]),
    };
    let problems = validate(&config, expected_name);
    if problems.is_empty() {
        return Ok(config);
    }
    let map = SourceMap::build(text);
    Err(problems
        .into_iter()
        .map(|mut problem| {
            problem.position = map.position(&problem.field);
            problem.source_line = problem.position.and_then(|p| source_line(text, p.line));
            problem
        })
        .collect())
}

/// Turns serde_yaml's error into a problem: its message names the field path before a colon
/// and ends with " at line L column C", which we move into the position instead.
fn yaml_problem(text: &str, error: &serde_yaml::Error) -> Problem {
    let rendered = error.to_string();
    let message = match rendered.rfind(" at line ") {
        Some(cut) => rendered[..cut].to_owned(),
        None => rendered,
    };
    let (field, message) = match message.split_once(": ") {
        Some((field, rest)) if !field.contains(' ') => (field.to_owned(), rest.to_owned()),
        _ if message.starts_with("missing field") || message.starts_with("unknown field") => {
            ("(top level)".to_owned(), message)
        }
        _ => ("(document)".to_owned(), message),
    };
    let help = if message.contains("unknown field") {
        Some("remove the key or fix its spelling; the accepted keys are listed above".to_owned())
    } else if message.contains("missing field") {
        Some("add the field; see environments/development.yaml for a complete example".to_owned())
    } else if message.contains("unknown variant") {
        Some("use one of the values listed above".to_owned())
    } else {
        None
    };
    let position = error.location().map(|l| super::locate::Position {
        line: l.line(),
        column: l.column(),
    });
    let field = match position {
        Some(p) if !message.contains("unknown field") && !message.contains("missing field") => {
            let prefix = if field.starts_with('(') { "" } else { field.as_str() };
            SourceMap::build(text).key_on_line(prefix, p.line).unwrap_or(field)
        }
        _ => field,
    };
    Problem {
        field,
        message,
        help,
        position,
        source_line: position.and_then(|p| source_line(text, p.line)),
    }
}

fn source_line(text: &str, line: usize) -> Option<String> {
    text.lines().nth(line.checked_sub(1)?).map(str::to_owned)
}
