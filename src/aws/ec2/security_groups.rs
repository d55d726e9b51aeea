//! Security groups and their rules.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, UserIdGroupPair};

use super::discover::rules_of;
use super::{Ec2, delete_with_retry, tag_specification};
use crate::apply::{Progress, Resolved};
use crate::aws::error::{AwsError, Classify};
use crate::model::*;

impl Ec2 {
    pub async fn create_security_group(
        &self,
        spec: &SecurityGroupSpec,
        tags: &Tags,
        resolved: &Resolved,
    ) -> Result<String, AwsError> {
        let output = self
            .client
            .create_security_group()
            .vpc_id(resolved.physical(&spec.vpc)?)
            .group_name(&spec.name)
            .description(&spec.description)
            .tag_specifications(tag_specification(ResourceType::SecurityGroup, tags))
            .send()
            .await
            .op("CreateSecurityGroup")?;
        Ok(output.group_id().unwrap_or_default().to_owned())
    }

    pub async fn delete_security_group(&self, group: &str, progress: Progress<'_>) -> Result<(), AwsError> {
        delete_with_retry(group, progress, || async {
            self.client
                .delete_security_group()
                .group_id(group)
                .send()
                .await
                .op("DeleteSecurityGroup")
                .map(drop)
        })
        .await
    }

    /// Makes the group's rules exactly `spec`'s: revokes the others (AWS's default allow-all
    /// egress among them), then authorizes what is missing.
    pub async fn sync_rules(
        &self,
        group: &str,
        spec: &SecurityGroupRulesSpec,
        resolved: &Resolved,
    ) -> Result<(), AwsError> {
        let output = self
            .client
            .describe_security_groups()
            .group_ids(group)
            .send()
            .await
            .op("DescribeSecurityGroups")?;
        let Some(current) = output.security_groups().first() else {
            return Err(AwsError::Other {
                operation: "DescribeSecurityGroups",
                detail: format!("security group {group} not found"),
            });
        };
        let external = |physical: &str| Ref::External(physical.to_owned());
        let have_ingress = rules_of(current.ip_permissions(), &external);
        let have_egress = rules_of(current.ip_permissions_egress(), &external);
        let want_ingress = physical_rules(&spec.ingress, resolved)?;
        let want_egress = physical_rules(&spec.egress, resolved)?;

        let revoke_ingress = permissions(have_ingress.difference(&want_ingress));
        let revoke_egress = permissions(have_egress.difference(&want_egress));
        let grant_ingress = permissions(want_ingress.difference(&have_ingress));
        let grant_egress = permissions(want_egress.difference(&have_egress));
        if !revoke_ingress.is_empty() {
            self.client
                .revoke_security_group_ingress()
                .group_id(group)
                .set_ip_permissions(Some(revoke_ingress))
                .send()
                .await
                .op("RevokeSecurityGroupIngress")?;
        }
        if !revoke_egress.is_empty() {
            self.client
                .revoke_security_group_egress()
                .group_id(group)
                .set_ip_permissions(Some(revoke_egress))
                .send()
                .await
                .op("RevokeSecurityGroupEgress")?;
        }
        if !grant_ingress.is_empty() {
            self.client
                .authorize_security_group_ingress()
                .group_id(group)
                .set_ip_permissions(Some(grant_ingress))
                .send()
                .await
                .op("AuthorizeSecurityGroupIngress")?;
        }
        if !grant_egress.is_empty() {
            self.client
                .authorize_security_group_egress()
                .group_id(group)
                .set_ip_permissions(Some(grant_egress))
                .send()
                .await
                .op("AuthorizeSecurityGroupEgress")?;
        }
        Ok(())
    }

    /// Removes every rule, so groups that name each other can then be deleted in any order.
    pub async fn revoke_all_rules(&self, group: &str, resolved: &Resolved) -> Result<(), AwsError> {
        let empty = SecurityGroupRulesSpec {
            group: Ref::External(group.to_owned()),
            ingress: BTreeSet::new(),
            egress: BTreeSet::new(),
        };
        match self.sync_rules(group, &empty, resolved).await {
            Err(AwsError::Other { .. }) => Ok(()),
            Err(error) if error.is_not_found() => Ok(()),
            other => other,
        }
    }
}

/// The rules with security-group peers named by AWS id, as DescribeSecurityGroups shows them.
fn physical_rules(rules: &BTreeSet<Rule>, resolved: &Resolved) -> Result<BTreeSet<Rule>, AwsError> {
    rules
        .iter()
        .map(|rule| {
            let peer = match &rule.peer {
                Peer::SecurityGroup(group) => Peer::SecurityGroup(Ref::External(resolved.physical(group)?)),
                cidr @ Peer::Cidr(_) => cidr.clone(),
            };
            Ok(Rule { peer, ..rule.clone() })
        })
        .collect()
}

fn permissions<'a>(rules: impl Iterator<Item = &'a Rule>) -> Vec<IpPermission> {
    rules.map(permission).collect()
}

fn permission(rule: &Rule) -> IpPermission {
    let mut builder = IpPermission::builder().ip_protocol(&rule.protocol);
    if rule.protocol != "-1" {
        builder = builder.from_port(rule.from_port).to_port(rule.to_port);
    }
    let description = (!rule.description.is_empty()).then(|| rule.description.clone());
    match &rule.peer {
        Peer::Cidr(cidr) if cidr.contains(':') => builder.ipv6_ranges(
            Ipv6Range::builder()
                .cidr_ipv6(cidr)
                .set_description(description)
                .build(),
        ),
        Peer::Cidr(list) if list.starts_with("pl-") => builder.prefix_list_ids(
            PrefixListId::builder()
                .prefix_list_id(list)
                .set_description(description)
                .build(),
        ),
        Peer::Cidr(cidr) => builder.ip_ranges(IpRange::builder().cidr_ip(cidr).set_description(description).build()),
        Peer::SecurityGroup(group) => builder.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(group.to_string())
                .set_description(description)
                .build(),
        ),
    }
    .build()
}
