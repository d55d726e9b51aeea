//! Everything users see while a command runs: progress, prompts, colour switches. The engine
//! reports events; this module decides how they look.

mod progress;
mod prompt;

pub use progress::{StepReporter, Style};
pub use prompt::{Confirmation, confirm};

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
