//! Regional quotas an apply would exceed, found before anything is created: AWS refuses the
//! create that goes over (`AddressLimitExceeded`, `VpcLimitExceeded`,
//! `NatGatewayLimitExceeded`) half-way through an apply. Pure: the account's usage is read by
//! `aws`, the plan says what it adds.

use std::collections::BTreeMap;

use super::{Action, Plan};
use crate::model::{Desired, Kind, Ref, Spec};

/// AWS's default VPCs per region (Service Quotas L-F678F1CE).
pub const DEFAULT_VPCS_PER_REGION: u32 = 5;
/// AWS's default NAT gateways per availability zone (Service Quotas L-FE5A380F).
pub const DEFAULT_NAT_GATEWAYS_PER_ZONE: u32 = 5;

/// One quota: how much is used and where its limit was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    pub used: u32,
    pub limit: u32,
    /// `the account's vpc-max-elastic-ips`, or `AWS's default`.
    pub source: String,
}

/// What the account uses in the region, as `aws` read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountUsage {
    pub elastic_ips: Quota,
    pub vpcs: Quota,
    /// NAT gateways (pending or available) by availability zone.
    pub nat_gateways: BTreeMap<String, u32>,
    pub nat_gateways_per_zone: u32,
}

/// A quota the apply would go over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaWarning {
    pub what: String,
    pub used: u32,
    pub adding: u32,
    pub limit: u32,
    pub source: String,
}

impl std::fmt::Display for QuotaWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "this apply adds {} {} to the {} in use, over the quota of {} ({}): AWS would refuse the create that goes over\n  help: free some, or ask for more in the Service Quotas console before applying",
            self.adding, self.what, self.used, self.limit, self.source
        )
    }
}

/// The quotas `plan` would exceed.
pub fn exceeded(plan: &Plan, desired: &Desired, usage: &AccountUsage) -> Vec<QuotaWarning> {
    let created = |kind: Kind| {
        plan.changes
            .iter()
            .filter(move |c| c.kind == kind && c.action == Action::Create)
    };
    let count = |kind: Kind| u32::try_from(created(kind).count()).unwrap_or(u32::MAX);
    let mut warnings = Vec::new();
    let mut check = |what: &str, quota: &Quota, adding: u32| {
        if adding > 0 && quota.used + adding > quota.limit {
            warnings.push(QuotaWarning {
                what: what.to_owned(),
                used: quota.used,
                adding,
                limit: quota.limit,
                source: quota.source.clone(),
            });
        }
    };
    check("Elastic IP addresses", &usage.elastic_ips, count(Kind::ElasticIp));
    check("VPCs", &usage.vpcs, count(Kind::Vpc));
    let mut per_zone: BTreeMap<String, u32> = BTreeMap::new();
    for change in created(Kind::NatGateway) {
        let Some(Spec::NatGateway(nat)) = change.desired.as_ref().map(|d| &d.spec) else {
            continue;
        };
        let zone = match &nat.subnet {
            Ref::Managed(subnet) => match desired.resources.get(subnet).map(|r| &r.spec) {
                Some(Spec::Subnet(subnet)) => subnet.availability_zone.clone(),
                _ => continue,
            },
            Ref::External(_) => continue,
        };
        *per_zone.entry(zone).or_default() += 1;
    }
    for (zone, adding) in per_zone {
        let quota = Quota {
            used: usage.nat_gateways.get(&zone).copied().unwrap_or(0),
            limit: usage.nat_gateways_per_zone,
            source: "AWS's default".to_owned(),
        };
        check(&format!("NAT gateways in {zone}"), &quota, adding);
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_environment;
    use crate::model::desired;

    fn production() -> Desired {
        let config = parse_environment(include_str!("../../environments/production.yaml"), "production").unwrap();
        desired(&config, &crate::model::example_facts(3)).unwrap()
    }

    fn usage(eips: u32, vpcs: u32, nat_in_a: u32) -> AccountUsage {
        AccountUsage {
            elastic_ips: Quota {
                used: eips,
                limit: 5,
                source: "the account's vpc-max-elastic-ips".into(),
            },
            vpcs: Quota {
                used: vpcs,
                limit: DEFAULT_VPCS_PER_REGION,
                source: "AWS's default".into(),
            },
            nat_gateways: BTreeMap::from([("us-east-1a".to_owned(), nat_in_a)]),
            nat_gateways_per_zone: DEFAULT_NAT_GATEWAYS_PER_ZONE,
        }
    }

    /// Issue 25, item 15: production's three NAT gateways need three of the region's five
    /// Elastic IPs; with three in use already the plan says so before anything is created.
    #[test]
    fn a_plan_over_the_elastic_ip_vpc_or_nat_quota_says_which() {
        let desired = production();
        let plan = crate::plan::plan(&desired, &[]);
        assert_eq!(exceeded(&plan, &desired, &usage(2, 4, 4)), []);
        let over = exceeded(&plan, &desired, &usage(3, 5, 5));
        let what: Vec<(&str, u32, u32)> = over.iter().map(|w| (w.what.as_str(), w.used, w.adding)).collect();
        assert_eq!(
            what,
            [
                ("Elastic IP addresses", 3, 3),
                ("VPCs", 5, 1),
                ("NAT gateways in us-east-1a", 5, 1)
            ]
        );
        assert!(
            over[0]
                .to_string()
                .contains("over the quota of 5 (the account's vpc-max-elastic-ips)")
        );
        // Nothing to create, nothing to warn about, however full the account is.
        let deployed = crate::plan::plan(&desired, &crate::model::as_deployed(&desired));
        assert_eq!(exceeded(&deployed, &desired, &usage(9, 9, 9)), []);
    }
}
