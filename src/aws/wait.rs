//! One way to wait. SDK waiters and deployer's own polls end the same way: done, timed out
//! (`AwsError::WaitTimeout`), stopped in a state that will not lead to done
//! (`AwsError::FailedState`), or a failing describe call kept as AWS reported it (an
//! AccessDenied stays an AccessDenied).

use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::waiters::FinalPoll;
use aws_smithy_runtime_api::client::waiters::error::WaiterError;

use super::error::{AwsError, classify};
use crate::apply::Progress;

/// First pause between polls: the emulator and fast resources are ready at once.
const FIRST_POLL_DELAY: Duration = Duration::from_secs(1);
/// Polls slow down to this: a slow resource is noticed within seconds, without hammering AWS.
const MAX_POLL_DELAY: Duration = Duration::from_secs(8);

/// What one look at a resource found.
pub(crate) enum Check<T> {
    Done(T),
    /// Not yet; the text says what the resource is doing now, for progress.
    Pending(String),
    /// It will never get there; the text says what it is instead, and why if AWS says.
    Failed(String),
}

/// Calls `check` until it is done or failed, pausing with capped, jittered backoff, for at
/// most `timeout`; reports what it waits for through `progress`.
pub(crate) async fn poll<T, F, Fut>(
    what: &str,
    timeout: Duration,
    progress: Progress<'_>,
    mut check: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Check<T>, AwsError>>,
{
    let started = Instant::now();
    let mut delay = FIRST_POLL_DELAY;
    loop {
        match check().await? {
            Check::Done(value) => return Ok(value),
            Check::Failed(state) => {
                return Err(AwsError::FailedState {
                    what: what.to_owned(),
                    state,
                });
            }
            Check::Pending(status) => {
                if started.elapsed() >= timeout {
                    return Err(AwsError::WaitTimeout {
                        what: format!("{what} (last seen: {status})"),
                        waited: timeout,
                    });
                }
                progress.waiting(format!("{what} ({status})"));
                let jitter = Duration::from_millis(fastrand::u64(0..250));
                tokio::time::sleep(delay + jitter).await;
                delay = (delay * 3 / 2).min(MAX_POLL_DELAY);
            }
        }
    }
}

/// Reads an SDK waiter's result: `state` describes the final poll of a failure state (say,
/// a NAT gateway's `failed` with its failure message).
pub(crate) trait Waited<O> {
    fn waited(self, operation: &'static str, what: &str, state: impl FnOnce(&O) -> String) -> Result<(), AwsError>;
}

impl<O, E> Waited<O> for Result<FinalPoll<O, SdkError<E, HttpResponse>>, WaiterError<O, E>>
where
    O: std::fmt::Debug + 'static,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    fn waited(self, operation: &'static str, what: &str, state: impl FnOnce(&O) -> String) -> Result<(), AwsError> {
        let error = match self {
            Ok(_) => return Ok(()),
            Err(error) => error,
        };
        Err(match error {
            WaiterError::ExceededMaxWait(exceeded) => AwsError::WaitTimeout {
                what: what.to_owned(),
                waited: exceeded.max_wait(),
            },
            WaiterError::FailureState(failure) => match failure.into_final_poll().into_result() {
                Ok(output) => AwsError::FailedState {
                    what: what.to_owned(),
                    state: state(&output),
                },
                // A modeled error that the waiter counts as failure (not found, say).
                Err(error) => AwsError::Service {
                    operation,
                    code: error.code().unwrap_or("(no code)").to_owned(),
                    message: error.message().unwrap_or("(no message)").to_owned(),
                },
            },
            WaiterError::OperationFailed(failed) => classify(operation, failed.into_error()),
            other => AwsError::Other {
                operation,
                detail: crate::error_chain::error_chain(&other),
            },
        })
    }
}
