//! Applying a plan: the step graph, and the executor that walks it.

mod executor;
mod graph;

pub use executor::{Event, Operator, Outcome, Progress, Reporter, Resolved, Unresolved, execute};
pub use graph::{CycleError, Step, StepGraph, StepKind};
