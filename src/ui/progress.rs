//! Progress of running steps: a spinner per resource on a terminal, plain lines otherwise,
//! or JSON lines with --json.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use console::style;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::apply::{Event, Reporter, StepKind};
use crate::model::Id;

/// Spinner redraw rate: smooth enough to show liveness, cheap on a slow terminal.
pub(super) const TICK: Duration = Duration::from_millis(120);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Spinners with elapsed time (stdout is a terminal).
    Bars,
    /// One line per event (logs, CI).
    Lines,
    /// One JSON object per event.
    Json,
}

pub struct StepReporter {
    style: Style,
    bars: MultiProgress,
    running: Mutex<HashMap<Id, ProgressBar>>,
}

impl StepReporter {
    pub fn new(style: Style) -> Self {
        Self {
            style,
            bars: MultiProgress::new(),
            running: Mutex::new(HashMap::new()),
        }
    }

    fn line(&self, text: String) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
    }
}

fn doing(step: StepKind) -> &'static str {
    match step {
        StepKind::Create => "creating",
        StepKind::Update => "updating",
        StepKind::Delete => "destroying",
    }
}

fn done(step: StepKind) -> &'static str {
    match step {
        StepKind::Create => "created",
        StepKind::Update => "updated",
        StepKind::Delete => "destroyed",
    }
}

impl Reporter for StepReporter {
    fn report(&self, event: Event) {
        match self.style {
            Style::Json => self.line(super::events::RunEvent::Step(&event).line()),
            Style::Lines => self.line(match &event {
                Event::Started { id, kind, step } => format!("{kind} {id}: {}...", doing(*step)),
                Event::Waiting { id, what } => format!("{id}: waiting for {what}"),
                Event::Finished {
                    id,
                    kind,
                    step,
                    physical_id,
                    seconds,
                } => {
                    let physical = physical_id.as_ref().map(|p| format!(" [id={p}]")).unwrap_or_default();
                    format!("{kind} {id}: {} after {seconds:.1}s{physical}", done(*step))
                }
                Event::Failed {
                    id,
                    kind,
                    step,
                    error,
                    seconds,
                } => {
                    format!("{kind} {id}: {} failed after {seconds:.1}s: {error}", doing(*step))
                }
                Event::Skipped { id, kind, step } => {
                    format!("{kind} {id}: not {} (stopped after an error)", done(*step))
                }
            }),
            Style::Bars => self.bar_event(event),
        }
    }
}

impl StepReporter {
    fn bar_event(&self, event: Event) {
        let mut running = self.running.lock().expect("progress lock");
        match event {
            Event::Started { id, kind, step } => {
                let bar = self.bars.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner:.cyan} {prefix} [{elapsed}] {wide_msg:.dim}")
                        .expect("valid template"),
                );
                bar.set_prefix(format!("{} {kind} {}", doing(step), style(&id).bold()));
                bar.enable_steady_tick(TICK);
                running.insert(id, bar);
            }
            Event::Waiting { id, what } => {
                if let Some(bar) = running.get(&id) {
                    bar.set_message(format!("waiting for {what}"));
                }
            }
            Event::Finished {
                id,
                kind,
                step,
                physical_id,
                seconds,
            } => {
                if let Some(bar) = running.remove(&id) {
                    bar.set_style(ProgressStyle::with_template("{prefix} {wide_msg:.dim}").expect("valid template"));
                    let physical = physical_id.map(|p| format!(" [id={p}]")).unwrap_or_default();
                    bar.set_prefix(format!(
                        "{} {} {kind} {}",
                        style("✓").green(),
                        done(step),
                        style(&id).bold()
                    ));
                    bar.finish_with_message(format!("{seconds:.1}s{physical}"));
                }
            }
            Event::Failed {
                id,
                kind,
                step,
                error,
                seconds,
            } => {
                if let Some(bar) = running.remove(&id) {
                    bar.set_style(ProgressStyle::with_template("{prefix} {wide_msg}").expect("valid template"));
                    bar.set_prefix(format!(
                        "{} {} {kind} {}",
                        style("✗").red(),
                        doing(step),
                        style(&id).bold()
                    ));
                    bar.finish_with_message(format!(
                        "failed after {seconds:.1}s: {}",
                        error.lines().next().unwrap_or_default()
                    ));
                }
            }
            Event::Skipped { .. } => {}
        }
    }
}
