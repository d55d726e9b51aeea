//! The STS adapter: who we are (the account id goes into ARNs of secrets).

use aws_sdk_sts::Client;

use super::error::{AwsError, Classify};

#[derive(Debug, Clone)]
pub struct Sts {
    client: Client,
}

impl Sts {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: crate::aws::classifier::client!(aws_sdk_sts, config),
        }
    }

    pub async fn account_id(&self) -> Result<String, AwsError> {
        let output = self.client.get_caller_identity().send().await.op("GetCallerIdentity")?;
        Ok(output.account().unwrap_or_default().to_owned())
    }
}
