//! `graph`: an environment's dependency graph (what waits for what when it is built from
//! nothing), or an apply's recorded timeline, as data for `ui` to draw.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result};

use crate::apply::{StepGraph, Timeline, step_name};
use crate::config::load_environment;
use crate::model::{desired, stand_in_facts};
use crate::plan::plan;

/// One box of the drawing.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Unique: the step's name, e.g. `create vpc`.
    pub name: String,
    /// `kind id`.
    pub label: String,
    /// `~120 s` (typical on AWS), or `2.1 s → 9.4 s` (as recorded).
    pub detail: String,
    pub critical: bool,
    pub failed: bool,
}

/// A dependency graph: `edges` go from what must finish first to what waits for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagram {
    pub title: String,
    pub nodes: Vec<Node>,
    pub edges: Vec<(String, String)>,
    /// The critical path's length and what it is measured in.
    pub summary: String,
}

impl Diagram {
    pub fn is_critical_edge(&self, from: &str, to: &str) -> bool {
        let critical = |name: &str| self.nodes.iter().any(|n| n.name == name && n.critical);
        critical(from) && critical(to)
    }
}

/// The environment's resources as they would be created, with the chain that AWS's typical
/// creation times make longest. Needs no AWS: the structure comes from the file alone.
pub fn environment_graph(environments: &Path, environment: &str) -> Result<Diagram> {
    let config = load_environment(environments, environment)?.config;
    let desired = desired(&config, &stand_in_facts(&config))?;
    let plan = plan(&desired, &[]);
    let graph = StepGraph::new(&plan)?;
    let tails = graph.critical_path_seconds();
    let critical = longest_chain(&graph, &tails);
    let names: Vec<String> = graph.steps.iter().map(|s| step_name(s.kind, &s.id)).collect();
    let nodes = graph
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| Node {
            name: names[i].clone(),
            label: format!("{} {}", step.change.kind.name(), step.id),
            detail: format!("~{} s", step.change.kind.typical_seconds()),
            critical: critical.contains(&i),
            failed: false,
        })
        .collect();
    let edges = graph
        .steps
        .iter()
        .enumerate()
        .flat_map(|(i, step)| step.after.iter().map(move |&j| (j, i)))
        .map(|(from, to)| (names[from].clone(), names[to].clone()))
        .collect();
    let longest = critical
        .iter()
        .map(|&i| graph.steps[i].change.kind.typical_seconds())
        .sum::<u32>();
    Ok(Diagram {
        title: format!("{environment}: {} resources", graph.steps.len()),
        nodes,
        edges,
        summary: format!(
            "critical path: {} steps, ~{longest} s on AWS at typical creation times",
            critical.len()
        ),
    })
}

/// From the step with the longest tail, each time the successor whose tail is longest.
fn longest_chain(graph: &StepGraph<'_>, tails: &[u32]) -> BTreeSet<usize> {
    let mut chain = BTreeSet::new();
    let roots = (0..graph.steps.len()).filter(|&i| graph.steps[i].after.is_empty());
    let Some(mut current) = roots.max_by_key(|&i| tails[i]) else {
        return chain;
    };
    chain.insert(current);
    while let Some(next) = (0..graph.steps.len())
        .filter(|&j| graph.steps[j].after.contains(&current))
        .max_by_key(|&j| tails[j])
    {
        chain.insert(next);
        current = next;
    }
    chain
}

pub fn read_timeline(path: &Path) -> Result<Timeline> {
    let text = std::fs::read_to_string(path).with_context(|| format!("could not read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a timeline written by `deployer apply ENV --timeline FILE`",
            path.display()
        )
    })
}

pub fn write_timeline(timeline: &Timeline, path: &Path) -> Result<()> {
    let text = serde_json::to_string_pretty(timeline)?;
    std::fs::write(path, text + "\n").with_context(|| format!("could not write the timeline to {}", path.display()))
}

/// An apply as it ran, its critical path marked.
pub fn timeline_graph(timeline: &Timeline) -> Diagram {
    let path = timeline.critical_path();
    let critical: Vec<&str> = path.iter().map(|s| s.name.as_str()).collect();
    let nodes = timeline
        .steps
        .iter()
        .map(|step| Node {
            name: step.name.clone(),
            label: format!("{} {}", step.kind, step.name),
            detail: format!("{:.1} s → {:.1} s", step.start, step.end),
            critical: critical.contains(&step.name.as_str()),
            failed: step.failed,
        })
        .collect();
    let ran: BTreeSet<&str> = timeline.steps.iter().map(|s| s.name.as_str()).collect();
    let edges = timeline
        .steps
        .iter()
        .flat_map(|step| {
            step.after
                .iter()
                .filter(|from| ran.contains(from.as_str()))
                .map(|from| (from.clone(), step.name.clone()))
        })
        .collect();
    let path_seconds = path.last().map_or(0.0, |s| s.end);
    Diagram {
        title: format!("{}: apply of {} steps", timeline.environment, timeline.steps.len()),
        nodes,
        edges,
        summary: format!(
            "critical path: {} steps ending at {path_seconds:.1} s; the apply took {:.1} s",
            critical.len(),
            timeline.total
        ),
    }
}
