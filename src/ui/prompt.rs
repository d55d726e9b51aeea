//! Asking for confirmation on a terminal.

use std::io::{BufRead, Write};

/// What the user must type to go ahead.
pub enum Confirmation<'a> {
    /// `yes`.
    Yes,
    /// The environment's name, for destroying something protected.
    Name(&'a str),
}

/// Asks on stderr and reads one line from stdin; true when the expected answer was typed.
pub fn confirm(question: &str, expected: Confirmation<'_>) -> std::io::Result<bool> {
    let wanted = match expected {
        Confirmation::Yes => "yes",
        Confirmation::Name(name) => name,
    };
    let mut stderr = std::io::stderr().lock();
    write!(
        stderr,
        "{question}\n  Only '{wanted}' will be accepted.\n\n  Enter a value: "
    )?;
    stderr.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == wanted)
}
