//! Every physical name deployer gives, in one place: the model names its resources with these,
//! and discovery, the adapters and the commands find them by the same functions (discovery of
//! the kinds AWS does not tag, or tags only after create, depends on the two agreeing).
//! An environment name is at most 20 characters (`config`), which every limit below assumes.

/// The load balancer (classic ELB or ALB): `<env>-lb`.
pub fn load_balancer(environment: &str) -> String {
    format!("{environment}-lb")
}

/// The EC2 compute: the Auto Scaling group and its launch template, `<env>-app`.
pub fn app(environment: &str) -> String {
    format!("{environment}-app")
}

/// The target group's name: `<env>-app-<6 hex>`, the hash of what forces its replacement
/// (port, target type), so a replacement can be created beside the old group and the listener
/// moved to it before the old one goes (AWS refuses to delete a group a listener forwards to,
/// and keeps names unique). At most 20 + 11 characters, under AWS's 32.
pub fn target_group(environment: &str, port: u16, target_type: &str) -> String {
    let hash = super::tags::content_digest(&format!("{port}/{target_type}"));
    format!("{}-{}", app(environment), &hash[..6])
}

/// Whether `name` is one of `environment`'s target group names (`target_group`).
pub fn is_target_group(environment: &str, name: &str) -> bool {
    name.strip_prefix(environment)
        .and_then(|rest| rest.strip_prefix("-app-"))
        .is_some_and(|hash| hash.len() == 6 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The ECS task definition family: `<env>-api`.
pub fn task_family(environment: &str) -> String {
    format!("{environment}-api")
}

/// What every task definition family of the environment starts with.
pub fn task_family_prefix(environment: &str) -> String {
    format!("{environment}-")
}

/// The ECS service as Application Auto Scaling names it: `service/<env>/api` (the cluster is
/// named after the environment).
pub fn scalable_service(environment: &str) -> String {
    format!("{}api", scalable_service_prefix(environment))
}

/// What the environment's scalable ECS services start with.
pub fn scalable_service_prefix(environment: &str) -> String {
    format!("service/{environment}/")
}

/// The Aurora cluster: `<env>-db`.
pub fn database(environment: &str) -> String {
    format!("{environment}-db")
}

/// The cluster's instance `number` (1 is the writer at first): `<env>-db-<n>`.
pub fn database_instance(environment: &str, number: usize) -> String {
    format!("{}-{number}", database(environment))
}

/// The DB subnet group: `<env>-db-subnets`.
pub fn database_subnet_group(environment: &str) -> String {
    format!("{}-subnets", database(environment))
}

/// The environment's ECR repository. Under `deployer/<env>/` so that account-wide policies can
/// name every environment's repositories with one pattern.
pub fn repository(environment: &str) -> String {
    format!("{}api", repository_prefix(environment))
}

/// What the environment's repositories start with.
pub fn repository_prefix(environment: &str) -> String {
    format!("deployer/{environment}/")
}

/// The CloudWatch Logs group the environment's API writes to (awslogs driver, or the Docker
/// driver on EC2).
pub fn log_group(environment: &str) -> String {
    format!("{}api", log_group_prefix(environment))
}

/// What the environment's log groups start with.
pub fn log_group_prefix(environment: &str) -> String {
    format!("/deployer/{environment}/")
}

/// S3 bucket names are global: the account and region make the environment's own unique.
/// At most 9 + 20 + 6 + 12 + 1 + 14 = 62 characters, inside S3's 63.
pub fn log_bucket(environment: &str, account: &str, region: &str) -> String {
    format!("{}{account}-{region}", log_bucket_prefix(environment))
}

/// What the environment's buckets start with.
pub fn log_bucket_prefix(environment: &str) -> String {
    format!("deployer-{environment}-logs-")
}

/// IAM names are account-wide, but an environment may be deployed in several regions: each
/// region's roles and profiles are its own (`<env>-<region>-<suffix>`, under
/// `/deployer/<env>/<region>/`), so a second region never adopts, rewrites or deletes the
/// first one's. At most 20 + 14 + 10 + 2 characters, under IAM's 64.
pub fn iam(environment: &str, region: &str, suffix: &str) -> String {
    format!("{environment}-{region}-{suffix}")
}

/// The IAM path that scopes one environment's roles and profiles in one region.
pub fn iam_path(environment: &str, region: &str) -> String {
    format!("/deployer/{environment}/{region}/")
}

/// The SNS topic the alarms publish to: `<env>-alarms`.
pub fn alarm_topic(environment: &str) -> String {
    format!("{environment}-alarms")
}

/// What each alarm deployer may make watches: its name is `<env>-<suffix>`. The deploy policy
/// names each one, not `<env>-*`, which would also reach the alarms of an environment called
/// `<env>-<anything>`. No suffix ends with `-` and another suffix (a test checks), so no
/// environment's alarm has another environment's name.
pub const ALARM_SUFFIXES: &[&str] = &[
    "lb-5xx-rate",
    "lb-latency-p99",
    "lb-unhealthy-hosts",
    "lb-surge-queue",
    "lb-spillover",
    "app-cpu",
    "app-memory",
    "db-cpu",
    "db-free-memory",
];

/// An alarm: `<env>-<what it watches>`, one of `ALARM_SUFFIXES`.
pub fn alarm(environment: &str, suffix: &str) -> String {
    debug_assert!(ALARM_SUFFIXES.contains(&suffix), "{suffix} is not in ALARM_SUFFIXES");
    format!("{}{suffix}", alarm_prefix(environment))
}

/// Every alarm name the environment may have (`ALARM_SUFFIXES`): what its policies name.
pub fn alarms(environment: &str) -> Vec<String> {
    ALARM_SUFFIXES.iter().map(|suffix| alarm(environment, suffix)).collect()
}

/// What the environment's alarms start with (for listing them; never for a policy).
pub fn alarm_prefix(environment: &str) -> String {
    format!("{environment}-")
}

/// What `deployer bootstrap` tags its resources with in place of an environment's name, and
/// puts its roles and policies under (`/deployer/bootstrap/<region>/`): no environment may be
/// called so (`config` refuses it), and no environment's deploy role can touch them.
pub const BOOTSTRAP: &str = crate::config::RESERVED_NAME;

/// A CI role of `deployer bootstrap`: `bootstrap-<region>-<env>-deploy` or `-plan`.
pub fn ci_role(region: &str, environment: &str, role: &str) -> String {
    iam(BOOTSTRAP, region, &format!("{environment}-{role}"))
}

/// A CI policy of `deployer bootstrap`: the document's name and the region (managed policy
/// names are unique in the account, whatever their path).
pub fn ci_policy(document: &str, region: &str) -> String {
    format!("{document}-{region}")
}

/// GitHub Actions' OpenID Connect issuer.
pub const GITHUB_OIDC_URL: &str = "https://token.actions.githubusercontent.com";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_names_read_as_documented() {
        assert_eq!(load_balancer("staging"), "staging-lb");
        assert_eq!(app("staging"), "staging-app");
        assert!(is_target_group("staging", &target_group("staging", 8000, "ip")));
        assert!(!is_target_group("staging", "staging-app"));
        assert_eq!(scalable_service("staging"), "service/staging/api");
        assert_eq!(database_instance("staging", 2), "staging-db-2");
        assert_eq!(database_subnet_group("staging"), "staging-db-subnets");
        assert_eq!(repository("staging"), "deployer/staging/api");
        assert_eq!(log_group("staging"), "/deployer/staging/api");
        assert_eq!(
            log_bucket("staging", "123456789012", "eu-west-1"),
            "deployer-staging-logs-123456789012-eu-west-1"
        );
        assert_eq!(alarm("staging", "db-cpu"), "staging-db-cpu");
        for (one, other) in ALARM_SUFFIXES
            .iter()
            .flat_map(|a| ALARM_SUFFIXES.iter().map(move |b| (a, b)))
        {
            assert!(
                !one.ends_with(&format!("-{other}")),
                "`prod-eu-{other}` would be prod's `{one}`"
            );
        }
        // Every alarm the model makes is one the policy names.
        let alarms = include_str!("build/alarms.rs");
        let made: Vec<&str> = alarms
            .split("suffix: \"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert!(made.len() >= ALARM_SUFFIXES.len(), "{made:?}");
        for suffix in made {
            assert!(
                ALARM_SUFFIXES.contains(&suffix),
                "alarm `{suffix}` is missing from ALARM_SUFFIXES"
            );
        }
        let longest = "a".repeat(20);
        assert!(target_group(&longest, 65535, "instance").len() <= 32);
        assert!(log_bucket(&longest, "123456789012", "ap-southeast-4").len() <= 63);
        assert!(iam(&longest, "ap-southeast-4", "execution").len() <= 64);
    }
}
