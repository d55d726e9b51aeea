//! Maps a field path such as `network.public_subnets[1]` to its line and column in the YAML
//! text, so errors found after deserializing (desired > max, overlapping subnets) can still
//! point at the offending spot. serde_yaml keeps no spans, so this walks yaml-rust2's events.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};

/// Deeper than any environment file needs (it nests four levels).
pub(super) const MAX_DEPTH: usize = 16;

/// Refuses what no environment file needs and a parser pays dearly for: aliases (a 1 MB file of
/// aliases of aliases expands to gigabytes) and nesting deeper than `MAX_DEPTH` (serde_yaml
/// takes quadratic time on deep flow nesting). Walks yaml-rust2's events, stopping at the
/// first offence; a syntax error is left to serde_yaml, which words it better.
pub(super) fn check_shape(text: &str) -> Result<(), Box<super::error::Problem>> {
    let too_deep = |position| {
        let mut problem = super::error::Problem::new("(document)", format!("nested more than {MAX_DEPTH} levels deep"))
            .help("environment files nest a few levels: check the brackets");
        problem.position = position;
        Err(Box::new(problem))
    };
    let mut parser = Parser::new_from_str(text);
    let mut depth = 0usize;
    loop {
        let (event, marker) = match parser.next_token() {
            Ok(next) => next,
            // The scanner reads flow brackets ahead of the events and gives up at 256 levels.
            Err(error) if error.info().contains("recursion limit") => {
                return too_deep(Some(Position {
                    line: error.marker().line(),
                    column: error.marker().col() + 1,
                }));
            }
            Err(_) => break,
        };
        let position = Some(Position {
            line: marker.line(),
            column: marker.col() + 1,
        });
        match event {
            Event::StreamEnd => break,
            Event::Alias(_) => {
                let mut problem = super::error::Problem::new("(document)", "YAML aliases (`*name`) are not accepted")
                    .help("write the value out where it is used; environment files refuse anchors and aliases");
                problem.position = position;
                return Err(Box::new(problem));
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return too_deep(position);
                }
            }
            Event::MappingEnd | Event::SequenceEnd => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// Positions of every key and sequence item in one document.
#[derive(Debug, Default)]
pub(super) struct SourceMap {
    positions: HashMap<String, Position>,
}

enum Frame {
    Mapping { path: String, pending_key: Option<String> },
    Sequence { path: String, next_index: usize },
}

impl SourceMap {
    /// Builds the map; a document that does not parse yields an empty map (serde_yaml reports
    /// the syntax error itself).
    pub(super) fn build(text: &str) -> Self {
        let mut positions = HashMap::new();
        let mut stack: Vec<Frame> = Vec::new();
        let mut parser = Parser::new_from_str(text);
        while let Ok((event, marker)) = parser.next_token() {
            let position = Position {
                line: marker.line(),
                column: marker.col() + 1,
            };
            match event {
                Event::StreamEnd => break,
                Event::Scalar(value, ..) => {
                    if let Some(Frame::Mapping {
                        path,
                        pending_key: pending @ None,
                    }) = stack.last_mut()
                    {
                        let key_path = join(path, &value);
                        positions.insert(key_path, position);
                        *pending = Some(value);
                        continue;
                    }
                    child_path(&mut stack, &mut positions, position);
                }
                Event::Alias(_) => {
                    child_path(&mut stack, &mut positions, position);
                }
                Event::MappingStart(..) => {
                    let path = child_path(&mut stack, &mut positions, position).unwrap_or_default();
                    stack.push(Frame::Mapping {
                        path,
                        pending_key: None,
                    });
                }
                Event::SequenceStart(..) => {
                    let path = child_path(&mut stack, &mut positions, position).unwrap_or_default();
                    stack.push(Frame::Sequence { path, next_index: 0 });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                }
                _ => {}
            }
        }
        Self { positions }
    }

    /// The deepest key under `prefix` written on `line`: serde_yaml names only the enclosing
    /// mapping (`network`) of a bad value, this finds the field itself (`network.cidr`).
    pub(super) fn key_on_line(&self, prefix: &str, line: usize) -> Option<String> {
        self.positions
            .iter()
            .filter(|(path, position)| {
                position.line == line
                    && (prefix.is_empty() || path.starts_with(&format!("{prefix}.")) || path.as_str() == prefix)
            })
            .map(|(path, _)| path.clone())
            .max_by_key(String::len)
    }

    /// The position of `path`, or of its nearest ancestor that exists in the file (a field that
    /// took its default value points at the section that omitted it).
    pub(super) fn position(&self, path: &str) -> Option<Position> {
        let mut path = path;
        loop {
            if let Some(position) = self.positions.get(path) {
                return Some(*position);
            }
            let cut = path.rfind(['.', '['])?;
            path = &path[..cut];
        }
    }
}

/// Consumes the value slot of the innermost collection and returns the path of that value.
/// Records sequence items' positions (mapping keys are recorded where the key is read).
fn child_path(stack: &mut [Frame], positions: &mut HashMap<String, Position>, at: Position) -> Option<String> {
    match stack.last_mut()? {
        Frame::Mapping { path, pending_key } => pending_key.take().map(|key| join(path, &key)),
        Frame::Sequence { path, next_index } => {
            let item = format!("{path}[{next_index}]");
            *next_index += 1;
            positions.insert(item.clone(), at);
            Some(item)
        }
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "name: x\nnetwork:\n  cidr: 10.0.0.0/16\n  public_subnets:\n    - 10.0.0.0/24\n    - 10.0.1.0/24\ncompute:\n  desired: 3\n";

    #[test]
    fn finds_nested_keys_and_sequence_items() {
        let map = SourceMap::build(DOC);
        assert_eq!(map.position("name"), Some(Position { line: 1, column: 1 }));
        assert_eq!(map.position("network.cidr"), Some(Position { line: 3, column: 3 }));
        assert_eq!(
            map.position("network.public_subnets[1]"),
            Some(Position { line: 6, column: 7 })
        );
        assert_eq!(map.position("compute.desired"), Some(Position { line: 8, column: 3 }));
    }

    #[test]
    fn missing_field_points_at_nearest_ancestor() {
        let map = SourceMap::build(DOC);
        assert_eq!(map.position("compute.max"), Some(Position { line: 7, column: 1 }));
        assert_eq!(map.position("database.instances"), None);
    }
}
