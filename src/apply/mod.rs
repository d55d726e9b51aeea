//! Applying a plan: the step graph, and the executor that walks it.

mod executor;
mod graph;
mod timeline;

pub use executor::{Event, Operator, Outcome, Progress, Reporter, Resolved, Unresolved, execute};
pub use graph::{CycleError, Step, StepGraph, StepKind};
pub use timeline::{TimedStep, Timeline, TimelineRecorder, step_name};
