//! The Auto Scaling group of EC2 instances: created from the launch template, replaced by instance refresh, waited on until its instances are in service.

use super::*;

pub(crate) struct AutoScalingGroups<'a>(pub(crate) &'a Asg);

impl Resource for AutoScalingGroups<'_> {
    type Spec = AutoScalingGroupSpec;
    /// Instances boot, start the container and pass the load balancer's checks; deleting a
    /// group terminates them all.
    const TIMEOUT: Duration = Duration::from_secs(20 * 60);

    async fn discover(&self, environment: &str) -> Result<Vec<Found>, AwsError> {
        let groups: Vec<_> = all_pages!(
            self.0.client.describe_auto_scaling_groups().filters(
                Filter::builder()
                    .name(format!("tag:{TAG_ENVIRONMENT}"))
                    .values(environment)
                    .build(),
            ),
            "DescribeAutoScalingGroups"
        )?;
        let mut found = Vec::new();
        for group in groups {
            let name = group.auto_scaling_group_name().unwrap_or_default().to_owned();
            let tags: Tags = group
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned())))
                .collect();
            let template = group
                .launch_template()
                .and_then(|t| t.launch_template_id())
                .unwrap_or_default()
                .to_owned();
            let template_version = tags.get(TAG_DIGEST).cloned().unwrap_or_default();
            let (min, max, desired) = (
                group.min_size().unwrap_or_default() as u32,
                group.max_size().unwrap_or_default() as u32,
                group.desired_capacity().unwrap_or_default() as u32,
            );
            let subnets: Vec<String> = group
                .vpc_zone_identifier()
                .unwrap_or_default()
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            let target_groups: Vec<String> = group.target_group_arns().to_vec();
            let balancers: Vec<String> = group.load_balancer_names().to_vec();
            let health_check_grace_seconds = group
                .health_check_grace_period()
                .map_or(0, |s| s.clamp(0, i32::from(u16::MAX)) as u16);
            let spec_name = name.clone();
            found.push(Found::new(name, tags, move |lookup| {
                Spec::AutoScalingGroup(AutoScalingGroupSpec {
                    name: spec_name,
                    launch_template: lookup(&template),
                    template_version,
                    min,
                    max,
                    desired,
                    scaled: false,
                    subnets: subnets.iter().map(|s| lookup(s)).collect(),
                    target_groups: target_groups.iter().map(|t| lookup(t)).collect(),
                    classic_load_balancers: balancers.iter().map(|b| lookup(b)).collect(),
                    health_check_grace_seconds,
                })
            }));
        }
        Ok(found)
    }

    async fn create(&self, request: Create<'_, AutoScalingGroupSpec>) -> Result<String, AwsError> {
        let (spec, resolved) = (request.spec, request.resolved);
        // Its instances use the launch template's instance profile, often created just before.
        crate::aws::retry::create_after_iam(&spec.name, request.progress, || async {
            self.0
                .client
                .create_auto_scaling_group()
                .auto_scaling_group_name(&spec.name)
                .launch_template(template(spec, resolved)?)
                .min_size(spec.min as i32)
                .max_size(spec.max as i32)
                .desired_capacity(spec.desired as i32)
                .vpc_zone_identifier(resolved.physical_all(&spec.subnets)?.join(","))
                .set_target_group_arns(Some(resolved.physical_all(&spec.target_groups)?))
                .set_load_balancer_names(Some(resolved.physical_all(&spec.classic_load_balancers)?))
                .health_check_type("ELB")
                .health_check_grace_period(i32::from(spec.health_check_grace_seconds))
                .set_tags(Some(sdk_tags(&spec.name, request.tags)))
                .send()
                .await
                .op("CreateAutoScalingGroup")
        })
        .await?;
        let wait = request.wait(format!("{} instances of {} in service", spec.desired, spec.name));
        self.wait_in_service(&spec.name, spec.desired, wait).await?;
        Ok(spec.name.clone())
    }

    async fn update(&self, request: Update<'_, AutoScalingGroupSpec>) -> Result<(), AwsError> {
        let (spec, observed, resolved) = (request.spec, request.observed, request.resolved);
        let name = &spec.name;
        if request.changed_any(&[
            AutoScalingGroupSpec::LAUNCH_TEMPLATE,
            AutoScalingGroupSpec::MIN,
            AutoScalingGroupSpec::MAX,
            AutoScalingGroupSpec::DESIRED,
            AutoScalingGroupSpec::SUBNETS,
            AutoScalingGroupSpec::HEALTH_CHECK_GRACE_SECONDS,
        ]) {
            self.0
                .client
                .update_auto_scaling_group()
                .auto_scaling_group_name(name)
                .launch_template(template(spec, resolved)?)
                .min_size(spec.min as i32)
                .max_size(spec.max as i32)
                // A scaled group's capacity is its policies'; a new min or max still bounds it.
                .set_desired_capacity(
                    request
                        .changed(AutoScalingGroupSpec::DESIRED)
                        .then_some(spec.desired as i32),
                )
                .vpc_zone_identifier(resolved.physical_all(&spec.subnets)?.join(","))
                .health_check_grace_period(i32::from(spec.health_check_grace_seconds))
                .send()
                .await
                .op("UpdateAutoScalingGroup")?;
        }
        if request.changed(AutoScalingGroupSpec::TARGET_GROUPS) {
            let (attach, detach) = membership(resolved, &spec.target_groups, &observed.target_groups)?;
            if !detach.is_empty() {
                self.0
                    .client
                    .detach_load_balancer_target_groups()
                    .auto_scaling_group_name(name)
                    .set_target_group_arns(Some(detach))
                    .send()
                    .await
                    .op("DetachLoadBalancerTargetGroups")?;
            }
            if !attach.is_empty() {
                self.0
                    .client
                    .attach_load_balancer_target_groups()
                    .auto_scaling_group_name(name)
                    .set_target_group_arns(Some(attach))
                    .send()
                    .await
                    .op("AttachLoadBalancerTargetGroups")?;
            }
        }
        if request.changed(AutoScalingGroupSpec::CLASSIC_LOAD_BALANCERS) {
            let (attach, detach) =
                membership(resolved, &spec.classic_load_balancers, &observed.classic_load_balancers)?;
            if !detach.is_empty() {
                self.0
                    .client
                    .detach_load_balancers()
                    .auto_scaling_group_name(name)
                    .set_load_balancer_names(Some(detach))
                    .send()
                    .await
                    .op("DetachLoadBalancers")?;
            }
            if !attach.is_empty() {
                self.0
                    .client
                    .attach_load_balancers()
                    .auto_scaling_group_name(name)
                    .set_load_balancer_names(Some(attach))
                    .send()
                    .await
                    .op("AttachLoadBalancers")?;
            }
        }
        sync_tags(self.0, name, request.tags, request.current_tags).await?;
        if spec.template_version != observed.template_version {
            let wait = request.wait(format!(
                "the instance refresh of {name} to roll the new launch template version"
            ));
            self.refresh(name, wait).await?;
        }
        Ok(())
    }

    /// Force-deletes the group (terminating its instances) and waits until it is gone.
    async fn delete(&self, request: Delete<'_, AutoScalingGroupSpec>) -> Result<(), AwsError> {
        let name = request.physical_id;
        match self
            .0
            .client
            .delete_auto_scaling_group()
            .auto_scaling_group_name(name)
            .force_delete(true)
            .send()
            .await
            .op("DeleteAutoScalingGroup")
        {
            Err(error) if error.code() == Some("ValidationError") && error.to_string().contains("not found") => {
                return Ok(());
            }
            other => other?,
        };
        poll(
            request.wait(format!("{name} to terminate its instances and go")),
            || async {
                let groups = self.describe(name).await?;
                Ok(match groups.first() {
                    None => Check::Done(()),
                    Some(group) => Check::Pending(group.status().unwrap_or("deleting").to_owned()),
                })
            },
        )
        .await
    }

    async fn health(&self, read: &Read<'_, Self::Spec>) -> Result<Option<Health>, AwsError> {
        Ok(self
            .0
            .group_status(&read.resource.physical_id)
            .await?
            .map(Health::Compute))
    }
}

impl Asg {
    /// The group as it runs now: instances in service and pending, its launch template
    /// version, its latest activities.
    /// The ids of the group's instances in service, for an operator's session.
    pub async fn instances_in_service(&self, name: &str) -> Result<Vec<String>, AwsError> {
        let groups = AutoScalingGroups(self).describe(name).await?;
        Ok(groups
            .iter()
            .flat_map(|g| g.instances())
            .filter(|i| i.lifecycle_state().is_some_and(|s| s.as_str() == "InService"))
            .filter_map(|i| i.instance_id().map(str::to_owned))
            .collect())
    }

    pub async fn group_status(&self, name: &str) -> Result<Option<super::super::ComputeStatus>, AwsError> {
        let groups = AutoScalingGroups(self).describe(name).await?;
        let Some(group) = groups.first() else {
            return Ok(None);
        };
        let states: Vec<&str> = group
            .instances()
            .iter()
            .filter_map(|i| i.lifecycle_state())
            .map(|s| s.as_str())
            .collect();
        let count = |f: &dyn Fn(&str) -> bool| states.iter().filter(|s| f(s)).count() as u32;
        let activities = self
            .client
            .describe_scaling_activities()
            .auto_scaling_group_name(name)
            .max_records(super::super::status::EVENTS as i32)
            .send()
            .await
            .op("DescribeScalingActivities")?;
        let template = group.launch_template();
        Ok(Some(super::super::ComputeStatus {
            name: name.to_owned(),
            desired: group.desired_capacity().unwrap_or_default().max(0) as u32,
            running: count(&|s| s == "InService"),
            pending: count(&|s| s.starts_with("Pending")),
            deployment: None,
            revision: {
                // What the instances run, not the group's `$Default` pointer.
                let versions: std::collections::BTreeSet<&str> = group
                    .instances()
                    .iter()
                    .filter_map(|i| i.launch_template().and_then(|t| t.version()))
                    .collect();
                format!(
                    "launch template {} version {}",
                    template.and_then(|t| t.launch_template_name()).unwrap_or("?"),
                    versions.into_iter().collect::<Vec<_>>().join(", ")
                )
            },
            events: activities
                .activities()
                .iter()
                .map(|a| {
                    format!(
                        "{}: {}",
                        a.status_code().map_or("?", |s| s.as_str()),
                        a.description().unwrap_or_default()
                    )
                })
                .collect(),
        }))
    }
}

impl AutoScalingGroups<'_> {
    async fn describe(&self, name: &str) -> Result<Vec<aws_sdk_autoscaling::types::AutoScalingGroup>, AwsError> {
        let output = self
            .0
            .client
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(name)
            .send()
            .await
            .op("DescribeAutoScalingGroups")?;
        Ok(output.auto_scaling_groups().to_vec())
    }

    /// Waits until `desired` instances are InService (on real AWS: booted and passing the
    /// load balancer's health check).
    async fn wait_in_service(&self, name: &str, desired: u32, wait: Wait<'_>) -> Result<(), AwsError> {
        poll(wait, || async {
            let groups = self.describe(name).await?;
            let states: Vec<&str> = groups
                .first()
                .map(|g| {
                    g.instances()
                        .iter()
                        .filter_map(|i| i.lifecycle_state())
                        .map(|s| s.as_str())
                        .collect()
                })
                .unwrap_or_default();
            Ok(capacity_check(&states, desired))
        })
        .await
    }

    /// Replaces the group's instances with ones from the new template version, a few at a time,
    /// and follows the refresh to its end: a failed or cancelled one fails the apply with AWS's
    /// reason. Not with auto-rollback: AWS refuses it for a group on the template's `$Default`
    /// version, and without a desired configuration naming a numbered version.
    async fn refresh(&self, name: &str, wait: Wait<'_>) -> Result<(), AwsError> {
        let preferences = aws_sdk_autoscaling::types::RefreshPreferences::builder()
            .min_healthy_percentage(REFRESH_MIN_HEALTHY_PERCENT)
            .max_healthy_percentage(REFRESH_MAX_HEALTHY_PERCENT)
            .build();
        let id = match self
            .0
            .client
            .start_instance_refresh()
            .auto_scaling_group_name(name)
            .preferences(preferences)
            .send()
            .await
            .op("StartInstanceRefresh")
        {
            Ok(output) => output.instance_refresh_id().unwrap_or_default().to_owned(),
            // The local emulator does not implement instance refreshes (an HTML 500, which
            // is not retried): new instances still launch from the new version; say so and
            // go on.
            Err(AwsError::Unrecognized { status: 500, .. }) => {
                tracing::warn!(
                    "{name}: this endpoint cannot start an instance refresh; existing instances keep the old version until replaced"
                );
                wait.progress
                    .waiting("nothing: instance refresh is not supported by this endpoint");
                return Ok(());
            }
            // One already rolling will pick up the latest version on its own.
            Err(error) if error.code() == Some("InstanceRefreshInProgress") => return Ok(()),
            Err(error) => return Err(error),
        };
        poll(wait, || async {
            let output = self
                .0
                .client
                .describe_instance_refreshes()
                .auto_scaling_group_name(name)
                .instance_refresh_ids(&id)
                .send()
                .await
                .op("DescribeInstanceRefreshes")?;
            Ok(output.instance_refreshes().first().map_or_else(
                || Check::Pending("not visible yet".to_owned()),
                |refresh| {
                    refresh_check(
                        refresh.status().map_or("Pending", |s| s.as_str()),
                        refresh.status_reason(),
                        refresh.percentage_complete(),
                    )
                },
            ))
        })
        .await
    }
}

/// What an instance refresh's status means for its wait.
fn refresh_check(status: &str, reason: Option<&str>, percentage: Option<i32>) -> Check<()> {
    let reason = reason.map(|r| format!(": {r}")).unwrap_or_default();
    match status {
        "Successful" => Check::Done(()),
        // A rollback means the new version failed: the apply must say so, even while AWS
        // is still putting the old version back.
        "Failed" | "Cancelled" | "Cancelling" | "RollbackInProgress" | "RollbackSuccessful" | "RollbackFailed" => {
            Check::Failed(format!("{status}{reason}"))
        }
        _ => Check::Pending(format!("{status}, {}% done", percentage.unwrap_or(0))),
    }
}

/// Whether `desired` instances are in service, and if not, what the group's instances are
/// doing: `1 of 2 in service (1 Pending)`.
fn capacity_check(states: &[&str], desired: u32) -> Check<()> {
    let in_service = states.iter().filter(|s| **s == "InService").count();
    if in_service >= desired as usize {
        return Check::Done(());
    }
    let mut others: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for state in states.iter().filter(|s| **s != "InService") {
        *others.entry(state).or_default() += 1;
    }
    let others: Vec<String> = others.iter().map(|(state, n)| format!("{n} {state}")).collect();
    let detail = if others.is_empty() {
        String::new()
    } else {
        format!(" ({})", others.join(", "))
    };
    Check::Pending(format!("{in_service} of {desired} in service{detail}"))
}

/// The members to attach and to detach to go from `observed` to `wanted`.
fn membership(
    resolved: &Resolved,
    wanted: &std::collections::BTreeSet<crate::model::Ref>,
    observed: &std::collections::BTreeSet<crate::model::Ref>,
) -> Result<(Vec<String>, Vec<String>), AwsError> {
    let want = resolved.physical_all(wanted)?;
    let have = resolved.physical_all(observed)?;
    let attach = want.iter().filter(|m| !have.contains(m)).cloned().collect();
    let detach = have.iter().filter(|m| !want.contains(m)).cloned().collect();
    Ok((attach, detach))
}

fn template(spec: &AutoScalingGroupSpec, resolved: &Resolved) -> Result<LaunchTemplateSpecification, AwsError> {
    Ok(LaunchTemplateSpecification::builder()
        .launch_template_id(resolved.physical(&spec.launch_template)?)
        .version("$Default")
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_is_done_when_enough_instances_are_in_service_and_says_what_the_rest_do() {
        assert!(matches!(
            capacity_check(&["InService", "Pending", "Pending:Wait"], 2),
            Check::Pending(s) if s == "1 of 2 in service (1 Pending, 1 Pending:Wait)"
        ));
        assert!(matches!(capacity_check(&[], 1), Check::Pending(s) if s == "0 of 1 in service"));
        assert!(matches!(
            capacity_check(&["InService", "InService"], 2),
            Check::Done(())
        ));
    }

    #[test]
    fn a_failed_refresh_fails_with_aws_reason_and_a_rolling_one_is_waited_for() {
        assert!(matches!(
            refresh_check(
                "RollbackSuccessful",
                Some("An instance failed its health check; rolled back to version 3"),
                Some(50)
            ),
            Check::Failed(s) if s == "RollbackSuccessful: An instance failed its health check; rolled back to version 3"
        ));
        assert!(matches!(
            refresh_check("InProgress", None, Some(40)),
            Check::Pending(s) if s == "InProgress, 40% done"
        ));
        assert!(matches!(refresh_check("Baking", None, Some(100)), Check::Pending(_)));
        assert!(matches!(refresh_check("Successful", None, Some(100)), Check::Done(())));
    }
}
