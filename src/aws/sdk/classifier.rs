//! What the SDK's retry loop must not retry, beyond AWS's own rules.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{FinalizerInterceptorContextMut, InterceptorContext};
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// The response header `AttemptMark` writes: which attempt this answer was (a classifier sees
/// the response, not the attempt count).
const ATTEMPT_HEADER: &str = "x-deployer-attempt";

/// An HTTP 500 with an HTML page is never AWS (its 5xx answers are XML or JSON errors): it is
/// an endpoint that does not implement the action (the local emulator's NotImplementedError
/// page) or something in between that is not AWS. The standard classifier retries every 500,
/// so one such call would stall for 15 backed-off attempts before saying so; this says so at
/// once, after one retry: the emulator answers the same page for an exception of its own in a
/// call it does implement (a race of its threads), which a second try gets past.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HtmlServerError;

impl ClassifyRetry for HtmlServerError {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let Some(response) = ctx.response() else {
            return RetryAction::NoActionIndicated;
        };
        let html = response
            .headers()
            .get("content-type")
            .is_some_and(|kind| kind.trim_start().to_ascii_lowercase().starts_with("text/html"));
        let retried = response
            .headers()
            .get(ATTEMPT_HEADER)
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|attempt| attempt >= 2);
        if response.status().as_u16() == 500 && html && retried {
            RetryAction::RetryForbidden
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "HTML 500 (not AWS)"
    }
}

/// Marks each raw response with its attempt number, for `HtmlServerError`. Runs when the
/// attempt completes, before the retry strategy classifies it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttemptMark;

impl Intercept for AttemptMark {
    fn name(&self) -> &'static str {
        "attempt mark"
    }

    fn modify_before_attempt_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let attempt = cfg.load::<RequestAttempts>().map_or(1, RequestAttempts::attempts);
        if let Some(response) = context.response_mut() {
            response.headers_mut().insert(ATTEMPT_HEADER, attempt.to_string());
        }
        Ok(())
    }
}

/// The SDK client of `$sdk` for `$config`, with deployer's retry classifier.
macro_rules! client {
    ($sdk:ident, $config:expr) => {
        $sdk::Client::from_conf(
            $sdk::config::Builder::from($config)
                .retry_classifier(crate::aws::classifier::HtmlServerError)
                .interceptor(crate::aws::classifier::AttemptMark)
                .build(),
        )
    };
}
pub(crate) use client;
