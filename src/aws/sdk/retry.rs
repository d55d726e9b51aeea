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
pub(crate) async fn delete_with_retry<F, Fut>(what: &str, progress: Progress<'_>, attempt: F) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), AwsError>>,
{
    let waiting = |error: &AwsError| {
        error.is_dependency_violation().then(|| {
            format!(
                "dependants of {what} to be released ({})",
                error.code().unwrap_or("in use")
            )
        })
    };
    match retry_while(DEPENDENCY_RELEASE_TIMEOUT, progress, waiting, attempt).await {
        Err(error) if error.is_not_found() => Ok(()),
        other => other,
    }
}

/// Runs `attempt` until it succeeds, fails with an error `waiting` does not recognise, or
/// `timeout` has passed; between attempts, a jittered pause doubling up to `MAX_RETRY_DELAY`,
/// and progress saying what `waiting` says it waits for.
async fn retry_while<T, F, Fut>(
    timeout: Duration,
    progress: Progress<'_>,
    waiting: impl Fn(&AwsError) -> Option<String>,
    mut attempt: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AwsError>>,
{
    let started = std::time::Instant::now();
    let mut delay = FIRST_RETRY_DELAY;
    loop {
        let error = match attempt().await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        match waiting(&error) {
            Some(what) if started.elapsed() < timeout => {
                progress.waiting(what);
                let jitter = Duration::from_millis(fastrand::u64(0..500));
                tokio::time::sleep(delay + jitter).await;
                delay = (delay * 2).min(MAX_RETRY_DELAY);
            }
            _ => return Err(error),
        }
    }
}

/// A role or instance profile created seconds ago is not yet visible to every AWS service:
/// EC2 Auto Scaling and ECS reject it for a while with these words in the message.
/// ECS says "Role is not valid", "ECS was unable to assume the role", or AccessDenied on
/// `iam:PassRole` for a role created seconds before.
const NOT_YET_PROPAGATED: [&str; 8] = [
    "Invalid IAM Instance Profile",
    "iamInstanceProfile",
    "Unable to assume",
    "unable to assume",
    "cannot be assumed",
    "Role is not valid",
    "not authorized to perform: iam:PassRole",
    "is not authorized to perform iam:PassRole",
];
/// IAM changes reach every region and service within seconds, almost always within a minute.
const PROPAGATION_TIMEOUT: Duration = Duration::from_secs(120);

/// Whether `error` says a new IAM role or instance profile has not reached the service yet.
pub(crate) fn is_iam_propagation(error: &AwsError) -> bool {
    // A refusal is shown in deployer's words; AWS's own are in its message.
    let text = match error {
        AwsError::AccessDenied { denied, .. } => denied.message.clone(),
        other => other.to_string(),
    };
    NOT_YET_PROPAGATED.iter().any(|words| text.contains(words))
}

/// Runs a create that names a new role or instance profile, retrying while AWS says it
/// cannot see it yet.
pub(crate) async fn create_after_iam<T, F, Fut>(what: &str, progress: Progress<'_>, attempt: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AwsError>>,
{
    let waiting =
        |error: &AwsError| is_iam_propagation(error).then(|| format!("the IAM role of {what} to reach the service"));
    retry_while(PROPAGATION_TIMEOUT, progress, waiting, attempt).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_usual_propagation_errors_are_recognised_and_others_are_not() {
        let error = |message: &str| AwsError::Service {
            operation: "CreateAutoScalingGroup",
            code: "ValidationError".into(),
            message: message.into(),
        };
        assert!(is_iam_propagation(&error(
            "You must use a valid fully-formed launch template. Value (arn:aws:iam::1:instance-profile/x) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN"
        )));
        assert!(is_iam_propagation(&error(
            "Unable to assume the service linked role. Please verify that the ECS service linked role exists."
        )));
        // RegisterTaskDefinition right after CreateRole.
        assert!(is_iam_propagation(&error("Role is not valid")));
        assert!(is_iam_propagation(&error(
            "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: iam:PassRole on resource: arn:aws:iam::123456789012:role/deployer/staging/staging-task"
        )));
        assert!(is_iam_propagation(&error(
            "ECS was unable to assume the role 'arn:aws:iam::123456789012:role/staging-task' that was provided for this task."
        )));
        let denied = |message: &str| AwsError::AccessDenied {
            operation: "RegisterTaskDefinition",
            denied: Box::new(crate::aws::error::Denied::read("AccessDeniedException", message)),
        };
        assert!(is_iam_propagation(&denied(
            "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: iam:PassRole on resource: arn:aws:iam::123456789012:role/deployer/staging/staging-task"
        )));
        assert!(!is_iam_propagation(&denied(
            "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ecs:RegisterTaskDefinition"
        )));
        assert!(!is_iam_propagation(&error(
            "Max bound, 8, must be greater than or equal to min bound, 9"
        )));
    }
}
