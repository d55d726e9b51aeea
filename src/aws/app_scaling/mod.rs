//! Application Auto Scaling: the client, and the ECS service's scalable target and policies
//! (`service_scaling.rs`).

use aws_sdk_applicationautoscaling::Client;

mod service_scaling;

pub(crate) use service_scaling::ServiceScalings;

#[derive(Debug, Clone)]
pub struct AppScaling {
    client: Client,
}

impl AppScaling {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: crate::aws::classifier::client!(aws_sdk_applicationautoscaling, config),
        }
    }
}
