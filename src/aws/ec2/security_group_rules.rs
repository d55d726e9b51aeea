//! Security group rules: kept apart from their group so that groups naming each other (load
//! balancer egress to app, app ingress from load balancer) all exist before any rule names
//! them. They live inside the group: no tags of their own, found with it.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range, PrefixListId, UserIdGroupPair};

use super::Ec2;
use crate::apply::Resolved;
use crate::aws::error::{AwsError, Classify};
use crate::aws::found::Found;
use crate::aws::resource::{Create, Delete, Resource, Update};
use crate::model::{Peer, Ref, Rule, SecurityGroupRulesSpec};

pub(crate) struct SecurityGroupRules<'a>(pub(crate) &'a Ec2);

impl Resource for SecurityGroupRules<'_> {
    type Spec = SecurityGroupRulesSpec;

    /// Found with their group, by `SecurityGroups::discover` (one describe call for both).
    async fn discover(&self, _environment: &str) -> Result<Vec<Found>, AwsError> {
        Ok(Vec::new())
    }

    async fn create(&self, request: Create<'_, SecurityGroupRulesSpec>) -> Result<String, AwsError> {
        let group = request.resolved.physical(&request.spec.group)?;
        self.sync(&group, request.spec, request.resolved).await?;
        Ok(group)
    }

    /// Rules carry no tags; the rule sets are the whole of the resource.
    async fn update(&self, request: Update<'_, SecurityGroupRulesSpec>) -> Result<(), AwsError> {
        if request.changed_any(&[
            SecurityGroupRulesSpec::INGRESS,
            SecurityGroupRulesSpec::EGRESS,
            SecurityGroupRulesSpec::RULES,
        ]) {
            self.sync(request.physical_id, request.spec, request.resolved).await?;
        }
        Ok(())
    }

    /// Removes every rule, so groups that name each other can then be deleted in any order.
    async fn delete(&self, request: Delete<'_, SecurityGroupRulesSpec>) -> Result<(), AwsError> {
        let group = request.physical_id;
        let empty = SecurityGroupRulesSpec {
            group: Ref::External(group.to_owned()),
            ingress: BTreeSet::new(),
            egress: BTreeSet::new(),
        };
        match self.sync(group, &empty, request.resolved).await {
            Err(AwsError::Other { .. }) => Ok(()),
            Err(error) if error.is_not_found() => Ok(()),
            other => other,
        }
    }
}

impl SecurityGroupRules<'_> {
    /// Makes the group's rules exactly `spec`'s: revokes the others (AWS's default allow-all
    /// egress among them), then authorizes what is missing.
    async fn sync(&self, group: &str, spec: &SecurityGroupRulesSpec, resolved: &Resolved) -> Result<(), AwsError> {
        let output = self
            .0
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
            self.0
                .client
                .revoke_security_group_ingress()
                .group_id(group)
                .set_ip_permissions(Some(revoke_ingress))
                .send()
                .await
                .op("RevokeSecurityGroupIngress")?;
        }
        if !revoke_egress.is_empty() {
            self.0
                .client
                .revoke_security_group_egress()
                .group_id(group)
                .set_ip_permissions(Some(revoke_egress))
                .send()
                .await
                .op("RevokeSecurityGroupEgress")?;
        }
        if !grant_ingress.is_empty() {
            self.0
                .client
                .authorize_security_group_ingress()
                .group_id(group)
                .set_ip_permissions(Some(grant_ingress))
                .send()
                .await
                .op("AuthorizeSecurityGroupIngress")?;
        }
        if !grant_egress.is_empty() {
            self.0
                .client
                .authorize_security_group_egress()
                .group_id(group)
                .set_ip_permissions(Some(grant_egress))
                .send()
                .await
                .op("AuthorizeSecurityGroupEgress")?;
        }
        Ok(())
    }
}

/// Rules of one direction, one model rule per peer (AWS groups several peers per permission).
pub(super) fn rules_of(
    permissions: &[IpPermission],
    logical: &dyn Fn(&str) -> Ref,
) -> std::collections::BTreeSet<Rule> {
    let mut rules = std::collections::BTreeSet::new();
    for permission in permissions {
        let protocol = permission.ip_protocol().unwrap_or("-1").to_owned();
        let (from_port, to_port) = if protocol == "-1" {
            (-1, -1)
        } else {
            (permission.from_port().unwrap_or(-1), permission.to_port().unwrap_or(-1))
        };
        let rule = |peer, description: Option<&str>| Rule {
            protocol: protocol.clone(),
            from_port,
            to_port,
            peer,
            description: description.unwrap_or_default().to_owned(),
        };
        for range in permission.ip_ranges() {
            rules.insert(rule(
                Peer::Cidr(range.cidr_ip().unwrap_or_default().to_owned()),
                range.description(),
            ));
        }
        for range in permission.ipv6_ranges() {
            rules.insert(rule(
                Peer::Cidr(range.cidr_ipv6().unwrap_or_default().to_owned()),
                range.description(),
            ));
        }
        for list in permission.prefix_list_ids() {
            rules.insert(rule(
                Peer::Cidr(list.prefix_list_id().unwrap_or_default().to_owned()),
                list.description(),
            ));
        }
        for pair in permission.user_id_group_pairs() {
            rules.insert(rule(
                Peer::SecurityGroup(logical(pair.group_id().unwrap_or_default())),
                pair.description(),
            ));
        }
    }
    rules
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
