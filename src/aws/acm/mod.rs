//! ACM: only read, to check that the certificate an environment names for HTTPS exists and is
//! issued before a plan counts on it (a listener with a pending certificate fails at apply).

use aws_sdk_acm::Client;

use super::error::{AwsError, Classify};
use super::permissions::{Arn, Call, On, read};

#[derive(Debug, Clone)]
pub struct Acm {
    client: Client,
}

impl Acm {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: crate::aws::classifier::client!(aws_sdk_acm, config),
        }
    }

    /// The certificate's status (`ISSUED`, `PENDING_VALIDATION`, `EXPIRED`, …), or `None` when
    /// the account has no such certificate in this region.
    pub async fn certificate_status(&self, arn: &str) -> Result<Option<String>, AwsError> {
        match self
            .client
            .describe_certificate()
            .certificate_arn(arn)
            .send()
            .await
            .op("DescribeCertificate")
        {
            Ok(output) => Ok(Some(
                output
                    .certificate()
                    .and_then(|c| c.status())
                    .map_or("UNKNOWN", |s| s.as_str())
                    .to_owned(),
            )),
            Err(error) if error.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// What the certificate check calls (see `aws::permissions`).
pub(crate) const CALLS: &[Call] = &[read("acm:DescribeCertificate", On::Own(&[Arn::Certificate]))];
