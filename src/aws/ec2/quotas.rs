//! The region's usage of the quotas an apply can run into (Elastic IPs, VPCs, NAT gateways per
//! zone), for `plan::quotas` to check before anything is created. The Elastic IP limit is the
//! account's own (`vpc-max-elastic-ips`); the others are AWS's defaults, since reading raised
//! ones needs Service Quotas (another SDK client for two numbers).

use std::collections::BTreeMap;

use super::{Ec2, filter};
use crate::aws::error::{AwsError, Classify};
use crate::plan::quotas::{AccountUsage, DEFAULT_NAT_GATEWAYS_PER_ZONE, DEFAULT_VPCS_PER_REGION, Quota};

/// AWS's default Elastic IPs per region, when the account does not say.
const DEFAULT_ELASTIC_IPS: u32 = 5;

impl Ec2 {
    pub async fn account_usage(&self) -> Result<AccountUsage, AwsError> {
        let (limit, addresses, vpcs, nat_gateways) = tokio::try_join!(
            self.elastic_ip_limit(),
            async {
                let output = self
                    .client
                    .describe_addresses()
                    .filters(filter("domain", "vpc"))
                    .send()
                    .await
                    .op("DescribeAddresses")?;
                Ok(output.addresses().len())
            },
            async {
                let vpcs: Vec<_> = all_pages!(self.client.describe_vpcs(), "DescribeVpcs")?;
                Ok(vpcs.len())
            },
            self.nat_gateways_by_zone(),
        )?;
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Ok(AccountUsage {
            elastic_ips: Quota {
                used: count(addresses),
                limit: limit.unwrap_or(DEFAULT_ELASTIC_IPS),
                source: if limit.is_some() {
                    "the account's vpc-max-elastic-ips".to_owned()
                } else {
                    "AWS's default".to_owned()
                },
            },
            vpcs: Quota {
                used: count(vpcs),
                limit: DEFAULT_VPCS_PER_REGION,
                source: "AWS's default; Service Quotas shows yours".to_owned(),
            },
            nat_gateways,
            nat_gateways_per_zone: DEFAULT_NAT_GATEWAYS_PER_ZONE,
        })
    }

    async fn elastic_ip_limit(&self) -> Result<Option<u32>, AwsError> {
        // Unfiltered: the API names only `supported-platforms` and `default-vpc` as filters
        // (AWS's model refuses any other), and answers every attribute without one.
        let output = self
            .client
            .describe_account_attributes()
            .send()
            .await
            .op("DescribeAccountAttributes")?;
        Ok(output
            .account_attributes()
            .iter()
            .find(|a| a.attribute_name() == Some("vpc-max-elastic-ips"))
            .and_then(|a| a.attribute_values().first())
            .and_then(|v| v.attribute_value())
            .and_then(|v| v.parse().ok()))
    }

    /// NAT gateways that count against the quota (pending or available), by zone.
    async fn nat_gateways_by_zone(&self) -> Result<BTreeMap<String, u32>, AwsError> {
        let gateways: Vec<_> = all_pages!(
            self.client.describe_nat_gateways().filter(
                aws_sdk_ec2::types::Filter::builder()
                    .name("state")
                    .values("pending")
                    .values("available")
                    .build()
            ),
            "DescribeNatGateways"
        )?;
        let subnets: Vec<String> = gateways
            .iter()
            .filter(|g| g.state().is_some_and(|s| matches!(s.as_str(), "pending" | "available")))
            .filter_map(|g| g.subnet_id().map(str::to_owned))
            .collect();
        let mut by_zone = BTreeMap::new();
        if subnets.is_empty() {
            return Ok(by_zone);
        }
        let output = self
            .client
            .describe_subnets()
            .set_subnet_ids(Some(subnets.clone()))
            .send()
            .await
            .op("DescribeSubnets")?;
        let zone_of: BTreeMap<&str, &str> = output
            .subnets()
            .iter()
            .filter_map(|s| Some((s.subnet_id()?, s.availability_zone()?)))
            .collect();
        for subnet in &subnets {
            if let Some(zone) = zone_of.get(subnet.as_str()) {
                *by_zone.entry((*zone).to_owned()).or_default() += 1;
            }
        }
        Ok(by_zone)
    }
}
