//! Running an engine command: every line it prints goes to a callback as it comes, and the
//! last lines are kept for the error when it fails.

use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::sync::Mutex;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::Command;

use super::OnLine;

/// How many of its last lines a failed command shows.
const KEPT_LINES: usize = 25;

pub(super) struct Output {
    /// The last lines printed, stdout and stderr interleaved as they came.
    pub(super) lines: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("`{command}` {how}{}", last_lines(.lines))]
pub struct Failed {
    pub command: String,
    pub how: String,
    pub lines: Vec<String>,
}

impl Failed {
    pub fn last_line(&self) -> Option<&str> {
        self.lines.iter().rev().map(|l| l.trim()).find(|l| !l.is_empty())
    }
}

fn last_lines(lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    format!(
        "; its last lines:\n{}",
        lines.iter().map(|l| format!("  | {l}")).collect::<Vec<_>>().join("\n")
    )
}

pub(super) async fn run(
    program: &Path,
    args: &[&str],
    stdin: Option<&str>,
    on_line: OnLine<'_>,
) -> Result<Output, Failed> {
    let shown = format!("{} {}", program.display(), args.join(" "));
    let failed = |how: String, lines: Vec<String>| Failed {
        command: shown.clone(),
        how,
        lines,
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| failed(format!("could not start: {error}"), Vec::new()))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // Dropping the pipe afterwards closes it: the engine reads to end of file.
        pipe.write_all(text.as_bytes())
            .await
            .map_err(|error| failed(format!("did not take its input: {error}"), Vec::new()))?;
    }
    let kept = Mutex::new(VecDeque::with_capacity(KEPT_LINES));
    let keep = |line: String| {
        on_line(&line);
        let mut kept = kept.lock().expect("no panics while holding it");
        if kept.len() == KEPT_LINES {
            kept.pop_front();
        }
        kept.push_back(line);
    };
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    tokio::join!(read_lines(stdout, &keep), read_lines(stderr, &keep));
    let status = child
        .wait()
        .await
        .map_err(|error| failed(format!("could not be waited for: {error}"), Vec::new()))?;
    let lines: Vec<String> = kept.into_inner().expect("no panics while holding it").into();
    if status.success() {
        Ok(Output { lines })
    } else {
        Err(failed(format!("failed ({status})"), lines))
    }
}

async fn read_lines(pipe: impl AsyncRead + Unpin, keep: &impl Fn(String)) {
    let mut lines = BufReader::new(pipe).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        keep(line);
    }
}
