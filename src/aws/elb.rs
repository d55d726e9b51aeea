//! The classic Elastic Load Balancing adapter (aws-sdk-elasticloadbalancing).

use std::collections::BTreeSet;

use aws_sdk_elasticloadbalancing::Client;
use aws_sdk_elasticloadbalancing::types::{
    CrossZoneLoadBalancing, HealthCheck, Listener, LoadBalancerAttributes, Tag, TagKeyOnly,
};

use super::error::{AwsError, Classify};
use super::found::Found;
use crate::apply::{Progress, Resolved};
use crate::model::{ClassicLoadBalancerSpec, Spec, Tags};

/// DescribeTags takes at most 20 load balancer names per call.
const TAG_BATCH: usize = 20;
/// Health check cadence: two passes 10 s apart mark an instance healthy.
const HEALTH_INTERVAL: i32 = 10;
const HEALTH_TIMEOUT: i32 = 5;
const HEALTHY_THRESHOLD: i32 = 2;
const UNHEALTHY_THRESHOLD: i32 = 3;

#[derive(Debug, Clone)]
pub struct Elb {
    client: Client,
}

impl Elb {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: Client::new(config),
        }
    }

    pub(crate) async fn discover(&self) -> Result<Vec<Found>, AwsError> {
        let balancers: Vec<_> = self
            .client
            .describe_load_balancers()
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .op("DescribeLoadBalancers")?;
        let names: Vec<String> = balancers
            .iter()
            .filter_map(|b| b.load_balancer_name().map(str::to_owned))
            .collect();
        let mut tags_by_name = std::collections::BTreeMap::new();
        for batch in names.chunks(TAG_BATCH) {
            let output = self
                .client
                .describe_tags()
                .set_load_balancer_names(Some(batch.to_vec()))
                .send()
                .await
                .op("DescribeTags")?;
            for description in output.tag_descriptions() {
                let tags: Tags = description
                    .tags()
                    .iter()
                    .map(|t| (t.key().to_owned(), t.value().unwrap_or_default().to_owned()))
                    .collect();
                tags_by_name.insert(description.load_balancer_name().unwrap_or_default().to_owned(), tags);
            }
        }
        let mut found = Vec::new();
        for balancer in balancers {
            let name = balancer.load_balancer_name().unwrap_or_default().to_owned();
            let Some(tags) = tags_by_name.remove(&name) else {
                continue;
            };
            if !tags.contains_key(crate::model::TAG_ENVIRONMENT) {
                continue;
            }
            let attributes = self
                .client
                .describe_load_balancer_attributes()
                .load_balancer_name(&name)
                .send()
                .await
                .op("DescribeLoadBalancerAttributes")?;
            let cross_zone = attributes
                .load_balancer_attributes()
                .and_then(|a| a.cross_zone_load_balancing())
                .is_some_and(CrossZoneLoadBalancing::enabled);
            let listener = balancer.listener_descriptions().first().and_then(|d| d.listener());
            let listener_port = listener.map_or(0, |l| l.load_balancer_port()) as u16;
            let instance_port = listener.map_or(0, |l| l.instance_port()) as u16;
            let health_check_target = balancer
                .health_check()
                .map(|h| h.target().to_owned())
                .unwrap_or_default();
            let subnets: Vec<String> = balancer.subnets().to_vec();
            let groups: Vec<String> = balancer.security_groups().to_vec();
            let dns = balancer.dns_name().map(str::to_owned);
            let spec_name = name.clone();
            found.push(
                Found::new(name, tags, move |lookup| {
                    Spec::ClassicLoadBalancer(ClassicLoadBalancerSpec {
                        name: spec_name,
                        subnets: subnets.iter().map(|s| lookup(s)).collect(),
                        security_groups: groups.iter().map(|g| lookup(g)).collect(),
                        listener_port,
                        instance_port,
                        health_check_target,
                        cross_zone,
                    })
                })
                .with_info("dns_name", dns.as_deref()),
            );
        }
        Ok(found)
    }

    pub async fn create(
        &self,
        spec: &ClassicLoadBalancerSpec,
        tags: &Tags,
        resolved: &Resolved,
    ) -> Result<String, AwsError> {
        self.client
            .create_load_balancer()
            .load_balancer_name(&spec.name)
            .listeners(listener(spec))
            .set_subnets(Some(physical_all(&spec.subnets, resolved)?))
            .set_security_groups(Some(physical_all(&spec.security_groups, resolved)?))
            .set_tags(Some(sdk_tags(tags)))
            .send()
            .await
            .op("CreateLoadBalancer")?;
        self.configure(spec).await?;
        Ok(spec.name.clone())
    }

    async fn configure(&self, spec: &ClassicLoadBalancerSpec) -> Result<(), AwsError> {
        let health_check = HealthCheck::builder()
            .target(&spec.health_check_target)
            .interval(HEALTH_INTERVAL)
            .timeout(HEALTH_TIMEOUT)
            .healthy_threshold(HEALTHY_THRESHOLD)
            .unhealthy_threshold(UNHEALTHY_THRESHOLD)
            .build()
            .map_err(|e| AwsError::Other {
                operation: "ConfigureHealthCheck",
                detail: e.to_string(),
            })?;
        self.client
            .configure_health_check()
            .load_balancer_name(&spec.name)
            .health_check(health_check)
            .send()
            .await
            .op("ConfigureHealthCheck")?;
        let cross_zone = CrossZoneLoadBalancing::builder().enabled(spec.cross_zone).build();
        self.client
            .modify_load_balancer_attributes()
            .load_balancer_name(&spec.name)
            .load_balancer_attributes(
                LoadBalancerAttributes::builder()
                    .cross_zone_load_balancing(cross_zone)
                    .build(),
            )
            .send()
            .await
            .op("ModifyLoadBalancerAttributes")?;
        Ok(())
    }

    pub async fn update(
        &self,
        spec: &ClassicLoadBalancerSpec,
        observed: &ClassicLoadBalancerSpec,
        tags: &Tags,
        current_tags: &Tags,
        resolved: &Resolved,
    ) -> Result<(), AwsError> {
        let name = &spec.name;
        let want_subnets: BTreeSet<String> = physical_all(&spec.subnets, resolved)?.into_iter().collect();
        let have_subnets: BTreeSet<String> = physical_all(&observed.subnets, resolved)?.into_iter().collect();
        let add: Vec<String> = want_subnets.difference(&have_subnets).cloned().collect();
        let remove: Vec<String> = have_subnets.difference(&want_subnets).cloned().collect();
        if !add.is_empty() {
            self.client
                .attach_load_balancer_to_subnets()
                .load_balancer_name(name)
                .set_subnets(Some(add))
                .send()
                .await
                .op("AttachLoadBalancerToSubnets")?;
        }
        if !remove.is_empty() {
            self.client
                .detach_load_balancer_from_subnets()
                .load_balancer_name(name)
                .set_subnets(Some(remove))
                .send()
                .await
                .op("DetachLoadBalancerFromSubnets")?;
        }
        if spec.security_groups != observed.security_groups {
            self.client
                .apply_security_groups_to_load_balancer()
                .load_balancer_name(name)
                .set_security_groups(Some(physical_all(&spec.security_groups, resolved)?))
                .send()
                .await
                .op("ApplySecurityGroupsToLoadBalancer")?;
        }
        if (spec.listener_port, spec.instance_port) != (observed.listener_port, observed.instance_port) {
            self.client
                .delete_load_balancer_listeners()
                .load_balancer_name(name)
                .load_balancer_ports(i32::from(observed.listener_port))
                .send()
                .await
                .op("DeleteLoadBalancerListeners")?;
            self.client
                .create_load_balancer_listeners()
                .load_balancer_name(name)
                .listeners(listener(spec))
                .send()
                .await
                .op("CreateLoadBalancerListeners")?;
        }
        self.configure(spec).await?;
        let stale: Vec<TagKeyOnly> = super::stale_tag_keys(tags, current_tags)
            .into_iter()
            .map(|k| TagKeyOnly::builder().key(k).build())
            .collect();
        if !stale.is_empty() {
            self.client
                .remove_tags()
                .load_balancer_names(name)
                .set_tags(Some(stale))
                .send()
                .await
                .op("RemoveTags")?;
        }
        if tags != current_tags {
            self.client
                .add_tags()
                .load_balancer_names(name)
                .set_tags(Some(sdk_tags(tags)))
                .send()
                .await
                .op("AddTags")?;
        }
        Ok(())
    }

    /// Deleting an absent load balancer succeeds, so this is idempotent. Its network
    /// interfaces linger for a while; the subnet and group deletes retry until they go.
    pub async fn delete(&self, name: &str, _progress: Progress<'_>) -> Result<(), AwsError> {
        self.client
            .delete_load_balancer()
            .load_balancer_name(name)
            .send()
            .await
            .op("DeleteLoadBalancer")?;
        Ok(())
    }
}

fn listener(spec: &ClassicLoadBalancerSpec) -> Listener {
    Listener::builder()
        .protocol("HTTP")
        .load_balancer_port(i32::from(spec.listener_port))
        .instance_protocol("HTTP")
        .instance_port(i32::from(spec.instance_port))
        .build()
        .expect("protocol and port are set")
}

fn sdk_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().expect("key is set"))
        .collect()
}

pub(crate) fn physical_all(refs: &BTreeSet<crate::model::Ref>, resolved: &Resolved) -> Result<Vec<String>, AwsError> {
    refs.iter()
        .map(|r| resolved.physical(r).map_err(AwsError::from))
        .collect()
}
