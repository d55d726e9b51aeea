//! What the SDK's retry loop must not retry, beyond AWS's own rules.

use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};

/// An HTTP 500 with an HTML page is never AWS (its 5xx answers are XML or JSON errors): it is
/// an endpoint that does not implement the action (the local emulator's NotImplementedError
/// page) or something in between that is not AWS. The standard classifier retries every 500,
/// so one such call would stall for 15 backed-off attempts before saying so; this says so at
/// once.
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
        if response.status().as_u16() == 500 && html {
            RetryAction::RetryForbidden
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "HTML 500 (not AWS)"
    }
}

/// The SDK client of `$sdk` for `$config`, with deployer's retry classifier.
macro_rules! client {
    ($sdk:ident, $config:expr) => {
        $sdk::Client::from_conf(
            $sdk::config::Builder::from($config)
                .retry_classifier(crate::aws::classifier::HtmlServerError)
                .build(),
        )
    };
}
pub(crate) use client;
