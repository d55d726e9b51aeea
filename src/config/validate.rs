//! Checks across fields that serde cannot express: counts, ranges, subnet layout, names.
//! Pure: returns every problem found, each naming its field path; the loader adds positions.

use super::error::Problem;
use super::image::check_image;
use super::schema::{Cidr, ComputeKind, EnvironmentConfig, LoadBalancerKind, NatMode};
use super::subnets::{CARVE_BITS, MAX_AZS};

/// AWS allows 50 tags per resource; deployer puts up to 6 of its own on one (Name, environment,
/// id, spec hash, protect, and a digest or the final-snapshot mark).
const MAX_USER_TAGS: usize = 44;
/// Aurora allows 15 readers beside the writer.
pub(crate) const MAX_DB_INSTANCES: u8 = 16;
/// A sanity cap on counts, so a typo such as `max: 400` is caught before AWS quota errors.
const MAX_TASKS_OR_INSTANCES: u32 = 100;

pub(super) fn validate(config: &EnvironmentConfig, expected_name: &str) -> Vec<Problem> {
    let mut problems = Vec::new();
    check_name(config, expected_name, &mut problems);
    check_region(config, &mut problems);
    check_network(config, &mut problems);
    check_load_balancer(config, &mut problems);
    check_compute(config, &mut problems);
    check_database(config, &mut problems);
    check_app(config, &mut problems);
    check_registry(config, &mut problems);
    check_logs(config, &mut problems);
    check_access_logs(config, &mut problems);
    check_https(config, &mut problems);
    check_iam(config, &mut problems);
    check_usage(config, &mut problems);
    check_alarms(config, &mut problems);
    check_tags(config, &mut problems);
    problems
}

/// An AWS account id: 12 digits.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// The name `deployer bootstrap` tags its CI roles with in place of an environment's
/// (`model::names::BOOTSTRAP`): no environment may take it.
pub const RESERVED_NAME: &str = "bootstrap";

fn check_name(config: &EnvironmentConfig, expected: &str, problems: &mut Vec<Problem>) {
    let name = &config.name;
    let valid = name.len() <= 20
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    // The names built from it must pass AWS's own rules: RDS identifiers and ECR repository
    // names refuse a trailing `-` and `--`; security group names may not begin with `sg-`
    // (`<env>-lb` would), load balancer names not with `internal-`.
    let refused_prefix = ["sg", "internal"]
        .into_iter()
        .find(|prefix| name == prefix || name.starts_with(&format!("{prefix}-")));
    if !valid {
        problems.push(
            Problem::new("name", format!("`{name}` is not a valid environment name"))
                .help("use 1 to 20 lowercase letters, digits and `-`, starting with a letter (it prefixes AWS resource names)"),
        );
    } else if name.ends_with('-') || name.contains("--") {
        problems.push(
            Problem::new("name", format!("`{name}` ends with `-` or has `--`"))
                .help("AWS refuses such database identifiers and repository names (`<name>-db`, `deployer/<name>/api`): use single hyphens between letters or digits"),
        );
    } else if name == RESERVED_NAME {
        problems.push(
            Problem::new("name", format!("`{name}` is reserved"))
                .help("`deployer bootstrap` tags the CI roles it makes with it: choose another name"),
        );
    } else if let Some(prefix) = refused_prefix {
        problems.push(
            Problem::new("name", format!("`{name}` would name resources `{name}-…`, which AWS refuses"))
                .help(format!(
                    "AWS refuses security group names beginning `sg-` and load balancer names beginning `internal-`: pick a name not starting with `{prefix}`"
                )),
        );
    } else if name != expected {
        problems.push(
            Problem::new(
                "name",
                format!("`{name}` does not match the file name `{expected}.yaml`"),
            )
            .help(format!("set `name: {expected}` or rename the file to {name}.yaml")),
        );
    }
}

/// An AWS region's name: lowercase words and digits joined by `-`, ending in a number
/// (`us-east-1`, `us-gov-west-1`).
pub fn is_region_name(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

fn check_region(config: &EnvironmentConfig, problems: &mut Vec<Problem>) {
    let Some(region) = &config.region else { return };
    if !is_region_name(region) {
        problems.push(
            Problem::new("region", format!("`{region}` is not an AWS region name"))
                .help("use a region code such as us-east-1 or eu-west-3"),
        );
    }
}

fn check_network(config: &EnvironmentConfig, problems: &mut Vec<Problem>) {
    let network = &config.network;
    let prefix = network.cidr.0.prefix_len();
    if !(16..=28).contains(&prefix) {
        problems.push(
            Problem::new(
                "network.cidr",
                format!("/{prefix} is outside what AWS allows for a VPC"),
            )
            .help("use a prefix between /16 and /28, e.g. 10.0.0.0/16"),
        );
    }
    if network.azs == 0 || network.azs > MAX_AZS {
        problems.push(
            Problem::new("network.azs", format!("{} availability zones requested", network.azs))
                .help(format!("use 1 to {MAX_AZS}")),
        );
        return;
    }
    let carving = network.public_subnets.is_none() || network.private_subnets.is_none();
    if carving && prefix + CARVE_BITS > 28 {
        problems.push(
            Problem::new(
                "network.cidr",
                format!(
                    "/{prefix} is too small to carve subnets from (they would be /{})",
                    prefix + CARVE_BITS
                ),
            )
            .help("use a /24 or larger VPC, or list public_subnets and private_subnets explicitly"),
        );
        return;
    }
    let public = network.public_subnet_cidrs();
    let private = network.private_subnet_cidrs();
    for (field, list) in [
        ("network.public_subnets", &network.public_subnets),
        ("network.private_subnets", &network.private_subnets),
    ] {
        if let Some(list) = list
            && list.len() != usize::from(network.azs)
        {
            problems.push(
                Problem::new(
                    field,
                    format!("{} subnets listed for {} availability zones", list.len(), network.azs),
                )
                .help("list exactly one subnet per AZ, or remove the list to have subnets carved from network.cidr"),
            );
        }
    }
    let all: Vec<(String, Cidr)> = public
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("network.public_subnets[{i}]"), *c))
        .chain(
            private
                .iter()
                .enumerate()
                .map(|(i, c)| (format!("network.private_subnets[{i}]"), *c)),
        )
        .collect();
    for (i, (field, cidr)) in all.iter().enumerate() {
        if !network.cidr.0.contains(&cidr.0) {
            problems.push(
                Problem::new(
                    field.clone(),
                    format!("{cidr} is not inside the VPC range {}", network.cidr),
                )
                .help("pick a subnet within network.cidr"),
            );
        }
        if cidr.0.prefix_len() > 28 {
            problems.push(
                Problem::new(
                    field.clone(),
                    format!("{cidr} is smaller than /28, the smallest subnet AWS allows"),
                )
                .help("use a /28 or larger subnet"),
            );
        }
        for (other_field, other) in &all[..i] {
            if cidr.0.contains(&other.0.network()) || other.0.contains(&cidr.0.network()) {
                problems.push(
                    Problem::new(field.clone(), format!("{cidr} overlaps {other} ({other_field})"))
                        .help("subnets must not overlap; pick disjoint ranges"),
                );
            }
        }
    }
    // All compute runs in the private subnets, so they always need a way out.
    if network.nat == NatMode::None {
        problems.push(
            Problem::new(
                "network.nat",
                "`none` leaves the private subnets without a route out, so the compute there cannot pull its image",
            )
            .help("use `single` (one shared NAT gateway) or `per-az`"),
        );
    }
}

fn check_load_balancer(config: &EnvironmentConfig, problems: &mut Vec<Problem>) {
    let lb = &config.load_balancer;
    if lb.kind == LoadBalancerKind::Alb && config.network.azs < 2 {
        problems.push(
            Problem::new("network.azs", "an ALB needs subnets in at least 2 availability zones")
                .help("set network.azs to 2 or more, or use load_balancer.kind: elb"),
        );
    }
    if lb.port == 0 {
        problems.push(Problem::new("load_balancer.port", "port 0 is not a valid listener port").help("use 80"));
    }
    if !lb.health_check_path.starts_with('/') {
        problems.push(
            Problem::new(
                "load_balancer.health_check_path",
                format!("`{}` is not an absolute path", lb.health_check_path),
            )
            .help("use a path starting with `/`, e.g. /healthcheck"),
        );
    }
    // The bounds both the ALB and the classic ELB accept.
    let check = &lb.health_check;
    for (field, value, range) in [
        (
            "load_balancer.health_check.interval_seconds",
            check.interval_seconds,
            5..=300,
        ),
        (
            "load_balancer.health_check.timeout_seconds",
            check.timeout_seconds,
            2..=60,
        ),
        (
            "load_balancer.health_check.healthy_threshold",
            check.healthy_threshold,
            2..=10,
        ),
        (
            "load_balancer.health_check.unhealthy_threshold",
            check.unhealthy_threshold,
            2..=10,
        ),
        (
            "load_balancer.deregistration_delay_seconds",
            lb.deregistration_delay_seconds,
            0..=3600,
        ),
    ] {
        if !range.contains(&value) {
            problems.push(
                Problem::new(field, format!("{value} is outside what AWS accepts")).help(format!(
                    "use {} to {}",
                    range.start(),
                    range.end()
                )),
            );
        }
    }
    if check.timeout_seconds >= check.interval_seconds {
        problems.push(
            Problem::new(
                "load_balancer.health_check.timeout_seconds",
                format!(
                    "{} s is not shorter than the {} s interval",
                    check.timeout_seconds, check.interval_seconds
                ),
            )
            .help("a check must time out before the next one starts: lower the timeout or raise the interval"),
        );
    }
}

fn check_compute(config: &EnvironmentConfig, problems: &mut Vec<Problem>) {
    let compute = &config.compute;
    if compute.kind == ComputeKind::Ec2
        && let Some(instance_type) = &compute.instance_type
        && !compute.architecture.runs_on(instance_type)
    {
        let arch = compute.architecture.ami();
        problems.push(
            Problem::new(
                "compute.instance_type",
                format!("`{instance_type}` does not run {arch} images (compute.architecture is {arch})"),
            )
            .help(match compute.architecture {
                super::schema::Architecture::Arm64 => {
                    "use a Graviton type (t4g.micro, m7g.large, …), or set compute.architecture: x86_64"
                }
                super::schema::Architecture::X86_64 => {
                    "use an x86_64 type (t3.micro, m6i.large, …), or set compute.architecture: arm64"
                }
            }),
        );
    }
    // Fargate tasks use awsvpc networking, which classic load balancers cannot reach: ECS
    // registers awsvpc tasks only in ALB/NLB target groups.
    if compute.kind == ComputeKind::Ecs && config.load_balancer.kind == LoadBalancerKind::Elb {
        problems.push(
            Problem::new("load_balancer.kind", "a classic ELB cannot serve ECS Fargate tasks")
                .help("AWS does not support classic load balancers for Fargate (awsvpc) services: use `kind: alb`, or `compute.kind: ec2` behind the ELB"),
        );
    }
    let min = compute.min.unwrap_or(compute.desired);
    if compute.max == 0 {
        problems.push(Problem::new("compute.max", "must be at least 1").help("set compute.max to 1 or more"));
    } else if compute.max > MAX_TASKS_OR_INSTANCES {
        problems.push(
            Problem::new(
                "compute.max",
                format!("{} is above deployer's limit of {MAX_TASKS_OR_INSTANCES}", compute.max),
            )
            .help("lower compute.max"),
        );
    }
    if compute.desired > compute.max {
        problems.push(
            Problem::new(
                "compute.desired",
                format!("{} is more than compute.max ({})", compute.desired, compute.max),
            )
            .help("raise compute.max or lower compute.desired"),
        );
    }
    if min > compute.desired {
        problems.push(
            Problem::new(
                "compute.min",
                format!("{min} is more than compute.desired ({})", compute.desired),
            )
            .help("lower compute.min or raise compute.desired"),
        );
    }
    check_scaling(config, problems);
    let instance_type = compute.instance_type();
    let parts: Vec<&str> = instance_type.split('.').collect();
    let well_formed = parts.len() == 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if !well_formed {
        problems.push(
            Problem::new(
                "compute.instance_type",
                format!("`{instance_type}` is not an EC2 instance type"),
            )
            .help("use a type such as t3.micro or m6i.large"),
        );
    }
    match compute.kind {
        ComputeKind::Ecs => {
            if compute.instance_type.is_some() {
                problems.push(
                    Problem::new(
                        "compute.instance_type",
                        "only applies to `kind: ec2`; ECS tasks run on Fargate",
                    )
                    .help("remove it and size tasks with compute.cpu and compute.memory"),
                );
            }
            check_fargate_size(compute.cpu(), compute.memory(), problems);
            if compute.root_volume_gb.is_some() {
                problems.push(
                    Problem::new("compute.root_volume_gb", "only applies to `kind: ec2`")
                        .help("remove it: Fargate tasks get their own encrypted ephemeral storage"),
                );
            }
        }
        ComputeKind::Ec2 => {
            // Amazon Linux 2023 and the ECS-optimized AMIs need 30 GiB at most; gp3 stops at 16 TiB.
            if !(8..=16_384).contains(&compute.root_volume_gb()) {
                problems.push(
                    Problem::new(
                        "compute.root_volume_gb",
                        format!("{} GiB cannot hold the operating system", compute.root_volume_gb()),
                    )
                    .help("use 8 to 16384 GiB; 30 (the default) fits Amazon Linux with room for images"),
                );
            }
            for (field, value) in [("compute.cpu", compute.cpu), ("compute.memory", compute.memory)] {
                if value.is_some() {
                    problems.push(
                        Problem::new(field, "only applies to `kind: ecs` (the Fargate task size)")
                            .help("remove it and choose compute.instance_type instead"),
                    );
                }
            }
        }
    }
    if let Some(ami) = &compute.ami {
        if compute.kind != ComputeKind::Ec2 {
            problems.push(Problem::new("compute.ami", "only applies to `kind: ec2`").help("remove compute.ami"));
        } else if !ami.starts_with("ami-") {
            problems.push(
                Problem::new("compute.ami", format!("`{ami}` is not an AMI id"))
                    .help("use an id such as ami-0abcdef1234567890, or remove it to use Amazon Linux 2023"),
            );
        }
    }
}

/// Fargate accepts only certain CPU and memory pairs.
fn check_fargate_size(cpu: u32, memory: u32, problems: &mut Vec<Problem>) {
    let allowed: Vec<u32> = match cpu {
        256 => vec![512, 1024, 2048],
        512 => (1..=4).map(|gb| gb * 1024).collect(),
        1024 => (2..=8).map(|gb| gb * 1024).collect(),
        2048 => (4..=16).map(|gb| gb * 1024).collect(),
        4096 => (8..=30).map(|gb| gb * 1024).collect(),
        _ => {
            problems.push(
                Problem::new("compute.cpu", format!("{cpu} is not a Fargate CPU size"))
                    .help("use 256, 512, 1024, 2048 or 4096 (CPU units; 1024 is one vCPU)"),
            );
            return;
        }
    };
    if !allowed.contains(&memory) {
        let first = allowed.first().copied().unwrap_or_default();
        let last = allowed.last().copied().unwrap_or_default();
        problems.push(
            Problem::new(
                "compute.memory",
                format!("{memory} MiB does not fit {cpu} CPU units on Fargate"),
            )
            .help(format!(
                "with cpu {cpu}, use {first} to {last} MiB in steps of {}",
                if cpu == 256 { 512 } else { 1024 }
            )),
        );
    }
}

fn check_database(config: &EnvironmentConfig, problems: &mut Vec<Problem>) {
    let Some(db) = &config.database else { return };
    if config.network.azs < 2 {
        problems.push(
            Problem::new(
                "network.azs",
                "Aurora needs a DB subnet group spanning at least 2 availability zones",
            )
            .help("set network.azs to 2 or more, or remove the database section"),
        );
    }
    if db.instances == 0 || db.instances > MAX_DB_INSTANCES {
        problems.push(
            Problem::new("database.instances", format!("{} instances requested", db.instances)).help(format!(
                "use 1 (a writer) to {MAX_DB_INSTANCES} (a writer and 15 readers)"
            )),
        );
    }
    if !(1..=35).contains(&db.backup_retention_days) {
        problems.push(
            Problem::new(
                "database.backup_retention_days",
                format!("{} days", db.backup_retention_days),
            )
            .help("Aurora keeps backups for 1 to 35 days"),
        );
    }
    let version_parts: Vec<&str> = db.engine_version.split('.').collect();
    if version_parts.len() > 2
        || version_parts
            .iter()
            .any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()))
    {
        problems.push(
            Problem::new(
                "database.engine_version",
                format!("`{}` is not an Aurora PostgreSQL version", db.engine_version),
            )
            .help("use the major version alone, such as 17 (AWS picks its current minor and upgrades it), or an exact version such as 16.6"),
        );
    }
    if !db.instance_class.starts_with("db.") {
        problems.push(
            Problem::new(
                "database.instance_class",
                format!("`{}` is not a DB instance class", db.instance_class),
            )
            .help("use a class such as db.t4g.medium or db.r6g.large"),
        );
    }
}

fn check_app(config: &EnvironmentConfig, problems: &mut Vec<Problem>) {
    let app = &config.app;
    if let super::schema::SecretRef::Env(name) = &app.auth.token_from {
        problems.push(
            Problem::new("app.auth.token_from", format!("`env:{name}` would copy the token into the task definition or user data in clear text"))
                .help(format!(
                    "store it once with `aws ssm put-parameter --type SecureString --name /deployer/{0}/api-token --value ...` and write `token_from: ssm:/deployer/{0}/api-token`",
                    config.name
                )),
        );
    }
    if let Some(image) = &app.image
        && let Err(message) = check_image(image)
    {
        problems.push(Problem::new("app.image", message).help(
            "use a reference such as 123456789012.dkr.ecr.us-east-1.amazonaws.com/api@sha256:..., or remove app.image to run what `deployer push` pushed",
        ));
    }
    if app.port == 0 {
        problems.push(Problem::new("app.port", "port 0 is not a valid port").help("use 8000, the API's default"));
    }
    if app.metrics_port == 0 || app.metrics_port == app.port {
        problems.push(
            Problem::new(
                "app.metrics_port",
                format!("{} cannot be the metrics port", app.metrics_port),
            )
            .help("use a port of its own, other than app.port: 9100 is the default, and Prometheus's usual choice"),
        );
    }
}

/// The retention periods CloudWatch Logs accepts, in days.
const RETENTION_DAYS: [u16; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

fn check_logs(config: &EnvironmentConfig, problems: &mut Vec<Problem>) {
    let days = config.logs.retention_days;
    if !RETENTION_DAYS.contains(&days) {
        let nearest = RETENTION_DAYS
            .iter()
            .min_by_key(|d| d.abs_diff(days))
            .copied()
            .unwrap_or(30);
        problems.push(
            Problem::new(
                "logs.retention_days",
                format!("CloudWatch Logs cannot keep logs for {days} days"),
            )
            .help(format!(
                "use one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653 (nearest: {nearest})"
            )),
        );
    }
}

fn check_scaling(config: &EnvironmentConfig, problems: &mut Vec<Problem>) {
    let scaling = &config.compute.scaling;
    // Below 10% the fleet never scales in; above 90% it has no headroom for a burst.
    if !(10..=90).contains(&scaling.cpu_percent) {
        problems.push(
            Problem::new(
                "compute.scaling.cpu_percent",
                format!("{}% is outside 10 to 90", scaling.cpu_percent),
            )
            .help("use a target between 10 and 90 percent (60 leaves room for a burst)"),
        );
    }
    if scaling.requests_per_target == 0 {
        problems.push(
            Problem::new(
                "compute.scaling.requests_per_target",
                "0 requests per target would scale out forever",
            )
            .help("use 1 or more requests per target per minute (default 1000)"),
        );
    }
}

fn check_usage(config: &EnvironmentConfig, problems: &mut Vec<Problem>) {
    let usage = &config.usage;
    let quantities = [
        ("nat_gb_processed", usage.nat_gb_processed),
        ("load_balancer_lcus", usage.load_balancer_lcus),
        ("load_balancer_gb", usage.load_balancer_gb),
        ("database_storage_gb", usage.database_storage_gb),
        ("database_io_millions", usage.database_io_millions),
        ("log_ingest_gb", usage.log_ingest_gb),
        ("log_storage_gb", usage.log_storage_gb),
        ("image_storage_gb", usage.image_storage_gb),
        ("access_log_storage_gb", usage.access_log_storage_gb),
    ];
    for (field, value) in quantities {
        if let Some(value) = value
            && !(value.is_finite() && value >= 0.0)
        {
            problems.push(
                Problem::new(format!("usage.{field}"), format!("{value} is not a quantity"))
                    .help("give a number of 0 or more, or leave the field out to see its price per unit"),
            );
        }
    }
}

fn check_iam(config: &EnvironmentConfig, problems: &mut Vec<Problem>) {
    let Some(arn) = &config.iam.permissions_boundary else {
        return;
    };
    let parts: Vec<&str> = arn.split(':').collect();
    let account = parts.get(4).copied().unwrap_or_default();
    let name = parts.get(5).and_then(|p| p.strip_prefix("policy/")).unwrap_or_default();
    let well_formed = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && (account == "aws" || is_account_id(account))
        && !name.is_empty()
        && name.len() <= 512
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c));
    if !well_formed {
        problems.push(
            Problem::new(
                "iam.permissions_boundary",
                format!("`{}` is not an IAM managed policy ARN", crate::printable::printable_line(arn)),
            )
            .help("use the policy's ARN, arn:aws:iam::<account>:policy/<name> (`aws iam list-policies --scope Local` prints them)"),
        );
    }
}

fn check_https(config: &EnvironmentConfig, problems: &mut Vec<Problem>) {
    let Some(https) = &config.load_balancer.https else {
        return;
    };
    let arn = &https.certificate_arn;
    let parts: Vec<&str> = arn.split(':').collect();
    let account = parts.get(4).copied().unwrap_or_default();
    let well_formed = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "acm"
        && !parts[3].is_empty()
        && is_account_id(account)
        && parts[5].len() > "certificate/".len()
        && parts[5].starts_with("certificate/");
    if !well_formed {
        problems.push(
            Problem::new(
                "load_balancer.https.certificate_arn",
                format!("`{arn}` is not an ACM certificate ARN"),
            )
            .help("use the ARN `aws acm list-certificates` prints: arn:aws:acm:<region>:<account>:certificate/<id>"),
        );
    } else if let Some(region) = &config.region
        && parts[3] != region
    {
        problems.push(
            Problem::new(
                "load_balancer.https.certificate_arn",
                format!("the certificate is in {}, and the environment in {region}", parts[3]),
            )
            .help(format!(
                "a load balancer takes certificates of its own region: request or import one in {region}"
            )),
        );
    }
    if let Some(policy) = https
        .tls_policy
        .as_ref()
        .filter(|p| !p.starts_with("ELBSecurityPolicy-"))
    {
        problems.push(
            Problem::new(
                "load_balancer.https.tls_policy",
                format!("`{policy}` is not an ELB security policy"),
            )
            .help("leave it out for ELBSecurityPolicy-TLS13-1-2-2021-06 (TLS 1.3 and 1.2), or name another ELBSecurityPolicy-…"),
        );
    }
}

fn check_access_logs(config: &EnvironmentConfig, problems: &mut Vec<Problem>) {
    let Some(access_logs) = &config.load_balancer.access_logs else {
        return;
    };
    // S3 expiration takes any positive number of days; a zero would keep nothing.
    if access_logs.retention_days == 0 {
        problems.push(
            Problem::new(
                "load_balancer.access_logs.retention_days",
                "0 days would delete every log as it arrives",
            )
            .help("use a number of days from 1 up (90 keeps a quarter)"),
        );
    }
}

fn check_alarms(config: &EnvironmentConfig, problems: &mut Vec<Problem>) {
    let Some(alarms) = &config.alarms else { return };
    for (field, value) in [
        ("alarms.error_rate_percent", alarms.error_rate_percent),
        ("alarms.cpu_percent", alarms.cpu_percent),
        ("alarms.memory_percent", alarms.memory_percent),
        ("alarms.database_cpu_percent", alarms.database_cpu_percent),
    ] {
        if !(1..100).contains(&value) {
            problems.push(
                Problem::new(field, format!("{value} is not a percentage the metric can pass"))
                    .help("use a whole percentage from 1 to 99 (100 would never fire)"),
            );
        }
    }
    if alarms.latency_p99_ms == 0 {
        problems.push(
            Problem::new("alarms.latency_p99_ms", "0 ms would fire on every request")
                .help("use the p99 response time, in milliseconds, that means trouble (the default is 1000)"),
        );
    }
    if let Some(email) = &alarms.email {
        let valid = email.split_once('@').is_some_and(|(user, domain)| {
            !user.is_empty() && domain.contains('.') && !email.contains(char::is_whitespace)
        });
        if !valid {
            problems.push(
                Problem::new("alarms.email", format!("`{email}` is not an email address"))
                    .help("write one address, such as oncall@example.com, or leave `email` out"),
            );
        }
    }
}

fn check_registry(config: &EnvironmentConfig, problems: &mut Vec<Problem>) {
    // Deploys pin a digest: an environment that kept no image could not roll back or scale out.
    if config.registry.keep_images < 2 {
        problems.push(
            Problem::new(
                "registry.keep_images",
                format!(
                    "{} would leave no earlier image to go back to",
                    config.registry.keep_images
                ),
            )
            .help("keep at least 2 images (the default is 30)"),
        );
    }
}

fn check_tags(config: &EnvironmentConfig, problems: &mut Vec<Problem>) {
    if config.tags.len() > MAX_USER_TAGS {
        problems.push(
            Problem::new("tags", format!("{} tags given", config.tags.len())).help(format!(
                "AWS allows 50 tags per resource and deployer puts up to 6 of its own: keep at most {MAX_USER_TAGS}"
            )),
        );
    }
    for key in config.tags.keys() {
        let lower = key.to_ascii_lowercase();
        if lower.starts_with("aws:") || lower.starts_with("deployer:") || key == "Name" {
            problems.push(
                Problem::new(format!("tags.{key}"), format!("`{key}` is reserved"))
                    .help("`aws:` and `deployer:` prefixes and `Name` are set by AWS or deployer; pick another key"),
            );
        }
    }
}
