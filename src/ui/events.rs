//! The whole `--json` vocabulary of the commands that stream events (`apply`, `destroy`,
//! `rollback`): one JSON object per line, each with an `event` key. A stream opens with
//! `version` (its `format_version`) and closes with `run_finished`, also when the run fails,
//! so a pipeline can tell a finished run from a killed one without parsing text. Documented in
//! the README; `format_version` changes when an event or a field is removed or renamed.

use serde::Serialize;

use crate::apply::Event;
use crate::aws::Hold;
use crate::model::Outputs;

/// Of the event stream; the plan inside a `plan` event has its own (`plan::FORMAT_VERSION`).
pub const EVENTS_FORMAT_VERSION: &str = "1.0";

/// One line of an event stream.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RunEvent<'a> {
    /// The first line: what follows and who wrote it.
    Version {
        format_version: &'static str,
        deployer: &'static str,
        command: &'a str,
    },
    /// The image pushed last, which the environment runs (no `app.image`, no `--image`).
    Image {
        image: &'a str,
        tags: &'a [String],
        pushed_at: Option<&'a str>,
    },
    /// A rollback holds the environment at this image.
    Held { hold: &'a Hold, since: String },
    /// A newer Amazon Linux AMI than the instances run, kept back.
    NewerImage { image: &'a str, running: &'a str },
    /// The plan about to be carried out, as `plan --json` prints it.
    Plan { plan: serde_json::Value },
    /// A stage of `apply --build`'s image build and push.
    PushStage { stage: &'a str },
    /// The image built and pushed, by digest.
    Pushed {
        environment: &'a str,
        repository: &'a str,
        pushed: &'a str,
        image: &'a str,
        digest: &'a str,
        tag: &'a str,
        engine: &'a str,
    },
    /// The environment's outputs after an apply.
    Outputs { outputs: &'a Outputs },
    /// What a destroy deleted (`count` 0: nothing was deployed).
    Destroyed { environment: &'a str, count: usize },
    /// The last line: how the run ended, with the exit status `deployer` returns and, when it
    /// failed, the error as it is printed on stderr.
    RunFinished {
        success: bool,
        exit_code: u8,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A step of the plan started, waited, finished, failed or was skipped: the step's own
    /// event name (`started`, `waiting`, …) and fields.
    #[serde(untagged)]
    Step(&'a Event),
}

impl RunEvent<'_> {
    /// The event as one line of JSON.
    pub fn line(&self) -> String {
        serde_json::to_string(self).expect("events serialize")
    }
}

/// Prints one event line on stdout.
pub fn emit(event: &RunEvent<'_>) {
    println!("{}", event.line());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::StepKind;
    use crate::model::{Id, Kind};

    #[test]
    fn a_step_event_keeps_its_own_name_and_the_stream_is_framed() {
        let step = Event::Started {
            id: Id::from("vpc"),
            kind: Kind::Vpc,
            step: StepKind::Create,
        };
        let line: serde_json::Value = serde_json::from_str(&RunEvent::Step(&step).line()).unwrap();
        assert_eq!(line["event"], "started");
        assert_eq!(line["id"], "vpc");
        let first: serde_json::Value = serde_json::from_str(
            &RunEvent::Version {
                format_version: EVENTS_FORMAT_VERSION,
                deployer: "0.0.0",
                command: "apply",
            }
            .line(),
        )
        .unwrap();
        assert_eq!(first["event"], "version");
        assert_eq!(first["format_version"], EVENTS_FORMAT_VERSION);
        let last: serde_json::Value = serde_json::from_str(
            &RunEvent::RunFinished {
                success: false,
                exit_code: 1,
                error: Some("apply of development stopped".into()),
            }
            .line(),
        )
        .unwrap();
        assert_eq!(
            last,
            serde_json::json!({"event": "run_finished", "success": false, "exit_code": 1, "error": "apply of development stopped"})
        );
    }
}
