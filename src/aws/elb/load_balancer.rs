//! The classic load balancer: listeners, health check, TLS policy and access logs.

use super::*;

pub(crate) struct ClassicLoadBalancers<'a>(pub(crate) &'a Elb);

impl Resource for ClassicLoadBalancers<'_> {
    type Spec = ClassicLoadBalancerSpec;

    /// Classic ELB cannot filter by tag: every load balancer's tags are read, 20 at a time.
    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let balancers: Vec<_> = all_pages!(self.0.client.describe_load_balancers(), "DescribeLoadBalancers")?;
        let names: Vec<String> = balancers
            .iter()
            .filter_map(|b| b.load_balancer_name().map(str::to_owned))
            .collect();
        let mut tags_by_name = std::collections::BTreeMap::new();
        for batch in names.chunks(TAG_BATCH) {
            let output = self
                .0
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
            if tags.get(TAG_ENVIRONMENT).is_none_or(|e| e != environment) {
                continue;
            }
            let attributes = self
                .0
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
            let connection_draining = attributes
                .load_balancer_attributes()
                .and_then(|a| a.connection_draining())
                .filter(|d| d.enabled())
                .map_or(0, |d| d.timeout().unwrap_or(300).clamp(0, i32::from(u16::MAX)) as u16);
            let log_bucket = attributes
                .load_balancer_attributes()
                .and_then(|a| a.access_log())
                .filter(|l| l.enabled())
                .and_then(|l| l.s3_bucket_name().map(str::to_owned));
            let seconds = |value: i32| value.clamp(0, i32::from(u16::MAX)) as u16;
            let health_check = balancer.health_check().map_or(
                Check {
                    interval_seconds: 0,
                    timeout_seconds: 0,
                    healthy_threshold: 0,
                    unhealthy_threshold: 0,
                },
                |h| Check {
                    interval_seconds: seconds(h.interval()),
                    timeout_seconds: seconds(h.timeout()),
                    healthy_threshold: seconds(h.healthy_threshold()),
                    unhealthy_threshold: seconds(h.unhealthy_threshold()),
                },
            );
            let description = balancer.listener_descriptions().first();
            let listener = description.and_then(|d| d.listener());
            let listener_port = listener.map_or(0, |l| l.load_balancer_port()) as u16;
            let instance_port = listener.map_or(0, |l| l.instance_port()) as u16;
            let certificate = listener
                .filter(|l| l.protocol().eq_ignore_ascii_case("HTTPS"))
                .and_then(|l| l.ssl_certificate_id())
                .map(str::to_owned);
            // deployer's policy names the predefined one it references; another policy is named
            // as AWS has it, and differs.
            let ssl_policy = certificate.as_ref().and_then(|_| {
                let names = description.map(|d| d.policy_names()).unwrap_or_default();
                names
                    .iter()
                    .find_map(|n| n.strip_prefix(TLS_POLICY_PREFIX))
                    .or_else(|| names.first().map(String::as_str))
                    .map(str::to_owned)
            });
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
                        certificate,
                        ssl_policy,
                        health_check_target,
                        health_check,
                        cross_zone,
                        connection_draining,
                        access_logs: log_bucket.as_deref().map(lookup),
                    })
                })
                .with_info(|info| info.dns_name = dns),
            );
        }
        Ok(found)
    }

    async fn create(&self, request: Create<'_, ClassicLoadBalancerSpec>) -> Result<String, AwsError> {
        let (spec, resolved) = (request.spec, request.resolved);
        self.0
            .client
            .create_load_balancer()
            .load_balancer_name(&spec.name)
            .listeners(listener(spec))
            .set_subnets(Some(resolved.physical_all(&spec.subnets)?))
            .set_security_groups(Some(resolved.physical_all(&spec.security_groups)?))
            .set_tags(Some(sdk_tags(request.tags)))
            .send()
            .await
            .op("CreateLoadBalancer")?;
        self.configure_health_check(spec).await?;
        self.set_attributes(spec, resolved).await?;
        self.set_tls_policy(spec).await?;
        Ok(spec.name.clone())
    }

    async fn update(&self, request: Update<'_, ClassicLoadBalancerSpec>) -> Result<(), AwsError> {
        let (spec, observed, resolved) = (request.spec, request.observed, request.resolved);
        let name = &spec.name;
        if request.changed(ClassicLoadBalancerSpec::SUBNETS) {
            let want = resolved.physical_all(&spec.subnets)?;
            let have = resolved.physical_all(&observed.subnets)?;
            let add: Vec<String> = want.iter().filter(|s| !have.contains(s)).cloned().collect();
            let remove: Vec<String> = have.iter().filter(|s| !want.contains(s)).cloned().collect();
            if !add.is_empty() {
                self.0
                    .client
                    .attach_load_balancer_to_subnets()
                    .load_balancer_name(name)
                    .set_subnets(Some(add))
                    .send()
                    .await
                    .op("AttachLoadBalancerToSubnets")?;
            }
            if !remove.is_empty() {
                self.0
                    .client
                    .detach_load_balancer_from_subnets()
                    .load_balancer_name(name)
                    .set_subnets(Some(remove))
                    .send()
                    .await
                    .op("DetachLoadBalancerFromSubnets")?;
            }
        }
        if request.changed(ClassicLoadBalancerSpec::SECURITY_GROUPS) {
            self.0
                .client
                .apply_security_groups_to_load_balancer()
                .load_balancer_name(name)
                .set_security_groups(Some(resolved.physical_all(&spec.security_groups)?))
                .send()
                .await
                .op("ApplySecurityGroupsToLoadBalancer")?;
        }
        if request.changed(ClassicLoadBalancerSpec::LISTENER) {
            self.0
                .client
                .delete_load_balancer_listeners()
                .load_balancer_name(name)
                .load_balancer_ports(i32::from(observed.listener_port))
                .send()
                .await
                .op("DeleteLoadBalancerListeners")?;
            self.0
                .client
                .create_load_balancer_listeners()
                .load_balancer_name(name)
                .listeners(listener(spec))
                .send()
                .await
                .op("CreateLoadBalancerListeners")?;
        }
        if request.changed_any(&[ClassicLoadBalancerSpec::LISTENER, ClassicLoadBalancerSpec::SSL_POLICY]) {
            self.set_tls_policy(spec).await?;
        }
        if request.changed(ClassicLoadBalancerSpec::HEALTH_CHECK) {
            self.configure_health_check(spec).await?;
        }
        if request.changed_any(&[
            ClassicLoadBalancerSpec::CROSS_ZONE,
            ClassicLoadBalancerSpec::CONNECTION_DRAINING,
            ClassicLoadBalancerSpec::ACCESS_LOGS,
        ]) {
            self.set_attributes(spec, resolved).await?;
        }
        sync_tags(self.0, name, request.tags, request.current_tags).await
    }

    /// Deleting an absent load balancer succeeds, so this is idempotent. Its network
    /// interfaces linger for a while; the subnet and group deletes retry until they go.
    async fn delete(&self, request: Delete<'_, ClassicLoadBalancerSpec>) -> Result<(), AwsError> {
        self.0
            .client
            .delete_load_balancer()
            .load_balancer_name(request.physical_id)
            .send()
            .await
            .op("DeleteLoadBalancer")?;
        Ok(())
    }

    fn outputs(&self, read: &Read<'_, Self::Spec>, outputs: &mut Outputs) {
        outputs.set_load_balancer(read.resource.info.dns_name.clone());
        if read.spec.certificate.is_some() {
            outputs.serves_https();
        }
    }

    async fn health(&self, read: &Read<'_, Self::Spec>) -> Result<Option<Health>, AwsError> {
        Ok(Some(Health::Targets(
            self.0.instance_health(&read.resource.physical_id).await?,
        )))
    }
}

/// Classic ELB names a listener's TLS policy by a policy of its own that references one of
/// AWS's predefined ones: `deployer-<predefined>`.
const TLS_POLICY_PREFIX: &str = "deployer-";

impl ClassicLoadBalancers<'_> {
    /// Creates the load balancer's policy referencing the predefined TLS policy (once: a
    /// policy of that name already there is the same) and puts it on the HTTPS listener.
    async fn set_tls_policy(&self, spec: &ClassicLoadBalancerSpec) -> Result<(), AwsError> {
        let Some(predefined) = &spec.ssl_policy else {
            return Ok(());
        };
        let name = format!("{TLS_POLICY_PREFIX}{predefined}");
        let reference = PolicyAttribute::builder()
            .attribute_name("Reference-Security-Policy")
            .attribute_value(predefined)
            .build();
        match self
            .0
            .client
            .create_load_balancer_policy()
            .load_balancer_name(&spec.name)
            .policy_name(&name)
            .policy_type_name("SSLNegotiationPolicyType")
            .policy_attributes(reference)
            .send()
            .await
            .op("CreateLoadBalancerPolicy")
        {
            Err(error) if error.code() == Some("DuplicatePolicyName") => {}
            other => other.map(drop)?,
        }
        self.0
            .client
            .set_load_balancer_policies_of_listener()
            .load_balancer_name(&spec.name)
            .load_balancer_port(i32::from(spec.listener_port))
            .policy_names(name)
            .send()
            .await
            .op("SetLoadBalancerPoliciesOfListener")?;
        Ok(())
    }

    async fn configure_health_check(&self, spec: &ClassicLoadBalancerSpec) -> Result<(), AwsError> {
        let health_check = HealthCheck::builder()
            .target(&spec.health_check_target)
            .interval(i32::from(spec.health_check.interval_seconds))
            .timeout(i32::from(spec.health_check.timeout_seconds))
            .healthy_threshold(i32::from(spec.health_check.healthy_threshold))
            .unhealthy_threshold(i32::from(spec.health_check.unhealthy_threshold))
            .build()
            .map_err(|e| AwsError::unbuilt("ConfigureHealthCheck", e))?;
        self.0
            .client
            .configure_health_check()
            .load_balancer_name(&spec.name)
            .health_check(health_check)
            .send()
            .await
            .op("ConfigureHealthCheck")?;
        Ok(())
    }

    /// Cross-zone balancing, connection draining (0 s: off) and access logs, in one call.
    /// Logs are delivered every 5 minutes (the other choice is hourly) at the bucket's root.
    async fn set_attributes(&self, spec: &ClassicLoadBalancerSpec, resolved: &Resolved) -> Result<(), AwsError> {
        let cross_zone = CrossZoneLoadBalancing::builder().enabled(spec.cross_zone).build();
        let draining = ConnectionDraining::builder()
            .enabled(spec.connection_draining > 0)
            .timeout(i32::from(spec.connection_draining.max(1)))
            .build();
        let access_log = match &spec.access_logs {
            Some(bucket) => AccessLog::builder()
                .enabled(true)
                .s3_bucket_name(resolved.physical(bucket)?)
                .emit_interval(5),
            None => AccessLog::builder().enabled(false),
        }
        .build();
        self.0
            .client
            .modify_load_balancer_attributes()
            .load_balancer_name(&spec.name)
            .load_balancer_attributes(
                LoadBalancerAttributes::builder()
                    .cross_zone_load_balancing(cross_zone)
                    .connection_draining(draining)
                    .access_log(access_log)
                    .build(),
            )
            .send()
            .await
            .op("ModifyLoadBalancerAttributes")?;
        Ok(())
    }
}

/// HTTP, or HTTPS ending at the load balancer (the instances answer HTTP on the private side).
fn listener(spec: &ClassicLoadBalancerSpec) -> Listener {
    Listener::builder()
        .protocol(if spec.certificate.is_some() { "HTTPS" } else { "HTTP" })
        .load_balancer_port(i32::from(spec.listener_port))
        .instance_protocol("HTTP")
        .instance_port(i32::from(spec.instance_port))
        .set_ssl_certificate_id(spec.certificate.clone())
        .build()
        .expect("protocol and port are set")
}
