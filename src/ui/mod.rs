//! Everything users see: progress, prompts, colour switches, and each command's result. The
//! engine reports events and commands return results; this module decides how they look, and
//! is (with `main`) the only one that writes to the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod events;
pub mod graph;
mod progress;
mod prompt;
mod push;
pub mod report;

pub use progress::{StepReporter, Style};
pub use prompt::{Confirmation, confirm};
pub use push::{PushProgress, pushed};

use std::io::IsTerminal;

/// Turns colours off for --no-color, NO_COLOR, or output that is not a terminal.
pub fn configure_colors(no_color: bool) {
    let disabled = no_color || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    if disabled {
        console::set_colors_enabled(false);
        console::set_colors_enabled_stderr(false);
    } else {
        console::set_colors_enabled(std::io::stdout().is_terminal());
        console::set_colors_enabled_stderr(std::io::stderr().is_terminal());
    }
}

pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// Spinners on a terminal, plain lines elsewhere, JSON lines with --json.
pub fn progress_style(json: bool) -> Style {
    if json {
        Style::Json
    } else if stdout_is_terminal() {
        Style::Bars
    } else {
        Style::Lines
    }
}
