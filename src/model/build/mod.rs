//! From an environment's config and the account's `Facts` to the set of resources it should
//! consist of, each with its tags (names from `names.rs`). One file per feature, called in
//! order by `desired`: the network, the security groups, the registry, the load balancer and
//! its access logs, IAM, the compute, the database and the alarms. Each adds its resources by
//! logical id; this file tags them all.

mod access_logs;
mod alarms;
mod bootstrap;
mod compute;
mod database;
mod iam;
mod load_balancer;
mod network;
mod registry;
mod security_groups;

pub use access_logs::log_bucket_name;
pub use bootstrap::{BootstrapInput, CiPolicies, desired_bootstrap, github_environment};

use std::collections::{BTreeMap, BTreeSet};

use super::facts::Facts;
use super::spec::*;
use super::{Desired, DesiredResource, Id, TAG_PROTECT, names, tags_for};
use crate::config::EnvironmentConfig;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(
        "network.azs asks for {wanted} availability zones but the region offers {} ({})\n  help: lower network.azs in the environment file",
        available.len(),
        if available.is_empty() { "none".to_owned() } else { available.join(", ") }
    )]
    NotEnoughZones { wanted: u8, available: Vec<String> },

    #[error(
        "no Amazon Linux 2023 AMI was found in {region}\n  help: set compute.ami to an AMI id in the environment file"
    )]
    NoImage { region: String },

    #[error(
        "{environment} has no image to run: its file sets no app.image and nothing has been pushed to its repository {repository} yet\n  help: run `deployer apply {environment} --build` to build, push and deploy the bundled API in one go (or `deployer push {environment}`, then apply); to run an image built elsewhere, set app.image or pass --image"
    )]
    NothingPushed { environment: String, repository: String },

    #[error(
        "the image to run: {message}\n  help: name an image such as 123456789012.dkr.ecr.us-east-1.amazonaws.com/api@sha256:<digest> or ghcr.io/owner/api:1.0.0"
    )]
    Image { message: String },

    #[error(
        "{field} is `{value}`, not {expected}\n  help: these facts are read from AWS; a saved plan carrying this value was edited or is corrupt: make a new one with `deployer plan ENV --out FILE`"
    )]
    Fact {
        field: &'static str,
        value: String,
        expected: &'static str,
    },

    #[error(transparent)]
    Template(#[from] super::templates::TemplateError),
}

pub(super) const ANYWHERE: &str = "0.0.0.0/0";
const HTTPS: i32 = 443;
const POSTGRES: i32 = 5432;
const CONTAINER_NAME: &str = "api";
/// The API listens within a second of its container starting (the container's own health
/// check allows 10 s): ECS need not ignore failing checks of a new task for long.
const TASK_GRACE_SECONDS: u16 = 15;
/// An instance boots, installs Docker and the ECR helper and pulls the image (about 90 s on
/// Amazon Linux 2023) before the API answers.
const INSTANCE_GRACE_SECONDS: u16 = 120;
/// The root device of Amazon Linux AMIs (2023 and the ECS-optimized ones); an AMI given in
/// `compute.ami` must use it too, or the mapping adds a second volume instead.
const ROOT_DEVICE: &str = "/dev/xvda";

/// The suffix used in logical ids for the AZ at `index`: a, b, c, …
fn zone_letter(index: usize) -> char {
    char::from(b'a' + u8::try_from(index).expect("at most 6 zones"))
}

/// Builds the model with stand-in facts, so that everything but what only AWS can answer (its
/// zones, its AMIs) is checked without calling it: templates render, container definitions
/// have a shape ECS takes. What `validate` runs.
pub fn check_without_aws(config: &EnvironmentConfig) -> Result<(), ModelError> {
    desired(config, &stand_in_facts(config)).map(drop)
}

/// Facts of the shape AWS would give (one zone per `network.azs`, an account, an AMI, a
/// pushed image), for what needs the model's structure and not AWS's values.
pub fn stand_in_facts(config: &EnvironmentConfig) -> Facts {
    let region = config.region.clone().unwrap_or_else(|| "us-east-1".to_owned());
    Facts {
        availability_zones: (0..usize::from(config.network.azs))
            .map(|i| format!("{region}{}", zone_letter(i)))
            .collect(),
        pushed_image: Some(format!(
            "000000000000.dkr.ecr.{region}.amazonaws.com/{}@sha256:{}",
            names::repository(&config.name),
            "0".repeat(64)
        )),
        region,
        account_id: "000000000000".to_owned(),
        default_image_id: Some("ami-00000000".to_owned()),
    }
}

pub fn desired(config: &EnvironmentConfig, facts: &Facts) -> Result<Desired, ModelError> {
    facts.check()?;
    let zone_count = usize::from(config.network.azs);
    if facts.availability_zones.len() < zone_count {
        return Err(ModelError::NotEnoughZones {
            wanted: config.network.azs,
            available: facts.availability_zones.clone(),
        });
    }
    let zones = &facts.availability_zones[..zone_count];
    let mut specs: BTreeMap<Id, Spec> = BTreeMap::new();
    let mut add = |id: String, spec: Spec| {
        specs.insert(Id::new(id), spec);
    };

    network::add_network(config, zones, &mut add);
    security_groups::add_security_groups(config, &mut add);

    add("repository".into(), registry::repository(config));
    add(
        "log-group".into(),
        Spec::LogGroup(LogGroupSpec {
            name: names::log_group(&config.name),
            retention_days: config.logs.retention_days,
        }),
    );
    load_balancer::add_load_balancer(config, facts, zone_count, &mut add);
    compute::add_compute(config, facts, zone_count, &mut add)?;
    database::add_database(config, &facts.availability_zones[..zone_count], &mut add);
    for (id, spec) in alarms::alarms(config, facts) {
        add(id, spec);
    }

    let mut waits = super::ordering::waits_for(&specs);
    let resources = specs
        .into_iter()
        .map(|(id, spec)| {
            let mut resource = desired_resource(config, &id, spec);
            resource.after = waits.remove(&id).unwrap_or_default();
            (id, resource)
        })
        .collect();
    Ok(Desired {
        environment: config.name.clone(),
        resources,
    })
}

/// The repository alone, as `desired` has it: what `push` creates before the first image
/// exists (the rest of the environment cannot be built without one).
pub fn desired_repository(config: &EnvironmentConfig) -> Desired {
    let id = Id::from("repository");
    let resource = desired_resource(config, &id, registry::repository(config));
    Desired {
        environment: config.name.clone(),
        resources: BTreeMap::from([(id, resource)]),
    }
}

fn health_check(config: &crate::config::HealthCheckConfig) -> HealthCheck {
    HealthCheck {
        interval_seconds: config.interval_seconds,
        timeout_seconds: config.timeout_seconds,
        healthy_threshold: config.healthy_threshold,
        unhealthy_threshold: config.unhealthy_threshold,
    }
}

/// A spec with the tags deployer puts on it.
fn desired_resource(config: &EnvironmentConfig, id: &Id, spec: Spec) -> DesiredResource {
    let mut tags = if spec.kind().has_tags() {
        tags_for(&config.name, id, &spec, &config.tags)
    } else {
        Default::default()
    };
    // So that `destroy` knows, even without the environment file.
    if config.protect && spec.kind().has_tags() {
        tags.insert(TAG_PROTECT.to_owned(), "true".to_owned());
    }
    for (key, value) in spec.own_tags(config.protect) {
        tags.insert(key.to_owned(), value);
    }
    DesiredResource {
        spec,
        tags,
        after: BTreeSet::new(),
    }
}

/// Facts as discovery would report them for us-east-1, for tests.
#[cfg(test)]
pub(crate) fn example_facts(zones: usize) -> Facts {
    Facts {
        availability_zones: ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"][..zones]
            .iter()
            .map(|z| (*z).to_owned())
            .collect(),
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        default_image_id: Some("ami-0123456789abcdef0".into()),
        pushed_image: Some(format!(
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/deployer/example/api@sha256:{}",
            "e".repeat(64)
        )),
    }
}

/// What discovery would report right after a successful apply of `desired`, for tests.
#[cfg(test)]
pub(crate) fn as_deployed(desired: &Desired) -> Vec<super::ObservedResource> {
    desired
        .resources
        .iter()
        .map(|(id, r)| super::ObservedResource {
            id: id.clone(),
            physical_id: format!("aws-{id}"),
            spec: r.spec.clone(),
            tags: r.tags.clone(),
            info: Default::default(),
        })
        .collect()
}

fn subnets(tier: &str, zone_count: usize) -> BTreeSet<Ref> {
    (0..zone_count)
        .map(|i| Ref::Managed(Id::new(format!("subnet-{tier}-{}", zone_letter(i)))))
        .collect()
}

fn group(role: &str) -> BTreeSet<Ref> {
    BTreeSet::from([Ref::Managed(Id::new(format!("security-group-{role}")))])
}

#[cfg(test)]
mod tests;
