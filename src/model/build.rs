//! From an environment's config and the account's `Facts` to the set of resources it should
//! consist of, each with its tags (names from `names.rs`).

use std::collections::{BTreeMap, BTreeSet};

use super::access_logs::log_bucket;
use super::scaling::{GroupScalingSpec, RequestScaling, ScalingPolicies, ServiceScalingSpec};
use super::spec::*;
use super::templates::{AppTemplateInput, container_definitions, user_data};
use super::{Desired, DesiredResource, Id, TAG_ENVIRONMENT, TAG_PROTECT, names, tags_for};
use crate::config::{ComputeKind, EnvironmentConfig, LoadBalancerKind, NatMode, SecretRef};

/// What the model needs to know about the target account, read by discovery.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Facts {
    /// The region's usable availability zones, sorted by name.
    pub availability_zones: Vec<String>,
    pub region: String,
    /// The AWS account, for ARNs of secrets.
    pub account_id: String,
    /// The AMI EC2 compute boots when the file names none (latest Amazon Linux 2023).
    pub default_image_id: Option<String>,
    /// The image most recently pushed to the environment's repository, by digest
    /// (`<registry>/<repository>@sha256:...`); what runs when the file names no `app.image`.
    pub pushed_image: Option<String>,
}

impl Facts {
    /// Each fact has the shape AWS gives it. Facts come from AWS or from a saved plan, which is
    /// a file anyone with write access to it may have edited: they go into names, ARNs, user
    /// data and task definitions, so nothing else gets in.
    pub fn check(&self) -> Result<(), ModelError> {
        let fact = |field, value: &str, expected| ModelError::Fact {
            field,
            value: crate::printable::printable_line(value).into_owned(),
            expected,
        };
        if !crate::config::is_region_name(&self.region) {
            return Err(fact("facts.region", &self.region, "a region name such as us-east-1"));
        }
        if self.account_id.len() != 12 || !self.account_id.chars().all(|c| c.is_ascii_digit()) {
            return Err(fact("facts.account_id", &self.account_id, "a 12-digit account id"));
        }
        for zone in &self.availability_zones {
            let zone_ok = zone.strip_prefix(self.region.as_str()).is_some_and(|rest| {
                !rest.is_empty()
                    && rest
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            });
            if !zone_ok {
                return Err(fact(
                    "facts.availability_zones",
                    zone,
                    "a zone of the region, such as us-east-1a",
                ));
            }
        }
        if let Some(ami) = &self.default_image_id {
            let hex = ami.strip_prefix("ami-").unwrap_or_default();
            if !matches!(hex.len(), 8 | 17) || !hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')) {
                return Err(fact(
                    "facts.default_image_id",
                    ami,
                    "an AMI id (ami- and 8 or 17 hex digits)",
                ));
            }
        }
        if let Some(image) = &self.pushed_image
            && !self.is_ecr_digest(image)
        {
            return Err(fact(
                "facts.pushed_image",
                image,
                "an image of an ECR repository of the account and region, by digest",
            ));
        }
        Ok(())
    }

    /// `<account>.dkr.ecr.<region>.<domain>/<path>@sha256:<hex>`.
    pub fn is_ecr_digest(&self, image: &str) -> bool {
        crate::config::ImageReference::parse(image).is_ok_and(|reference| {
            let registry = format!("{}.dkr.ecr.{}.", self.account_id, self.region);
            reference.host().is_some_and(|host| host.starts_with(&registry))
                && crate::config::is_digest_in(image, reference.name)
        })
    }
}

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

    add(
        "vpc".into(),
        Spec::Vpc(VpcSpec {
            cidr: config.network.cidr.to_string(),
            dns_support: true,
            dns_hostnames: true,
        }),
    );
    add(
        "internet-gateway".into(),
        Spec::InternetGateway(InternetGatewaySpec {
            vpc: Some(Ref::to("vpc")),
        }),
    );

    let public = config.network.public_subnet_cidrs();
    let private = config.network.private_subnet_cidrs();
    for (index, zone) in zones.iter().enumerate() {
        let letter = zone_letter(index);
        for (tier, cidr) in [("public", public[index]), ("private", private[index])] {
            add(
                format!("subnet-{tier}-{letter}"),
                Spec::Subnet(SubnetSpec {
                    vpc: Ref::to("vpc"),
                    cidr: cidr.to_string(),
                    availability_zone: zone.clone(),
                }),
            );
        }
    }

    let nat_zones = match config.network.nat {
        NatMode::None => 0,
        NatMode::Single => 1,
        NatMode::PerAz => zone_count,
    };
    for index in 0..nat_zones {
        let letter = zone_letter(index);
        add(format!("nat-eip-{letter}"), Spec::ElasticIp(ElasticIpSpec {}));
        add(
            format!("nat-gateway-{letter}"),
            Spec::NatGateway(NatGatewaySpec {
                subnet: Ref::Managed(Id::new(format!("subnet-public-{letter}"))),
                elastic_ip: Ref::Managed(Id::new(format!("nat-eip-{letter}"))),
            }),
        );
    }

    add(
        "route-table-public".into(),
        Spec::RouteTable(RouteTableSpec {
            vpc: Ref::to("vpc"),
            routes: BTreeSet::from([Route {
                destination: ANYWHERE.into(),
                target: RouteTarget::InternetGateway(Ref::to("internet-gateway")),
            }]),
            subnets: (0..zone_count)
                .map(|i| Ref::Managed(Id::new(format!("subnet-public-{}", zone_letter(i)))))
                .collect(),
        }),
    );
    for index in 0..zone_count {
        let letter = zone_letter(index);
        let routes = if nat_zones == 0 {
            BTreeSet::new()
        } else {
            // With a single NAT every zone routes through zone a's gateway.
            let nat_letter = zone_letter(index.min(nat_zones - 1));
            BTreeSet::from([Route {
                destination: ANYWHERE.into(),
                target: RouteTarget::NatGateway(Ref::Managed(Id::new(format!("nat-gateway-{nat_letter}")))),
            }])
        };
        add(
            format!("route-table-private-{letter}"),
            Spec::RouteTable(RouteTableSpec {
                vpc: Ref::to("vpc"),
                routes,
                subnets: BTreeSet::from([Ref::Managed(Id::new(format!("subnet-private-{letter}")))]),
            }),
        );
    }

    let has_database = config.database.is_some();
    let groups: &[(&str, &str)] = if has_database {
        &[("lb", "load balancer"), ("app", "application"), ("db", "database")]
    } else {
        &[("lb", "load balancer"), ("app", "application")]
    };
    for (role, what) in groups {
        add(
            format!("security-group-{role}"),
            Spec::SecurityGroup(SecurityGroupSpec {
                vpc: Ref::to("vpc"),
                name: format!("{}-{role}", config.name),
                description: format!("deployer {}: {what}", config.name),
            }),
        );
    }
    let group = |role: &str| Peer::SecurityGroup(Ref::Managed(Id::new(format!("security-group-{role}"))));
    let tcp = |port: i32, peer: Peer, description: &str| Rule {
        protocol: "tcp".into(),
        from_port: port,
        to_port: port,
        peer,
        description: description.into(),
    };
    let lb_port = i32::from(config.load_balancer.port);
    let app_port = i32::from(config.app.port);

    // Least privilege: the internet reaches only the load balancer, the load balancer only the
    // API port, the API only the database and HTTPS (image pulls, AWS APIs); the database nothing.
    // With HTTPS an ALB keeps port 80 to redirect; a classic ELB cannot redirect, so it has
    // no port 80 at all.
    let lb = &config.load_balancer;
    let mut lb_ingress = BTreeSet::new();
    if lb.https.is_none() || lb.kind == LoadBalancerKind::Alb {
        lb_ingress.insert(tcp(lb_port, Peer::Cidr(ANYWHERE.into()), "HTTP from anywhere"));
    }
    if lb.https.is_some() {
        lb_ingress.insert(tcp(HTTPS, Peer::Cidr(ANYWHERE.into()), "HTTPS from anywhere"));
    }
    let lb_rules = SecurityGroupRulesSpec {
        group: Ref::to("security-group-lb"),
        ingress: lb_ingress,
        egress: BTreeSet::from([tcp(app_port, group("app"), "to the API")]),
    };
    let mut app_egress = BTreeSet::from([tcp(HTTPS, Peer::Cidr(ANYWHERE.into()), "HTTPS for images and AWS APIs")]);
    if has_database {
        app_egress.insert(tcp(POSTGRES, group("db"), "to the database"));
    }
    let app_rules = SecurityGroupRulesSpec {
        group: Ref::to("security-group-app"),
        ingress: BTreeSet::from([
            tcp(app_port, group("lb"), "API from the load balancer"),
            // Prometheus inside the VPC; the load balancer never forwards this port.
            tcp(
                i32::from(config.app.metrics_port),
                Peer::Cidr(config.network.cidr.to_string()),
                "metrics from inside the VPC",
            ),
        ]),
        egress: app_egress,
    };
    add("security-group-lb-rules".into(), Spec::SecurityGroupRules(lb_rules));
    add("security-group-app-rules".into(), Spec::SecurityGroupRules(app_rules));
    if has_database {
        add(
            "security-group-db-rules".into(),
            Spec::SecurityGroupRules(SecurityGroupRulesSpec {
                group: Ref::to("security-group-db"),
                ingress: BTreeSet::from([tcp(POSTGRES, group("app"), "PostgreSQL from the API")]),
                egress: BTreeSet::new(),
            }),
        );
    }

    add("repository".into(), repository(config));
    add(
        "log-group".into(),
        Spec::LogGroup(LogGroupSpec {
            name: names::log_group(&config.name),
            retention_days: config.logs.retention_days,
        }),
    );
    add_load_balancer(config, facts, zone_count, &mut add);
    add_compute(config, facts, zone_count, &mut add)?;
    add_database(config, &facts.availability_zones[..zone_count], &mut add);
    for (id, spec) in super::alarms::alarms(config, facts) {
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
    let resource = desired_resource(config, &id, repository(config));
    Desired {
        environment: config.name.clone(),
        resources: BTreeMap::from([(id, resource)]),
    }
}

fn repository(config: &EnvironmentConfig) -> Spec {
    Spec::EcrRepository(RepositorySpec {
        name: names::repository(&config.name),
        scan_on_push: true,
        immutable_tags: true,
        encryption: "AES256".into(),
        keep_images: config.registry.keep_images,
        policy: String::new(),
    })
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

fn add_load_balancer(config: &EnvironmentConfig, facts: &Facts, zone_count: usize, add: &mut impl FnMut(String, Spec)) {
    let name = &config.name;
    let lb = &config.load_balancer;
    let access_logs = log_bucket(config, facts).map(|bucket| {
        add("log-bucket".into(), Spec::LogBucket(bucket));
        Ref::to("log-bucket")
    });
    match lb.kind {
        LoadBalancerKind::Elb => add(
            "load-balancer".into(),
            Spec::ClassicLoadBalancer(ClassicLoadBalancerSpec {
                name: names::load_balancer(name),
                subnets: subnets("public", zone_count),
                security_groups: group("lb"),
                // HTTPS replaces HTTP: credentials never cross in clear.
                listener_port: if lb.https.is_some() { HTTPS as u16 } else { lb.port },
                instance_port: config.app.port,
                certificate: lb.https.as_ref().map(|h| h.certificate_arn.clone()),
                ssl_policy: lb.https.as_ref().map(|h| h.tls_policy(LoadBalancerKind::Elb)),
                health_check_target: format!("HTTP:{}{}", config.app.port, lb.health_check_path),
                health_check: health_check(&lb.health_check),
                cross_zone: true,
                connection_draining: lb.deregistration_delay_seconds,
                access_logs,
            }),
        ),
        LoadBalancerKind::Alb => {
            add(
                "load-balancer".into(),
                Spec::LoadBalancer(LoadBalancerSpec {
                    name: names::load_balancer(name),
                    subnets: subnets("public", zone_count),
                    security_groups: group("lb"),
                    drop_invalid_header_fields: true,
                    desync_mitigation_mode: "strictest".into(),
                    deletion_protection: config.protect,
                    access_logs,
                }),
            );
            let target_type = match config.compute.kind {
                ComputeKind::Ec2 => "instance",
                ComputeKind::Ecs => "ip",
            };
            add(
                "target-group".into(),
                Spec::TargetGroup(TargetGroupSpec {
                    name: names::target_group(name, config.app.port, target_type),
                    vpc: Ref::to("vpc"),
                    port: config.app.port,
                    target_type: target_type.into(),
                    health_check_path: lb.health_check_path.clone(),
                    health_check: health_check(&lb.health_check),
                    deregistration_delay: lb.deregistration_delay_seconds,
                }),
            );
            let forward = ListenerAction::Forward(Ref::to("target-group"));
            // With HTTPS, port 80 only sends clients to 443: credentials never cross in clear.
            let http_action = match &lb.https {
                Some(https) => {
                    add(
                        "listener-https".into(),
                        Spec::Listener(ListenerSpec {
                            load_balancer: Ref::to("load-balancer"),
                            port: HTTPS as u16,
                            protocol: "HTTPS".into(),
                            certificate: Some(https.certificate_arn.clone()),
                            ssl_policy: Some(https.tls_policy(LoadBalancerKind::Alb)),
                            action: forward,
                        }),
                    );
                    ListenerAction::RedirectToHttps(HTTPS as u16)
                }
                None => forward,
            };
            add(
                "listener-http".into(),
                Spec::Listener(ListenerSpec {
                    load_balancer: Ref::to("load-balancer"),
                    port: lb.port,
                    protocol: "HTTP".into(),
                    certificate: None,
                    ssl_policy: None,
                    action: http_action,
                }),
            );
        }
    }
}

/// Where the API token lives, as an ARN (for IAM policies and ECS `valueFrom`).
fn token_arn(token: &SecretRef, region: &str, account: &str) -> String {
    match token {
        SecretRef::Ssm(path) => format!("arn:aws:ssm:{region}:{account}:parameter{path}"),
        SecretRef::SecretsManager(name) => format!("arn:aws:secretsmanager:{region}:{account}:secret:{name}"),
        SecretRef::Env(name) => format!("env:{name}"),
    }
}

/// The ARNs an environment's policies name, all known before anything exists, so the plan
/// shows the exact documents.
struct Scope {
    /// The API token's ARN (`env:` tokens are refused by validation before this is used).
    token_arn: String,
    repository_arn: String,
    log_group_arn: String,
}

impl Scope {
    fn new(config: &EnvironmentConfig, facts: &Facts) -> Self {
        let (region, account) = (&facts.region, &facts.account_id);
        Self {
            token_arn: token_arn(&config.app.auth.token_from, region, account),
            repository_arn: format!(
                "arn:aws:ecr:{region}:{account}:repository/{}",
                names::repository(&config.name)
            ),
            log_group_arn: format!(
                "arn:aws:logs:{region}:{account}:log-group:{}",
                names::log_group(&config.name)
            ),
        }
    }

    /// Reading the API token: `read_action` is what reads an SSM parameter (the API calls
    /// GetParameter, the ECS agent GetParameters); Secrets Manager appends a random suffix.
    fn read_token(&self, token: &SecretRef, ssm_action: &str) -> serde_json::Value {
        let (action, resource) = match token {
            SecretRef::SecretsManager(_) => ("secretsmanager:GetSecretValue", format!("{}-*", self.token_arn)),
            _ => (ssm_action, self.token_arn.clone()),
        };
        serde_json::json!({"Effect": "Allow", "Action": [action], "Resource": [resource]})
    }

    /// Pulling images from the environment's own repository and no other. ECR grants the
    /// registry login only account-wide (GetAuthorizationToken has no resource), which lets the
    /// holder log in, not read any repository.
    fn pull_images(&self) -> [serde_json::Value; 2] {
        [
            serde_json::json!({"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"}),
            serde_json::json!({
                "Effect": "Allow",
                "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                "Resource": [self.repository_arn]
            }),
        ]
    }

    /// Writing the container's logs into the environment's log group (awslogs driver). The
    /// group is deployer's to create (with its retention), so no role may create one.
    fn write_logs(&self) -> serde_json::Value {
        serde_json::json!({
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [self.log_group_arn, format!("{}:*", self.log_group_arn)]
        })
    }
}

/// What the API calls at run time: reading any load balancer and instance (as the original
/// service did; AWS has no resource-level permission for the describe calls), and moving
/// instances in and out of this environment's own load balancer only: its ARN (known before it
/// exists, from the name deployer gives it) and the environment's tag, both required.
fn api_statements(config: &EnvironmentConfig, facts: &Facts) -> [serde_json::Value; 2] {
    let (region, account, name) = (&facts.region, &facts.account_id, &config.name);
    let (actions, resource) = match config.load_balancer.kind {
        LoadBalancerKind::Elb => (
            [
                "elasticloadbalancing:DeregisterInstancesFromLoadBalancer",
                "elasticloadbalancing:RegisterInstancesWithLoadBalancer",
            ],
            format!("arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/{name}-lb"),
        ),
        // A target group's name ends in the hash of what replaces it, its ARN in an id AWS
        // assigns; the tag condition keeps other environments' groups out.
        LoadBalancerKind::Alb => (
            [
                "elasticloadbalancing:DeregisterTargets",
                "elasticloadbalancing:RegisterTargets",
            ],
            format!("arn:aws:elasticloadbalancing:{region}:{account}:targetgroup/{name}-app-*/*"),
        ),
    };
    [
        serde_json::json!({
            "Effect": "Allow",
            "Action": [
                "ec2:DescribeInstances",
                "elasticloadbalancing:DescribeInstanceHealth",
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeTags",
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeTargetHealth"
            ],
            "Resource": "*"
        }),
        serde_json::json!({
            "Effect": "Allow",
            "Action": actions,
            "Resource": [resource],
            "Condition": {"StringEquals": {format!("aws:ResourceTag/{TAG_ENVIRONMENT}"): name}}
        }),
    ]
}

fn policy(statements: impl IntoIterator<Item = serde_json::Value>) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": statements.into_iter().collect::<Vec<_>>()
    })
    .to_string()
}

/// The ECS task's own role: what the API calls, nothing more. The execution role injects the
/// token into the container; the API never reads it from AWS. Reads only: behind a Fargate
/// service the target group holds the tasks' IPs, which ECS registers; the API refuses to move
/// targets there (409), so Register/DeregisterTargets would be rights it never uses.
fn task_policy(config: &EnvironmentConfig, facts: &Facts) -> String {
    let [read, _] = api_statements(config, facts);
    policy([read])
}

/// The ECS agent's role: pull the image, write logs, read the token into the container.
fn execution_policy(token: &SecretRef, scope: &Scope) -> String {
    let [login, pull] = scope.pull_images();
    policy([
        scope.read_token(token, "ssm:GetParameters"),
        login,
        pull,
        scope.write_logs(),
    ])
}

/// An EC2 instance is both the agent and the task: Docker pulls and logs, the API calls AWS.
fn instance_policy(config: &EnvironmentConfig, facts: &Facts, token: &SecretRef, scope: &Scope) -> String {
    let [login, pull] = scope.pull_images();
    let [read, write] = api_statements(config, facts);
    let [register, channels] = session_statements(config, facts);
    policy([
        read,
        write,
        scope.read_token(token, "ssm:GetParameter"),
        login,
        pull,
        scope.write_logs(),
        register,
        channels,
    ])
}

/// Systems Manager sessions (`deployer shell`: no SSH port, no key pairs, every session
/// logged by AWS), and nothing else of AWS's AmazonSSMManagedInstanceCore, which would also
/// let the instance read every SSM parameter in the account (other environments' tokens).
/// The agent registers only instances of this environment; Session Manager's channels have
/// no resource-level permissions, so they are on `*`.
fn session_statements(config: &EnvironmentConfig, facts: &Facts) -> [serde_json::Value; 2] {
    [
        serde_json::json!({
            "Effect": "Allow",
            "Action": ["ssm:UpdateInstanceInformation"],
            "Resource": [format!("arn:aws:ec2:{}:{}:instance/*", facts.region, facts.account_id)],
            "Condition": {"StringEquals": {format!("aws:ResourceTag/{TAG_ENVIRONMENT}"): &config.name}}
        }),
        serde_json::json!({
            "Effect": "Allow",
            "Action": [
                "ssmmessages:CreateControlChannel",
                "ssmmessages:CreateDataChannel",
                "ssmmessages:OpenControlChannel",
                "ssmmessages:OpenDataChannel"
            ],
            "Resource": "*"
        }),
    ]
}

/// Who may assume a role: the one service, for this account only (the confused deputy: a
/// service acting for another account cannot assume it).
/// - `ecs-tasks.amazonaws.com` (task and execution roles): `aws:SourceAccount` and
///   `aws:SourceArn` on any of the account's ECS resources in the region, as ECS documents for
///   task roles ("Amazon ECS task IAM role"; naming one cluster is not supported, hence `*`).
/// - `ec2.amazonaws.com` (the instance role): no condition. EC2 documents neither key for the
///   instance-profile role it assumes, and a condition on a key the service does not send
///   denies always: instances would boot without credentials. What stops a confused deputy
///   there is `iam:PassRole`, which cannot pass a role to another account's instance.
fn trust_policy(service: &str, facts: &Facts) -> String {
    let account = &facts.account_id;
    let mut statement = serde_json::json!({
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole"
    });
    if service == "ecs-tasks.amazonaws.com" {
        statement["Condition"] = serde_json::json!({
            "StringEquals": {"aws:SourceAccount": account},
            "ArnLike": {"aws:SourceArn": format!("arn:aws:ecs:{}:{account}:*", facts.region)}
        });
    }
    serde_json::json!({"Version": "2012-10-17", "Statement": [statement]}).to_string()
}

/// A role with one inline policy and no managed ones: AWS's managed policies for ECS and ECR
/// allow pulling from every repository in the account.
fn role(config: &EnvironmentConfig, facts: &Facts, suffix: &str, service: &str, inline_policy: String) -> Spec {
    Spec::IamRole(RoleSpec {
        name: names::iam(&config.name, &facts.region, suffix),
        path: names::iam_path(&config.name, &facts.region),
        trust_policy: trust_policy(service, facts),
        managed_policies: BTreeSet::new(),
        inline_policy,
        other_inline_policies: BTreeMap::new(),
    })
}

fn add_compute(
    config: &EnvironmentConfig,
    facts: &Facts,
    zone_count: usize,
    add: &mut impl FnMut(String, Spec),
) -> Result<(), ModelError> {
    let name = &config.name;
    let compute = &config.compute;
    let token = &config.app.auth.token_from;
    let scope = Scope::new(config, facts);
    let image = config
        .app
        .image
        .as_deref()
        .or(facts.pushed_image.as_deref())
        .ok_or_else(|| ModelError::NothingPushed {
            environment: name.clone(),
            repository: names::repository(name),
        })?;
    // The one check every image passes, whatever supplied it (the file, --image, a rollback
    // hold, a saved plan, the last push): nothing unparsed reaches user data or a task definition.
    crate::config::check_image(image).map_err(|message| ModelError::Image { message })?;
    let vpc_cidr = config.network.cidr.to_string();
    let input = AppTemplateInput {
        environment: name,
        vpc_cidr: &vpc_cidr,
        region: &facts.region,
        image,
        port: config.app.port,
        metrics_port: config.app.metrics_port,
        token,
        token_arn: &scope.token_arn,
        container_name: CONTAINER_NAME,
        log_group: &names::log_group(name),
    };
    let classic = config.load_balancer.kind == LoadBalancerKind::Elb;
    match compute.kind {
        ComputeKind::Ec2 => {
            let image_id = match (&compute.ami, &facts.default_image_id) {
                (Some(ami), _) | (None, Some(ami)) => ami.clone(),
                (None, None) => {
                    return Err(ModelError::NoImage {
                        region: facts.region.clone(),
                    });
                }
            };
            add(
                "instance-role".into(),
                role(
                    config,
                    facts,
                    "instance",
                    "ec2.amazonaws.com",
                    instance_policy(config, facts, token, &scope),
                ),
            );
            add(
                "instance-profile".into(),
                Spec::InstanceProfile(InstanceProfileSpec {
                    name: names::iam(name, &facts.region, "instance"),
                    path: names::iam_path(name, &facts.region),
                    role: Ref::to("instance-role"),
                }),
            );
            let template = LaunchTemplateSpec {
                name: names::app(name),
                image_id,
                instance_type: compute.instance_type().to_owned(),
                security_groups: group("app"),
                instance_profile: Ref::to("instance-profile"),
                image: image.to_owned(),
                user_data: user_data(&input)?,
                log_group: Ref::to("log-group"),
                root_volume: Some(RootVolume {
                    device: ROOT_DEVICE.into(),
                    size_gb: compute.root_volume_gb(),
                    volume_type: "gp3".into(),
                    encrypted: true,
                }),
            };
            let template_version = super::spec_hash(&Spec::LaunchTemplate(template.clone()));
            add("launch-template".into(), Spec::LaunchTemplate(template));
            let (target_groups, classic_load_balancers) = if classic {
                (BTreeSet::new(), BTreeSet::from([Ref::to("load-balancer")]))
            } else {
                (BTreeSet::from([Ref::to("target-group")]), BTreeSet::new())
            };
            add(
                "auto-scaling-group".into(),
                Spec::AutoScalingGroup(AutoScalingGroupSpec {
                    name: names::app(name),
                    launch_template: Ref::to("launch-template"),
                    template_version,
                    min: compute.min(),
                    max: compute.max,
                    desired: compute.desired,
                    scaled: compute.scales(),
                    subnets: subnets("private", zone_count),
                    target_groups,
                    classic_load_balancers,
                    health_check_grace_seconds: INSTANCE_GRACE_SECONDS,
                }),
            );
            if compute.scales() {
                add(
                    "group-scaling".into(),
                    Spec::GroupScaling(GroupScalingSpec {
                        group_name: names::app(name),
                        group: Ref::to("auto-scaling-group"),
                        policies: scaling_policies(config),
                    }),
                );
            }
        }
        ComputeKind::Ecs => {
            add(
                "execution-role".into(),
                role(
                    config,
                    facts,
                    "execution",
                    "ecs-tasks.amazonaws.com",
                    execution_policy(token, &scope),
                ),
            );
            add(
                "task-role".into(),
                role(
                    config,
                    facts,
                    "task",
                    "ecs-tasks.amazonaws.com",
                    task_policy(config, facts),
                ),
            );
            add(
                "ecs-cluster".into(),
                Spec::EcsCluster(EcsClusterSpec { name: name.clone() }),
            );
            let container_definitions = container_definitions(&input)?;
            add(
                "task-definition".into(),
                Spec::TaskDefinition(TaskDefinitionSpec {
                    family: names::task_family(name),
                    image: image.to_owned(),
                    cpu: compute.cpu(),
                    memory: compute.memory(),
                    architecture: compute.architecture.ecs().to_owned(),
                    execution_role: Ref::to("execution-role"),
                    task_role: Ref::to("task-role"),
                    digest: super::tags::content_digest(&container_definitions),
                    container_definitions,
                    log_group: Ref::to("log-group"),
                }),
            );
            add(
                "ecs-service".into(),
                Spec::EcsService(EcsServiceSpec {
                    name: "api".into(),
                    cluster: Ref::to("ecs-cluster"),
                    task_definition: Ref::to("task-definition"),
                    desired: compute.desired,
                    scaled: compute.scales(),
                    subnets: subnets("private", zone_count),
                    security_groups: group("app"),
                    target_group: (!classic).then(|| Ref::to("target-group")),
                    classic_load_balancer: classic.then(|| Ref::to("load-balancer")),
                    container_name: CONTAINER_NAME.into(),
                    container_port: config.app.port,
                    health_check_grace_seconds: Some(TASK_GRACE_SECONDS),
                }),
            );
            if compute.scales() {
                add(
                    "service-scaling".into(),
                    Spec::ServiceScaling(ServiceScalingSpec {
                        resource_id: names::scalable_service(name),
                        service: Ref::to("ecs-service"),
                        min: compute.min(),
                        max: compute.max,
                        policies: scaling_policies(config),
                    }),
                );
            }
        }
    }
    Ok(())
}

/// CPU always; requests per target where an ALB counts them per target group.
fn scaling_policies(config: &EnvironmentConfig) -> ScalingPolicies {
    let scaling = &config.compute.scaling;
    let requests = (config.load_balancer.kind == LoadBalancerKind::Alb).then(|| RequestScaling {
        per_target: scaling.requests_per_target,
        load_balancer: Ref::to("load-balancer"),
        target_group: Ref::to("target-group"),
    });
    ScalingPolicies {
        cpu_percent: scaling.cpu_percent,
        requests,
    }
}

fn add_database(config: &EnvironmentConfig, zones: &[String], add: &mut impl FnMut(String, Spec)) {
    let Some(database) = &config.database else { return };
    let name = &config.name;
    add(
        "db-subnet-group".into(),
        // Not `{name}-db`: physical ids must be unique across kinds, and that is the cluster's.
        Spec::DbSubnetGroup(DbSubnetGroupSpec {
            name: names::database_subnet_group(name),
            subnets: subnets("private", zones.len()),
        }),
    );
    add(
        "db-cluster".into(),
        Spec::DbCluster(DbClusterSpec {
            identifier: names::database(name),
            engine: "aurora-postgresql".into(),
            engine_version: database.engine_version.clone(),
            subnet_group: Ref::to("db-subnet-group"),
            security_groups: group("db"),
            storage_encrypted: true,
            deletion_protection: database.deletion_protection,
            backup_retention_days: database.backup_retention_days,
            master_username: "deployer".into(),
            database_name: "app".into(),
        }),
    );
    for number in 1..=database.instances {
        add(
            format!("db-instance-{number}"),
            Spec::DbInstance(DbInstanceSpec {
                identifier: names::database_instance(name, usize::from(number)),
                cluster: Ref::to("db-cluster"),
                instance_class: database.instance_class.clone(),
                engine: "aurora-postgresql".into(),
                availability_zone: zones[(usize::from(number) - 1) % zones.len()].clone(),
            }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_environment;

    fn facts() -> Facts {
        example_facts(4)
    }

    fn ids(desired: &Desired, prefix: &str) -> Vec<String> {
        desired
            .resources
            .keys()
            .map(ToString::to_string)
            .filter(|id| id.starts_with(prefix))
            .collect()
    }

    /// Issue 25, item 9: IAM is global, so each region's deployment of an environment names
    /// and scopes its roles and profile apart from every other region's.
    #[test]
    fn iam_names_and_paths_are_per_region() {
        let config = parse_environment(include_str!("../../environments/development.yaml"), "development").unwrap();
        let names = |region: &str| -> Vec<(String, String)> {
            let facts = Facts {
                region: region.into(),
                availability_zones: ["a", "b", "c"].map(|z| format!("{region}{z}")).to_vec(),
                pushed_image: Some(format!(
                    "123456789012.dkr.ecr.{region}.amazonaws.com/deployer/development/api@sha256:{}",
                    "e".repeat(64)
                )),
                ..facts()
            };
            desired(&config, &facts)
                .unwrap()
                .resources
                .values()
                .filter_map(|r| match &r.spec {
                    Spec::IamRole(role) => Some((role.name.clone(), role.path.clone())),
                    Spec::InstanceProfile(profile) => Some((profile.name.clone(), profile.path.clone())),
                    _ => None,
                })
                .collect()
        };
        let (east, west) = (names("us-east-1"), names("eu-west-1"));
        assert_eq!(east.len(), 2);
        assert!(east.contains(&(
            "development-us-east-1-instance".into(),
            "/deployer/development/us-east-1/".into()
        )));
        assert!(east.iter().all(|name| !west.contains(name)), "{east:?} {west:?}");
        assert!(west.iter().all(|(_, path)| path == "/deployer/development/eu-west-1/"));
        assert!(east.iter().all(|(name, _)| name.len() <= 64));
    }

    #[test]
    fn a_target_groups_name_changes_with_what_replaces_it_and_is_recognised() {
        let name = names::target_group("production", 8000, "ip");
        assert!(name.len() <= 32 && name.starts_with("production-app-"), "{name}");
        assert_ne!(name, names::target_group("production", 8080, "ip"));
        assert_ne!(name, names::target_group("production", 8000, "instance"));
        assert!(names::is_target_group("production", &name));
        assert!(!names::is_target_group("prod", &name));
        assert!(!names::is_target_group("production", "production-app"));
        let longest = names::target_group(&"e".repeat(20), 65535, "instance");
        assert!(longest.len() <= 32, "{longest}");
    }

    #[test]
    fn production_gets_a_nat_gateway_per_zone() {
        let config = parse_environment(include_str!("../../environments/production.yaml"), "production").unwrap();
        let desired = desired(&config, &facts()).unwrap();
        assert_eq!(
            ids(&desired, "nat-gateway"),
            ["nat-gateway-a", "nat-gateway-b", "nat-gateway-c"]
        );
        let Spec::RouteTable(rt) = &desired.resources[&Id::from("route-table-private-c")].spec else {
            panic!()
        };
        assert_eq!(
            rt.routes.iter().next().unwrap().to_string(),
            "0.0.0.0/0 via nat-gateway-c"
        );
    }

    #[test]
    fn single_nat_is_shared_by_every_private_route_table() {
        let config = parse_environment(include_str!("../../environments/staging.yaml"), "staging").unwrap();
        let desired = desired(&config, &facts()).unwrap();
        assert_eq!(ids(&desired, "nat-gateway"), ["nat-gateway-a"]);
        let Spec::RouteTable(rt) = &desired.resources[&Id::from("route-table-private-b")].spec else {
            panic!()
        };
        assert_eq!(
            rt.routes.iter().next().unwrap().to_string(),
            "0.0.0.0/0 via nat-gateway-a"
        );
        assert_eq!(
            ids(&desired, "subnet"),
            [
                "subnet-private-a",
                "subnet-private-b",
                "subnet-public-a",
                "subnet-public-b"
            ]
        );
    }

    #[test]
    fn app_port_is_open_only_to_the_load_balancer_group_and_metrics_only_to_the_vpc() {
        let config = parse_environment(include_str!("../../environments/development.yaml"), "development").unwrap();
        let desired = desired(&config, &facts()).unwrap();
        let Spec::SecurityGroupRules(app) = &desired.resources[&Id::from("security-group-app-rules")].spec else {
            panic!()
        };
        let ingress: Vec<String> = app.ingress.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            ingress,
            [
                "tcp/8000 security-group-lb (API from the load balancer)",
                "tcp/9100 10.2.0.0/16 (metrics from inside the VPC)"
            ]
        );
        // The load balancer forwards the API port and nothing else.
        let Spec::ClassicLoadBalancer(lb) = &desired.resources[&Id::from("load-balancer")].spec else {
            panic!()
        };
        assert_eq!((lb.listener_port, lb.instance_port), (80, 8000));
        let Spec::SecurityGroupRules(db) = &desired.resources[&Id::from("security-group-db-rules")].spec else {
            panic!()
        };
        assert!(db.egress.is_empty());
        assert_eq!(
            db.ingress.iter().next().unwrap().peer,
            Peer::SecurityGroup(Ref::to("security-group-app"))
        );
    }

    #[test]
    fn every_resource_is_tagged_with_environment_id_and_spec_hash() {
        let config = parse_environment(include_str!("../../environments/staging.yaml"), "staging").unwrap();
        let desired = desired(&config, &facts()).unwrap();
        for (id, resource) in desired.resources.iter().filter(|(_, r)| r.spec.kind().has_tags()) {
            assert_eq!(resource.tags["deployer:environment"], "staging");
            assert_eq!(resource.tags["deployer:id"], id.as_str());
            assert_eq!(resource.tags["Name"], format!("staging-{id}"));
            assert_eq!(resource.tags["deployer:spec"].len(), 12);
            assert_eq!(resource.tags["cost-center"], "platform");
        }
    }

    #[test]
    fn too_few_zones_is_an_error_naming_the_field() {
        let config = parse_environment(include_str!("../../environments/production.yaml"), "production").unwrap();
        let two = Facts {
            availability_zones: vec!["eu-west-3a".into(), "eu-west-3b".into()],
            region: "eu-west-3".into(),
            pushed_image: None,
            ..facts()
        };
        let error = desired(&config, &two).unwrap_err();
        assert!(
            error.to_string().starts_with(
                "network.azs asks for 3 availability zones but the region offers 2 (eu-west-3a, eu-west-3b)"
            )
        );
    }

    fn role_policy(desired: &Desired, id: &str) -> (BTreeSet<String>, serde_json::Value) {
        let Spec::IamRole(role) = &desired.resources[&Id::from(id)].spec else {
            panic!("{id} is not a role")
        };
        (
            role.managed_policies.clone(),
            serde_json::from_str(&role.inline_policy).unwrap(),
        )
    }

    /// Every statement granting an `ecr:` action, as (actions, resources).
    fn ecr_grants(policy: &serde_json::Value) -> Vec<(Vec<String>, Vec<String>)> {
        let strings = |value: &serde_json::Value| match value {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(items) => items.iter().map(|i| i.as_str().unwrap().to_owned()).collect(),
            other => panic!("unexpected {other}"),
        };
        policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| strings(&s["Action"]).iter().any(|a| a.starts_with("ecr:")))
            .map(|s| (strings(&s["Action"]), strings(&s["Resource"])))
            .collect()
    }

    #[test]
    fn roles_pull_from_their_own_repository_and_no_other() {
        let staging = parse_environment(include_str!("../../environments/staging.yaml"), "staging").unwrap();
        let development =
            parse_environment(include_str!("../../environments/development.yaml"), "development").unwrap();
        for (config, role) in [(&staging, "execution-role"), (&development, "instance-role")] {
            let desired = desired(config, &facts()).unwrap();
            let (managed, policy) = role_policy(&desired, role);
            // AWS's managed ECS and ECR policies allow every repository in the account.
            assert!(managed.is_empty(), "{role}: {managed:?}");
            let repository = format!(
                "arn:aws:ecr:us-east-1:123456789012:repository/deployer/{}/api",
                config.name
            );
            for (actions, resources) in ecr_grants(&policy) {
                if actions == ["ecr:GetAuthorizationToken"] {
                    // No resource-level permission exists for the login itself.
                    assert_eq!(resources, ["*"]);
                } else {
                    assert_eq!(resources, std::slice::from_ref(&repository), "{role}: {actions:?}");
                    assert!(
                        actions.iter().all(|a| !a.contains('*') && !a.contains("Put")),
                        "{actions:?}"
                    );
                }
            }
            assert_eq!(ecr_grants(&policy).len(), 2, "{role}: {policy}");
        }
    }

    #[test]
    fn the_task_role_cannot_pull_images_or_read_the_token() {
        let config = parse_environment(include_str!("../../environments/staging.yaml"), "staging").unwrap();
        let (_, policy) = role_policy(&desired(&config, &facts()).unwrap(), "task-role");
        assert!(ecr_grants(&policy).is_empty(), "{policy}");
        // The execution role injects the token; the API never reads it from AWS.
        let text = policy.to_string();
        assert!(!text.contains("ssm:") && !text.contains("secretsmanager:"), "{policy}");
    }

    /// Issue 26: each role trusts its one service, acting for this account only (and, for ECS,
    /// from this account's ECS resources in this region); EC2 gets no `aws:SourceArn`.
    #[test]
    fn roles_trust_their_service_and_ecs_roles_this_account_only() {
        let staging = parse_environment(include_str!("../../environments/staging.yaml"), "staging").unwrap();
        let development =
            parse_environment(include_str!("../../environments/development.yaml"), "development").unwrap();
        let ecs = Some("arn:aws:ecs:us-east-1:123456789012:*");
        for (config, id, service, source_arn) in [
            (&staging, "task-role", "ecs-tasks.amazonaws.com", ecs),
            (&staging, "execution-role", "ecs-tasks.amazonaws.com", ecs),
            (&development, "instance-role", "ec2.amazonaws.com", None),
        ] {
            let desired = desired(config, &facts()).unwrap();
            let Spec::IamRole(role) = &desired.resources[&Id::from(id)].spec else {
                panic!("{id} is not a role")
            };
            let trust: serde_json::Value = serde_json::from_str(&role.trust_policy).unwrap();
            let [statement] = trust["Statement"].as_array().unwrap().as_slice() else {
                panic!("{id}: {trust}")
            };
            assert_eq!(statement["Effect"], "Allow", "{id}");
            assert_eq!(statement["Principal"], serde_json::json!({"Service": service}), "{id}");
            assert_eq!(statement["Action"], "sts:AssumeRole", "{id}");
            // ECS sends both keys; EC2 documents neither, and a condition on a key a service
            // does not send would deny it always.
            let expected = source_arn.map_or(serde_json::Value::Null, |arn| {
                serde_json::json!({
                    "StringEquals": {"aws:SourceAccount": "123456789012"},
                    "ArnLike": {"aws:SourceArn": arn}
                })
            });
            assert_eq!(statement["Condition"], expected, "{id}");
            assert!(role.other_inline_policies.is_empty(), "{id}");
        }
    }

    /// Item 6: behind Fargate the target group holds task IPs that ECS registers, and the API
    /// refuses to move them (409): the task role cannot. EC2 instances behind an ALB are
    /// registered by the API, so the instance role keeps the rights, on its own groups.
    #[test]
    fn only_roles_of_instances_may_move_targets() {
        let moves = |actions: &[String]| actions.iter().any(|a| a.contains("egister"));
        for (role, actions, _, _) in all_statements() {
            if role.ends_with("/task-role") {
                assert!(!moves(&actions), "{role}: {actions:?}");
            }
        }
        let mut config = parse_environment(include_str!("../../environments/development.yaml"), "development").unwrap();
        config.load_balancer.kind = LoadBalancerKind::Alb;
        let (_, policy) = role_policy(&desired(&config, &facts()).unwrap(), "instance-role");
        let register = policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Action"].to_string().contains("elasticloadbalancing:RegisterTargets"))
            .unwrap_or_else(|| panic!("{policy}"));
        assert_eq!(
            register["Resource"],
            serde_json::json!(["arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/development-app-*/*"])
        );
    }

    /// Every (actions, resources, condition) statement of every role of every environment.
    fn all_statements() -> Vec<(String, Vec<String>, Vec<String>, serde_json::Value)> {
        let files = [
            ("development", include_str!("../../environments/development.yaml")),
            ("staging", include_str!("../../environments/staging.yaml")),
            ("production", include_str!("../../environments/production.yaml")),
        ];
        let strings = |value: &serde_json::Value| match value {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(items) => items.iter().map(|i| i.as_str().unwrap().to_owned()).collect(),
            other => panic!("unexpected {other}"),
        };
        let mut statements = Vec::new();
        for (name, text) in files {
            let desired = desired(&parse_environment(text, name).unwrap(), &facts()).unwrap();
            for (id, resource) in &desired.resources {
                let Spec::IamRole(role) = &resource.spec else { continue };
                let policy: serde_json::Value = serde_json::from_str(&role.inline_policy).unwrap();
                for statement in policy["Statement"].as_array().unwrap() {
                    statements.push((
                        format!("{name}/{id}"),
                        strings(&statement["Action"]),
                        strings(&statement["Resource"]),
                        statement["Condition"].clone(),
                    ));
                }
            }
        }
        statements
    }

    #[test]
    fn no_role_of_any_environment_may_write_to_every_resource() {
        let reads = ["Describe", "List", "Get"];
        let mut checked = 0;
        for (role, actions, resources, _) in all_statements() {
            for action in &actions {
                let verb = action.split(':').nth(1).unwrap();
                let reading = reads.iter().any(|r| verb.starts_with(r));
                // Session Manager's channels have no resource-level permissions at all; they
                // carry only sessions that AWS authorises against the operator's own rights.
                let channel = action.starts_with("ssmmessages:") && role.ends_with("/instance-role");
                assert!(
                    reading || channel || !resources.iter().any(|r| r == "*"),
                    "{role}: {action} on {resources:?}"
                );
                assert!(!action.contains('*'), "{role}: wildcard action {action}");
                checked += 1;
            }
        }
        assert!(checked > 40, "only {checked} actions checked");
    }

    #[test]
    fn the_api_moves_instances_only_in_its_own_environments_load_balancer() {
        for (role, actions, resources, condition) in all_statements() {
            if !actions
                .iter()
                .any(|a| a.contains("Register") || a.contains("Deregister"))
            {
                continue;
            }
            let environment = role.split('/').next().unwrap();
            let expected = if environment == "development" {
                format!("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/{environment}-lb")
            } else {
                format!("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/{environment}-app-*/*")
            };
            assert_eq!(resources, [expected], "{role}");
            assert_eq!(
                condition,
                serde_json::json!({"StringEquals": {"aws:ResourceTag/deployer:environment": environment}}),
                "{role}"
            );
        }
    }

    #[test]
    fn the_instance_role_writes_logs_to_its_own_log_group_only() {
        let config = parse_environment(include_str!("../../environments/development.yaml"), "development").unwrap();
        let (_, policy) = role_policy(&desired(&config, &facts()).unwrap(), "instance-role");
        let group = "arn:aws:logs:us-east-1:123456789012:log-group:/deployer/development/api";
        let logs: Vec<&serde_json::Value> = policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["Action"].to_string().contains("logs:"))
            .collect();
        assert_eq!(logs.len(), 1, "{policy}");
        assert_eq!(
            logs[0]["Action"],
            serde_json::json!(["logs:CreateLogStream", "logs:PutLogEvents"])
        );
        assert_eq!(logs[0]["Resource"], serde_json::json!([group, format!("{group}:*")]));
    }

    #[test]
    fn instances_boot_from_an_encrypted_gp3_root_volume_and_databases_spread_over_zones() {
        let development =
            parse_environment(include_str!("../../environments/development.yaml"), "development").unwrap();
        let desired_development = desired(&development, &facts()).unwrap();
        let Spec::LaunchTemplate(template) = &desired_development.resources[&Id::from("launch-template")].spec else {
            panic!()
        };
        assert_eq!(
            template.root_volume.as_ref().unwrap().to_string(),
            "/dev/xvda 30 GiB gp3, encrypted"
        );

        let production = parse_environment(include_str!("../../environments/production.yaml"), "production").unwrap();
        let desired_production = desired(&production, &facts()).unwrap();
        let zones: Vec<&str> = ["db-instance-1", "db-instance-2"]
            .iter()
            .map(|id| {
                let Spec::DbInstance(instance) = &desired_production.resources[&Id::from(*id)].spec else {
                    panic!()
                };
                instance.availability_zone.as_str()
            })
            .collect();
        assert_eq!(zones, ["us-east-1a", "us-east-1b"]);
    }

    #[test]
    fn without_an_image_the_error_names_the_repository_and_the_command() {
        let config = parse_environment(include_str!("../../environments/staging.yaml"), "staging").unwrap();
        let nothing = Facts {
            pushed_image: None,
            ..facts()
        };
        let error = desired(&config, &nothing).unwrap_err().to_string();
        assert!(error.starts_with("staging has no image to run"), "{error}");
        assert!(error.contains("deployer/staging/api"), "{error}");
        assert!(error.contains("`deployer apply staging --build`"), "{error}");
    }

    #[test]
    fn the_pushed_image_runs_by_digest_and_ec2_pulls_it_with_the_credential_helper() {
        let config = parse_environment(include_str!("../../environments/development.yaml"), "development").unwrap();
        let facts = facts();
        let desired = desired(&config, &facts).unwrap();
        let Spec::LaunchTemplate(template) = &desired.resources[&Id::from("launch-template")].spec else {
            panic!()
        };
        let image = facts.pushed_image.unwrap();
        assert!(template.user_data.contains(&format!("docker pull '{image}'")));
        assert!(template.user_data.contains(
            r#"echo '{"credHelpers":{"123456789012.dkr.ecr.us-east-1.amazonaws.com":"ecr-login"}}' > /root/.docker/config.json"#
        ));
        assert!(
            template
                .user_data
                .contains("dnf install -y docker amazon-ecr-credential-helper\n")
        );
    }

    #[test]
    fn the_file_image_wins_over_the_last_push() {
        let mut config = parse_environment(include_str!("../../environments/staging.yaml"), "staging").unwrap();
        config.app.image = Some("ghcr.io/example/api:2.0.0".into());
        let desired = desired(&config, &facts()).unwrap();
        let Spec::TaskDefinition(task) = &desired.resources[&Id::from("task-definition")].spec else {
            panic!()
        };
        assert_eq!(task.image, "ghcr.io/example/api:2.0.0");
    }
}
