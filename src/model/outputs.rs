//! An environment's outputs: the ids people and scripts need, each filled by its kind's
//! `Resource::outputs` from what discovery found.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Outputs {
    pub environment: String,
    pub region: String,
    pub vpc_id: Option<String>,
    pub public_subnet_ids: Vec<String>,
    pub private_subnet_ids: Vec<String>,
    pub nat_gateway_ids: Vec<String>,
    pub security_group_ids: BTreeMap<String, String>,
    pub load_balancer_dns: Option<String>,
    /// Where the API answers: `https://<load balancer DNS name>` with HTTPS, else `http://`.
    pub api_url: Option<String>,
    pub database_endpoint: Option<String>,
    /// The environment's ECR repository (`<account>.dkr.ecr.<region>.amazonaws.com/<name>`):
    /// where `deployer push` sends images.
    pub registry_url: Option<String>,
    /// The CloudWatch alarms deployer manages, by name.
    pub alarms: Vec<String>,
    /// The SNS topic the alarms publish to, when `alarms.email` is set.
    pub alarm_topic_arn: Option<String>,
    /// Whether the API is served over HTTPS (for `api_url`).
    #[serde(skip)]
    https: bool,
}

impl Outputs {
    /// Empty outputs, which each kind's `Resource::outputs` then fills (`aws::Aws::outputs`).
    pub fn new(environment: &str, region: &str) -> Self {
        Self {
            environment: environment.to_owned(),
            region: region.to_owned(),
            ..Self::default()
        }
    }

    /// Sets the load balancer's DNS name; `finish` derives the API's URL from it.
    pub fn set_load_balancer(&mut self, dns_name: Option<String>) {
        self.load_balancer_dns = dns_name;
    }

    /// A listener or a load balancer serving HTTPS: the API's URL is https://.
    pub fn serves_https(&mut self) {
        self.https = true;
    }

    /// What depends on several kinds' contributions: the API's URL (with an ALB's HTTPS
    /// listener port 80 only redirects, and a classic ELB with HTTPS has no port 80).
    pub fn finish(mut self) -> Self {
        let scheme = if self.https { "https" } else { "http" };
        self.api_url = self.load_balancer_dns.as_ref().map(|dns| format!("{scheme}://{dns}"));
        self
    }
}
