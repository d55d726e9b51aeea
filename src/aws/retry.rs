//! Deletes that wait for dependants to let go: AWS answers DependencyViolation (and kin)
//! while, say, a deleted load balancer's network interfaces still sit in a subnet.

use std::time::Duration;

use super::error::AwsError;
use crate::apply::Progress;

/// Real AWS releases the network interfaces of deleted load balancers and NAT gateways minutes
/// after the delete call returns; dependants fail with DependencyViolation until then.
const DEPENDENCY_RELEASE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// First retry delay for DependencyViolation; doubles up to `MAX_RETRY_DELAY`.
const FIRST_RETRY_DELAY: Duration = Duration::from_secs(2);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(20);

/// Runs a delete, treating "already gone" as done and retrying while dependants drain.
pub(crate) async fn delete_with_retry<F, Fut>(
    what: &str,
    progress: Progress<'_>,
    mut attempt: F,
) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), AwsError>>,
{
    let started = std::time::Instant::now();
    let mut delay = FIRST_RETRY_DELAY;
    loop {
        match attempt().await {
            Ok(()) => return Ok(()),
            Err(error) if error.is_not_found() => return Ok(()),
            Err(error) if error.is_dependency_violation() => {
                if started.elapsed() >= DEPENDENCY_RELEASE_TIMEOUT {
                    return Err(error);
                }
                progress.waiting(format!(
                    "dependants of {what} to be released ({})",
                    error.code().unwrap_or("in use")
                ));
                let jitter = Duration::from_millis(fastrand::u64(0..500));
                tokio::time::sleep(delay + jitter).await;
                delay = (delay * 2).min(MAX_RETRY_DELAY);
            }
            Err(error) => return Err(error),
        }
    }
}
