//! One way to wait, for every slow kind: poll a describe call with capped, jittered backoff
//! until done, timed out (`AwsError::WaitTimeout`, naming the last state seen), stopped in a
//! state that will not lead to done (`AwsError::FailedState`), or a failing describe call kept
//! as AWS reported it (an AccessDenied stays an AccessDenied).
//!
//! Not the SDK's waiters: they poll every 15 to 120 s (a NAT gateway ready after 61 s was
//! noticed up to two minutes late), say nothing of the state while they wait, and each kind's
//! waiter had its own idea of "not found yet".

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use super::error::AwsError;
use crate::apply::Progress;
use crate::model::Kind;

/// How long to wait for a resource of each kind, where the operator overrides the kind's
/// default (`--timeout nat_gateway=20m`).
#[derive(Debug, Clone, Default)]
pub struct Timeouts(BTreeMap<Kind, Duration>);

impl Timeouts {
    pub fn new(overrides: impl IntoIterator<Item = (Kind, Duration)>) -> Self {
        Self(overrides.into_iter().collect())
    }

    /// The override for `kind`, or its `default`.
    pub(crate) fn for_kind(&self, kind: Kind, default: Duration) -> Duration {
        self.0.get(&kind).copied().unwrap_or(default)
    }
}

/// What a wait is for: the resource ready to use, or gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Goal {
    Ready,
    Gone,
}

impl Goal {
    /// What the wait makes of a describe call that did not find the resource. Right after a
    /// create, AWS's describe calls may not see it for seconds (eventual consistency): that
    /// is neither done nor failed, and never a reason to create another one.
    pub(crate) fn absent(self) -> Check<()> {
        match self {
            Goal::Gone => Check::Done(()),
            Goal::Ready => Check::Pending("not visible yet".to_owned()),
        }
    }
}

/// First pause between polls: the emulator and fast resources are ready at once.
const FIRST_POLL_DELAY: Duration = Duration::from_secs(1);
/// Polls slow down to this: a slow resource is noticed within seconds, without hammering AWS.
const MAX_POLL_DELAY: Duration = Duration::from_secs(8);

/// Divides every pause between polls: `DEPLOYER_POLL_SCALE=50` polls fifty times as often.
/// For benchmarks that replay real AWS's pending times scaled down by the same factor, so the
/// waits keep their real proportions; 1 (real time) unless set.
fn poll_scale() -> u32 {
    static SCALE: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *SCALE.get_or_init(|| {
        std::env::var("DEPLOYER_POLL_SCALE")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|scale| *scale > 0)
            .unwrap_or(1)
    })
}

/// What one look at a resource found.
pub(crate) enum Check<T> {
    Done(T),
    /// Not yet; the text says what the resource is doing now, for progress.
    Pending(String),
    /// It will never get there; the text says what it is instead, and why if AWS says.
    Failed(String),
}

/// One wait on one resource: what for (said in progress and errors), how long at most.
pub(crate) struct Wait<'a> {
    pub(crate) what: String,
    pub(crate) kind: Kind,
    pub(crate) timeout: Duration,
    pub(crate) progress: Progress<'a>,
}

/// Calls `check` until it is done or failed, pausing with capped, jittered backoff, for at
/// most the wait's timeout; reports what it waits for, and the last state seen, through
/// progress.
pub(crate) async fn poll<T, F, Fut>(wait: Wait<'_>, mut check: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Check<T>, AwsError>>,
{
    let Wait {
        what,
        kind,
        timeout,
        progress,
    } = wait;
    let started = Instant::now();
    let mut delay = FIRST_POLL_DELAY;
    loop {
        match check().await? {
            Check::Done(value) => return Ok(value),
            Check::Failed(state) => {
                return Err(AwsError::FailedState { what, state });
            }
            Check::Pending(status) => {
                if started.elapsed() >= timeout {
                    return Err(AwsError::WaitTimeout {
                        what,
                        last_seen: status,
                        waited: timeout,
                        kind: Some(kind),
                    });
                }
                progress.waiting(format!("{what} ({status})"));
                let jitter = Duration::from_millis(fastrand::u64(0..250));
                // The last look comes at the deadline, not a whole pause after it.
                let left = timeout.saturating_sub(started.elapsed());
                tokio::time::sleep(((delay + jitter) / poll_scale()).min(left)).await;
                delay = (delay * 3 / 2).min(MAX_POLL_DELAY);
            }
        }
    }
}
