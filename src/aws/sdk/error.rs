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

    #[error("{}", refusal(operation, denied))]
    AccessDenied {
        operation: &'static str,
        denied: Box<Denied>,
    },

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

/// What an AccessDenied answer says, read from AWS's message where it says it
/// (`User: ARN is not authorized to perform: ACTION on resource: ARN because …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub code: String,
    pub principal: Option<String>,
    pub action: Option<String>,
    pub resource: Option<String>,
    pub message: String,
}

/// AWS's codes for a call the caller's policies do not allow, service by service.
const DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
    "UnauthorizedAccess",
];

impl Denied {
    pub(crate) fn read(code: &str, message: &str) -> Self {
        let after = |marker: &str| {
            let at = message.find(marker)? + marker.len();
            let word: String = message[at..]
                .trim_start()
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect();
            let word = word.trim_end_matches(['.', ',', ';']).to_owned();
            (!word.is_empty()).then_some(word)
        };
        Self {
            code: code.to_owned(),
            principal: after("User:"),
            action: after("to perform:"),
            resource: after("on resource:"),
            message: message.to_owned(),
        }
    }
}

fn refusal(operation: &str, denied: &Denied) -> String {
    let who = denied.principal.as_deref().map_or("these credentials".to_owned(), |p| {
        crate::printable::printable_line(p).into_owned()
    });
    let what = denied.action.as_deref().map_or_else(
        || format!("call {operation}"),
        |a| crate::printable::printable_line(a).into_owned(),
    );
    let on = denied
        .resource
        .as_deref()
        .map(|r| format!(" on {}", crate::printable::printable_line(r)))
        .unwrap_or_default();
    format!(
        "{operation} was refused ({}): {who} may not {what}{on}\n  help: `deployer permissions ENV` prints the policies deployer needs for an environment (`--for plan` for a role that only plans); attach them to this principal, or run as one that has them",
        denied.code
    )
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
            Self::AccessDenied { denied, .. } => Some(&denied.code),
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
            Some(code) if DENIED_CODES.contains(&code) => AwsError::AccessDenied {
                operation,
                denied: Box::new(Denied::read(code, error.message().unwrap_or_default())),
            },
            Some(code) => AwsError::Service {
                operation,
                code: code.to_owned(),
                message: error.message().unwrap_or("(no message)").to_owned(),
            },
            None => unrecognized(operation, service.raw()),
        },
        SdkError::ResponseError(response) => unrecognized(operation, response.raw()),
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

/// An answer the SDK could not read an error code from. A 403 is a refusal all the same, unless
/// AWS's query-style XML error, when the body holds one (the emulator answers DynamoDB and
/// CloudWatch so), names another reason: a bad signature, an unknown or expired key is not a
/// policy to change, and `deployer permissions` would not help.
fn unrecognized(operation: &'static str, response: &HttpResponse) -> AwsError {
    let status = response.status().as_u16();
    if status == 403 {
        let body = response.body().bytes().map(String::from_utf8_lossy).unwrap_or_default();
        let element = |name: &str| {
            let open = format!("<{name}>");
            let start = body.find(&open)? + open.len();
            let end = body[start..].find(&format!("</{name}>"))? + start;
            Some(body[start..end].to_owned())
        };
        if let Some(code) = element("Code").filter(|code| !DENIED_CODES.contains(&code.as_str())) {
            return AwsError::Service {
                operation,
                code,
                message: element("Message").unwrap_or_else(|| "(no message)".to_owned()),
            };
        }
        let code = element("Code").unwrap_or_else(|| "HTTP 403".to_owned());
        return AwsError::AccessDenied {
            operation,
            denied: Box::new(Denied::read(&code, &element("Message").unwrap_or_default())),
        };
    }
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

#[cfg(test)]
mod denied_tests {
    use super::*;

    #[test]
    fn a_refusal_names_the_action_the_resource_and_the_principal_and_what_to_run() {
        let denied = Denied::read(
            "AccessDenied",
            "User: arn:aws:sts::123456789012:assumed-role/plan/ci is not authorized to perform: ec2:CreateVpc on resource: arn:aws:ec2:us-east-1:123456789012:vpc/* because no identity-based policy allows the ec2:CreateVpc action",
        );
        assert_eq!(denied.action.as_deref(), Some("ec2:CreateVpc"));
        assert_eq!(
            denied.resource.as_deref(),
            Some("arn:aws:ec2:us-east-1:123456789012:vpc/*")
        );
        let text = AwsError::AccessDenied {
            operation: "CreateVpc",
            denied: Box::new(denied),
        }
        .to_string();
        assert!(
            text.starts_with("CreateVpc was refused (AccessDenied): arn:aws:sts::123456789012:assumed-role/plan/ci may not ec2:CreateVpc on arn:aws:ec2:us-east-1:123456789012:vpc/*\n"),
            "{text}"
        );
        assert!(text.contains("`deployer permissions ENV`"), "{text}");
    }

    fn answered_403(body: &str) -> AwsError {
        let response = HttpResponse::new(
            403.try_into().unwrap(),
            aws_smithy_types::body::SdkBody::from(body.to_owned()),
        );
        unrecognized("PutMetricAlarm", &response)
    }

    #[test]
    fn a_403_is_a_refusal_unless_its_code_names_another_reason() {
        let signature = answered_403(
            "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message></Error></ErrorResponse>",
        );
        assert_eq!(signature.code(), Some("SignatureDoesNotMatch"));
        let text = signature.to_string();
        assert!(
            text.contains("The request signature we calculated does not match"),
            "{text}"
        );
        assert!(!text.contains("deployer permissions"), "{text}");
        for body in [
            "<ErrorResponse><Error><Code>AccessDenied</Code><Message>User: x is not authorized</Message></Error></ErrorResponse>",
            "",
        ] {
            let refused = answered_403(body);
            assert!(matches!(refused, AwsError::AccessDenied { .. }), "{refused:?}");
            assert!(refused.to_string().contains("deployer permissions"));
        }
    }

    #[test]
    fn a_refusal_without_details_still_says_what_to_run() {
        let text = AwsError::AccessDenied {
            operation: "PutBucketPolicy",
            denied: Box::new(Denied::read("AccessDenied", "Access Denied")),
        }
        .to_string();
        assert!(
            text.contains("these credentials may not call PutBucketPolicy"),
            "{text}"
        );
        assert!(text.contains("deployer permissions"), "{text}");
    }
}
