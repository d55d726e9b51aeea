//! `push` as people watch it: a spinner naming the stage and the engine's latest line on a
//! terminal; every stage and engine line in logs; stage events with --json.

use std::io::Write;
use std::sync::Mutex;

use console::style;
use indicatif::{ProgressBar, ProgressStyle};

use super::Style;
use super::events::RunEvent;
use super::progress::TICK;
use crate::ops::{PushEvent, Pushed};

pub struct PushProgress {
    style: Style,
    bar: Option<ProgressBar>,
    stage: Mutex<String>,
}

impl PushProgress {
    pub fn new(style: Style) -> Self {
        let bar = (style == Style::Bars).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner:.cyan} {prefix} [{elapsed}] {wide_msg:.dim}")
                    .expect("valid template"),
            );
            bar.enable_steady_tick(TICK);
            bar
        });
        Self {
            style,
            bar,
            stage: Mutex::new(String::new()),
        }
    }

    pub fn event(&self, event: PushEvent<'_>) {
        let mut out = std::io::stdout().lock();
        match (self.style, event) {
            (Style::Bars, PushEvent::Stage(stage)) => {
                if let Some(bar) = &self.bar {
                    let mut previous = self.stage.lock().expect("push progress lock");
                    if !previous.is_empty() {
                        bar.println(format!("{} {previous}", style("✓").green()));
                    }
                    stage.clone_into(&mut previous);
                    bar.set_prefix(stage.to_owned());
                    bar.set_message("");
                }
            }
            (Style::Bars, PushEvent::Output(line)) => {
                if let Some(bar) = &self.bar {
                    bar.set_message(line.trim().to_owned());
                }
            }
            (Style::Lines, PushEvent::Stage(stage)) => {
                let _ = writeln!(out, "push: {stage}");
            }
            (Style::Lines, PushEvent::Output(line)) => {
                let _ = writeln!(out, "  | {line}");
            }
            (Style::Json, PushEvent::Stage(stage)) => {
                let _ = writeln!(out, "{}", RunEvent::PushStage { stage }.line());
            }
            (Style::Json, PushEvent::Output(_)) => {}
        }
    }

    /// Clears the spinner, whatever the outcome.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// What was pushed, and how the environment will run it.
pub fn pushed(pushed: &Pushed, output: Style) {
    if output == Style::Json {
        super::events::emit(&RunEvent::Pushed {
            environment: &pushed.environment,
            repository: &pushed.repository,
            pushed: &pushed.pushed,
            image: &pushed.image,
            digest: &pushed.digest,
            tag: &pushed.tag,
            engine: pushed.engine.program(),
        });
        return;
    }
    if pushed.created_repository {
        println!("Created the repository {}.", pushed.repository);
    }
    println!(
        "{} pushed with {}\n  {}\n  tag {}",
        style("✓").green(),
        pushed.engine,
        style(&pushed.pushed).bold(),
        pushed.tag
    );
    if pushed.image != pushed.pushed {
        println!("  the environment runs it as {}", pushed.image);
    }
    if !pushed.login_in_memory {
        println!(
            "  note: no memory-backed directory here; the registry login was kept in a private temporary directory, now deleted"
        );
    }
}
