//! AWS errors as users need them: the operation, AWS's own code and message, and what to do
//! when the cause is on our side (no credentials, unreachable endpoint).

use std::time::Duration;

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("{operation} failed: {code}: {message}")]
    Service {
        operation: &'static str,
        code: String,
        message: String,
    },

    #[error(
        "{operation} failed: no AWS credentials were found\n  help: set AWS_PROFILE (and --profile), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; against the local emulator any non-empty values do"
    )]
    NoCredentials { operation: &'static str },

    #[error(
        "{operation} failed: could not reach the AWS endpoint: {detail}\n  help: check --endpoint-url / AWS_ENDPOINT_URL and your network; for the local emulator, start it with `cargo xtask moto`"
    )]
    Unreachable { operation: &'static str, detail: String },

    #[error("{operation} failed: the endpoint answered HTTP {status} without an AWS error code{hint}")]
    Unrecognized {
        operation: &'static str,
        status: u16,
        hint: &'static str,
    },

    #[error("{operation} failed: {detail}")]
    Other { operation: &'static str, detail: String },

    #[error("{what} failed: it is {state}")]
    FailedState { what: String, state: String },

    #[error("{}", wait_timeout(what, last_seen, *waited, *kind))]
    WaitTimeout {
        what: String,
        last_seen: String,
        waited: Duration,
        /// The kind waited for, when it is a resource (the operator can give it longer).
        kind: Option<crate::model::Kind>,
    },

    #[error("{0}")]
    Unresolved(#[from] crate::apply::Unresolved),
}

fn wait_timeout(what: &str, last_seen: &str, waited: Duration, kind: Option<crate::model::Kind>) -> String {
    let help = match kind {
        Some(kind) => format!(
            "AWS may still finish it, and the next run carries on from there; to wait longer, pass --timeout {kind}={}",
            humantime::format_duration(waited * 2)
        ),
        None => "it may still get there: re-run the command".to_owned(),
    };
    format!(
        "gave up after {} waiting for {what} (last seen: {last_seen})\n  help: {help}",
        humantime::format_duration(waited)
    )
}

impl AwsError {
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    /// A request the SDK refused to build (a required field deployer left out), named by the
    /// operation it was for. Every SDK crate's `BuildError` is this one smithy type.
    pub(crate) fn unbuilt(operation: &'static str, error: aws_smithy_types::error::operation::BuildError) -> Self {
        Self::Other {
            operation,
            detail: error.to_string(),
        }
    }

    /// The resource is already gone: a delete that meets this has nothing left to do.
    /// EC2 and ELB end their codes in `NotFound`, RDS in `NotFoundFault`, ECS, ECR and Logs in
    /// `NotFoundException`; IAM says `NoSuchEntity` (a role whose inline policy a crash left
    /// out, a role already deleted).
    pub fn is_not_found(&self) -> bool {
        self.code().is_some_and(|code| {
            ["NotFound", "NotFoundFault", "NotFoundException"]
                .iter()
                .any(|end| code.ends_with(end))
                || code == "NoSuchEntity"
        })
    }

    /// Something still depends on the resource and will release it shortly (ENIs of a deleted
    /// load balancer, a NAT gateway still holding its address).
    pub fn is_dependency_violation(&self) -> bool {
        self.code().is_some_and(|code| {
            matches!(
                code,
                "DependencyViolation" | "InvalidIPAddress.InUse" | "AuthFailure.AddressInUse" | "ResourceInUse"
            )
        })
    }
}

/// Converts any SDK error into an `AwsError`, keeping AWS's code and message.
pub(crate) fn classify<E>(operation: &'static str, error: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let chain = crate::error_chain::error_chain(&error);
    let lower = chain.to_ascii_lowercase();
    if lower.contains("credential")
        && (lower.contains("no credentials")
            || lower.contains("credentials provider")
            || lower.contains("failed to load credentials")
            || lower.contains("credentials were not loaded"))
    {
        return AwsError::NoCredentials { operation };
    }
    match &error {
        SdkError::ServiceError(service) => match error.code() {
            Some(code) => AwsError::Service {
                operation,
                code: code.to_owned(),
                message: error.message().unwrap_or("(no message)").to_owned(),
            },
            None => unrecognized(operation, service.raw().status().as_u16()),
        },
        SdkError::ResponseError(response) => unrecognized(operation, response.raw().status().as_u16()),
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => AwsError::Unreachable {
            operation,
            detail: chain,
        },
        _ => AwsError::Other {
            operation,
            detail: chain,
        },
    }
}

fn unrecognized(operation: &'static str, status: u16) -> AwsError {
    let hint = if status == 500 {
        " (the local emulator answers this way for actions it does not implement)"
    } else {
        ""
    };
    AwsError::Unrecognized {
        operation,
        status,
        hint,
    }
}

/// Shorthand for `.map_err(|e| classify("Operation", e))`.
pub(crate) trait Classify<T> {
    fn op(self, operation: &'static str) -> Result<T, AwsError>;
}

impl<T, E> Classify<T> for Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    fn op(self, operation: &'static str) -> Result<T, AwsError> {
        self.map_err(|error| classify(operation, error))
    }
}

#[cfg(test)]
mod not_found_tests {
    use super::AwsError;

    fn error(code: &str) -> AwsError {
        AwsError::Service {
            operation: "Delete",
            code: code.into(),
            message: String::new(),
        }
    }

    #[test]
    fn every_services_not_found_code_counts_as_gone_and_others_do_not() {
        for code in [
            "InvalidVpcID.NotFound",
            "LoadBalancerNotFound",
            "DBClusterNotFoundFault",
            "ServiceNotFoundException",
            "RepositoryNotFoundException",
            "NoSuchEntity",
        ] {
            assert!(error(code).is_not_found(), "{code}");
        }
        for code in [
            "AccessDenied",
            "DependencyViolation",
            "NoSuchEntityType",
            "ValidationError",
        ] {
            assert!(!error(code).is_not_found(), "{code}");
        }
    }
}
