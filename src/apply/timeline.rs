//! When each step of an apply started and ended, and the chain of steps that set its length:
//! recorded by `apply --timeline FILE`, drawn by `graph --timeline FILE`.

use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::executor::{Event, Reporter};
use super::graph::{StepGraph, StepKind};

/// One step as it ran; times in seconds from the start of the apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimedStep {
    /// `<step> <id>`, e.g. `create nat-gateway-a`: unique within an apply.
    pub name: String,
    pub kind: String,
    pub start: f64,
    pub end: f64,
    pub failed: bool,
    /// The steps this one waited for (their names).
    pub after: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    pub environment: String,
    /// Wall time of the whole apply, seconds.
    pub total: f64,
    pub steps: Vec<TimedStep>,
}

pub fn step_name(step: StepKind, id: &impl std::fmt::Display) -> String {
    let verb = match step {
        StepKind::Create => "create",
        StepKind::Update => "update",
        StepKind::Delete => "delete",
    };
    format!("{verb} {id}")
}

impl Timeline {
    /// The chain that ended last, walked back through the dependency that finished last each
    /// time: what to shorten to make the apply shorter. First step first.
    pub fn critical_path(&self) -> Vec<&TimedStep> {
        let by_name = |name: &str| self.steps.iter().find(|s| s.name == name);
        let Some(mut current) = self.steps.iter().max_by(|a, b| a.end.total_cmp(&b.end)) else {
            return Vec::new();
        };
        let mut path = vec![current];
        while let Some(previous) = current
            .after
            .iter()
            .filter_map(|name| by_name(name))
            .max_by(|a, b| a.end.total_cmp(&b.end))
        {
            path.push(previous);
            current = previous;
        }
        path.reverse();
        path
    }
}

/// A reporter that passes every event on and notes when each step started and ended.
pub struct TimelineRecorder<'a> {
    inner: &'a dyn Reporter,
    began: Instant,
    started: Mutex<Vec<(String, f64)>>,
    ended: Mutex<Vec<(String, String, f64, bool)>>,
}

impl<'a> TimelineRecorder<'a> {
    pub fn new(inner: &'a dyn Reporter) -> Self {
        Self {
            inner,
            began: Instant::now(),
            started: Mutex::new(Vec::new()),
            ended: Mutex::new(Vec::new()),
        }
    }

    /// The steps that ran, with what each waited for as `graph` has it.
    pub fn finish(self, environment: &str, graph: &StepGraph<'_>) -> Timeline {
        let total = self.began.elapsed().as_secs_f64();
        let started = self.started.into_inner().unwrap_or_else(|e| e.into_inner());
        let ended = self.ended.into_inner().unwrap_or_else(|e| e.into_inner());
        let names: Vec<String> = graph.steps.iter().map(|s| step_name(s.kind, &s.id)).collect();
        let steps = ended
            .into_iter()
            .filter_map(|(name, kind, end, failed)| {
                let start = started.iter().find(|(n, _)| *n == name)?.1;
                let index = names.iter().position(|n| *n == name)?;
                let after = graph.steps[index].after.iter().map(|&j| names[j].clone()).collect();
                Some(TimedStep {
                    name,
                    kind,
                    start,
                    end,
                    failed,
                    after,
                })
            })
            .collect();
        Timeline {
            environment: environment.to_owned(),
            total,
            steps,
        }
    }
}

impl Reporter for TimelineRecorder<'_> {
    fn report(&self, event: Event) {
        let now = self.began.elapsed().as_secs_f64();
        match &event {
            Event::Started { id, step, .. } => {
                if let Ok(mut started) = self.started.lock() {
                    started.push((step_name(*step, id), now));
                }
            }
            Event::Finished { id, kind, step, .. } | Event::Failed { id, kind, step, .. } => {
                if let Ok(mut ended) = self.ended.lock() {
                    let failed = matches!(event, Event::Failed { .. });
                    ended.push((step_name(*step, id), kind.name().to_owned(), now, failed));
                }
            }
            _ => {}
        }
        self.inner.report(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str, start: f64, end: f64, after: &[&str]) -> TimedStep {
        TimedStep {
            name: name.into(),
            kind: "k".into(),
            start,
            end,
            failed: false,
            after: after.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn the_critical_path_follows_the_dependency_that_finished_last() {
        let timeline = Timeline {
            environment: "staging".into(),
            total: 10.0,
            steps: vec![
                step("create vpc", 0.0, 1.0, &[]),
                step("create subnet-a", 1.0, 2.0, &["create vpc"]),
                step("create nat-eip-a", 0.0, 0.5, &[]),
                step(
                    "create nat-gateway-a",
                    2.0,
                    9.0,
                    &["create subnet-a", "create nat-eip-a"],
                ),
                step("create security-group-app", 1.0, 1.5, &["create vpc"]),
            ],
        };
        let path: Vec<&str> = timeline.critical_path().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(path, ["create vpc", "create subnet-a", "create nat-gateway-a"]);
    }
}
