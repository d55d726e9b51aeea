//! Runs a step graph: every step whose predecessors finished starts, up to `parallelism` at
//! once, longest remaining chain first. On the first failure nothing new starts, the steps in
//! flight finish, and everything not started is reported as skipped. The executor never
//! prints: it reports events, and `ui` renders them.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};

use super::graph::{Step, StepGraph, StepKind};
use crate::error_chain::error_chain;
use crate::model::{Id, Kind, Ref};

/// What happened to a step, for progress display and JSON event streams.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Started {
        id: Id,
        kind: Kind,
        step: StepKind,
    },
    Waiting {
        id: Id,
        what: String,
    },
    Finished {
        id: Id,
        kind: Kind,
        step: StepKind,
        physical_id: Option<String>,
        seconds: f64,
    },
    Failed {
        id: Id,
        kind: Kind,
        step: StepKind,
        error: String,
        seconds: f64,
    },
    Skipped {
        id: Id,
        kind: Kind,
        step: StepKind,
    },
}

pub trait Reporter: Sync {
    fn report(&self, event: Event);
}

/// Handed to a running step so it can say what it is waiting for.
#[derive(Clone, Copy)]
pub struct Progress<'a> {
    id: &'a Id,
    reporter: &'a dyn Reporter,
}

impl Progress<'_> {
    pub fn waiting(&self, what: impl Into<String>) {
        self.reporter.report(Event::Waiting {
            id: self.id.clone(),
            what: what.into(),
        });
    }
}

/// Physical ids of this environment's resources, by logical id, as known when a step starts.
#[derive(Debug, Clone, Default)]
pub struct Resolved(BTreeMap<Id, String>);

#[derive(Debug, thiserror::Error)]
#[error("{0} has no AWS id yet (it was not created)")]
pub struct Unresolved(pub Id);

impl Resolved {
    pub fn new(map: BTreeMap<Id, String>) -> Self {
        Self(map)
    }

    /// The AWS id a reference stands for.
    pub fn physical(&self, reference: &Ref) -> Result<String, Unresolved> {
        match reference {
            Ref::Managed(id) => self.0.get(id).cloned().ok_or_else(|| Unresolved(id.clone())),
            Ref::External(physical) => Ok(physical.clone()),
        }
    }

    /// The AWS ids of several references, in their order.
    pub fn physical_all<'r>(&self, references: impl IntoIterator<Item = &'r Ref>) -> Result<Vec<String>, Unresolved> {
        references.into_iter().map(|r| self.physical(r)).collect()
    }
}

/// Carries out single steps against the real world.
pub trait Operator {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Performs one step; returns the new physical id for creates.
    fn execute<'a>(
        &'a self,
        step: &'a Step<'a>,
        resolved: Resolved,
        progress: Progress<'a>,
    ) -> impl Future<Output = Result<Option<String>, Self::Error>> + 'a;
}

#[derive(Debug, Default)]
pub struct Outcome {
    pub completed: usize,
    pub failed: Vec<(Id, StepKind, String)>,
    pub skipped: usize,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        self.failed.is_empty() && self.skipped == 0
    }
}

/// Runs every step of `graph`. `known` holds the physical ids of resources that already exist.
pub async fn execute<'g, O: Operator>(
    graph: &'g StepGraph<'g>,
    operator: &'g O,
    known: BTreeMap<Id, String>,
    parallelism: usize,
    reporter: &'g dyn Reporter,
) -> Outcome {
    let parallelism = parallelism.max(1);
    let priority = graph.critical_path_seconds();
    let count = graph.steps.len();
    let mut resolved = known;
    let mut waiting_on: Vec<usize> = graph.steps.iter().map(|s| s.after.len()).collect();
    let mut started = vec![false; count];
    let mut outcome = Outcome::default();
    let mut in_flight = FuturesUnordered::new();

    loop {
        if outcome.failed.is_empty() {
            let mut ready: Vec<usize> = (0..count).filter(|&i| !started[i] && waiting_on[i] == 0).collect();
            ready.sort_by_key(|&i| (std::cmp::Reverse(priority[i]), i));
            for i in ready.into_iter().take(parallelism.saturating_sub(in_flight.len())) {
                started[i] = true;
                let step = &graph.steps[i];
                reporter.report(Event::Started {
                    id: step.id.clone(),
                    kind: step.change.kind,
                    step: step.kind,
                });
                let progress = Progress { id: &step.id, reporter };
                let snapshot = Resolved(resolved.clone());
                in_flight.push(async move {
                    let start = Instant::now();
                    let result = operator.execute(step, snapshot, progress).await;
                    (i, result, start.elapsed())
                });
            }
        }
        let Some((i, result, elapsed)) = in_flight.next().await else {
            break;
        };
        let step = &graph.steps[i];
        match result {
            Ok(physical_id) => {
                match (step.kind, &physical_id) {
                    (StepKind::Create, Some(physical)) => {
                        resolved.insert(step.id.clone(), physical.clone());
                    }
                    // Unless the id already stands for a new incarnation created first.
                    (StepKind::Delete, _)
                        if step.change.observed.as_ref().map(|o| &o.physical_id) == resolved.get(&step.id) =>
                    {
                        resolved.remove(&step.id);
                    }
                    _ => {}
                }
                outcome.completed += 1;
                for (j, other) in graph.steps.iter().enumerate() {
                    if other.after.contains(&i) {
                        waiting_on[j] -= 1;
                    }
                }
                reporter.report(Event::Finished {
                    id: step.id.clone(),
                    kind: step.change.kind,
                    step: step.kind,
                    physical_id,
                    seconds: seconds(elapsed),
                });
            }
            Err(error) => {
                let message = error_chain(&error);
                reporter.report(Event::Failed {
                    id: step.id.clone(),
                    kind: step.change.kind,
                    step: step.kind,
                    error: message.clone(),
                    seconds: seconds(elapsed),
                });
                outcome.failed.push((step.id.clone(), step.kind, message));
            }
        }
    }
    for (i, step) in graph.steps.iter().enumerate() {
        if !started[i] {
            outcome.skipped += 1;
            reporter.report(Event::Skipped {
                id: step.id.clone(),
                kind: step.change.kind,
                step: step.kind,
            });
        }
    }
    outcome
}

fn seconds(elapsed: Duration) -> f64 {
    (elapsed.as_secs_f64() * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_environment;
    use crate::model::desired;
    use std::sync::Mutex;

    /// Records events; a test reporter, not a stand-in for AWS.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<Event>>);

    impl Reporter for Recorder {
        fn report(&self, event: Event) {
            self.0.lock().unwrap().push(event);
        }
    }

    /// Completes steps after a short sleep, failing the ones named; tracks peak concurrency.
    struct Scripted {
        fail: Option<&'static str>,
        running: Mutex<(usize, usize)>,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("scripted failure")]
    struct ScriptedError;

    impl Operator for Scripted {
        type Error = ScriptedError;

        async fn execute<'a>(
            &'a self,
            step: &'a Step<'a>,
            resolved: Resolved,
            _progress: Progress<'a>,
        ) -> Result<Option<String>, ScriptedError> {
            if let Some(desired) = &step.change.desired {
                for reference in desired.spec.references() {
                    resolved
                        .physical(reference.target)
                        .expect("dependencies resolved before start");
                }
            }
            {
                let mut running = self.running.lock().unwrap();
                running.0 += 1;
                running.1 = running.1.max(running.0);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            self.running.lock().unwrap().0 -= 1;
            if self.fail == Some(step.id.as_str()) {
                return Err(ScriptedError);
            }
            Ok(Some(format!("aws-{}", step.id)))
        }
    }

    fn staging_plan() -> crate::plan::Plan {
        let config = parse_environment(include_str!("../../environments/staging.yaml"), "staging").unwrap();
        let desired = desired(&config, &crate::model::example_facts(2)).unwrap();
        crate::plan::plan(&desired, &[])
    }

    #[tokio::test]
    async fn runs_every_step_within_the_parallelism_bound() {
        let plan = staging_plan();
        let graph = StepGraph::new(&plan).unwrap();
        let operator = Scripted {
            fail: None,
            running: Mutex::new((0, 0)),
        };
        let recorder = Recorder::default();
        let outcome = execute(&graph, &operator, BTreeMap::new(), 3, &recorder).await;
        assert!(outcome.succeeded());
        assert_eq!(outcome.completed, plan.changes.len());
        let peak = operator.running.lock().unwrap().1;
        assert!((2..=3).contains(&peak), "peak concurrency {peak}");
    }

    #[tokio::test]
    async fn failure_stops_new_work_and_skips_the_rest() {
        let plan = staging_plan();
        let graph = StepGraph::new(&plan).unwrap();
        let operator = Scripted {
            fail: Some("vpc"),
            running: Mutex::new((0, 0)),
        };
        let recorder = Recorder::default();
        let outcome = execute(&graph, &operator, BTreeMap::new(), 10, &recorder).await;
        assert_eq!(
            outcome.failed,
            [(Id::from("vpc"), StepKind::Create, "scripted failure".to_owned())]
        );
        let events = recorder.0.lock().unwrap();
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, Event::Started { id, .. } if id.as_str() == "subnet-public-a"))
        );
        assert_eq!(outcome.completed + outcome.skipped + 1, plan.changes.len());
        assert!(outcome.skipped > 10);
    }
}
