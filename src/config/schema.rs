//! The environment file's schema: what a user may write in `environments/<env>.yaml`.
//!
//! Every struct denies unknown keys so a typo is an error with a position, never a silently
//! ignored setting. Value-level checks that need no context (CIDR syntax, enum spellings,
//! secret references) happen while deserializing, so serde_yaml reports their line and column.
//! Checks across fields live in `validate.rs`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use ipnet::Ipv4Net;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One environment, as written in its YAML file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    /// Must equal the file's stem: `environments/staging.yaml` holds `name: staging`.
    pub name: String,
    /// AWS region; `--region` overrides it, and without either the AWS chain decides.
    #[serde(default)]
    pub region: Option<String>,
    pub network: NetworkConfig,
    pub load_balancer: LoadBalancerConfig,
    pub compute: ComputeConfig,
    #[serde(default)]
    pub database: Option<DatabaseConfig>,
    pub app: AppConfig,
    /// The environment's container registry (an ECR repository deployer manages).
    #[serde(default)]
    pub registry: RegistryConfig,
    /// The API's log group (CloudWatch Logs, a resource deployer manages).
    #[serde(default)]
    pub logs: LogsConfig,
    /// CloudWatch alarms on the load balancer, the compute and the database; none without it.
    #[serde(default)]
    pub alarms: Option<AlarmsConfig>,
    /// IAM settings of the roles deployer creates for the environment.
    #[serde(default)]
    pub iam: IamConfig,
    /// Expected monthly usage, for the usage-based lines of the cost estimate (`deployer
    /// cost`); a quantity left out is shown per unit and not added to the total.
    #[serde(default)]
    pub usage: UsageConfig,
    /// When true, destroy and replacements refuse without `--allow-destroy`.
    #[serde(default)]
    pub protect: bool,
    /// Extra tags put on every resource, beside deployer's own.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    pub cidr: Cidr,
    /// How many availability zones to spread subnets over.
    pub azs: u8,
    #[serde(default)]
    pub nat: NatMode,
    /// Explicit public subnet CIDRs, one per AZ; carved from `cidr` when absent.
    #[serde(default)]
    pub public_subnets: Option<Vec<Cidr>>,
    /// Explicit private subnet CIDRs, one per AZ; carved from `cidr` when absent.
    #[serde(default)]
    pub private_subnets: Option<Vec<Cidr>>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum NatMode {
    /// One NAT gateway shared by every private subnet (cheaper, one AZ's failure cuts egress).
    #[default]
    Single,
    /// One NAT gateway per AZ (what production wants).
    PerAz,
    /// No NAT: private subnets have no route to the internet.
    None,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancerConfig {
    pub kind: LoadBalancerKind,
    /// The public HTTP port.
    #[serde(default = "default_listener_port")]
    pub port: u16,
    #[serde(default = "default_health_check_path")]
    pub health_check_path: String,
    /// How the load balancer checks the API: defaults that suit an API answering in
    /// milliseconds, so a rollout takes seconds, not AWS's default minutes.
    #[serde(default)]
    pub health_check: HealthCheckConfig,
    /// How long a target being replaced keeps serving the requests it has (AWS's default is
    /// 300 s; the API holds no long requests).
    #[serde(default = "default_deregistration_delay")]
    pub deregistration_delay_seconds: u16,
    /// Access logs to an S3 bucket of the environment's own; off unless present.
    #[serde(default)]
    pub access_logs: Option<AccessLogsConfig>,
    /// HTTPS with a certificate the account has in ACM: a 443 listener, and port 80 answering
    /// with a redirect to it (ALB). Off unless present.
    #[serde(default)]
    pub https: Option<HttpsConfig>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpsConfig {
    /// An issued ACM certificate in the environment's region, e.g.
    /// `arn:aws:acm:us-east-1:123456789012:certificate/0c9c…`.
    pub certificate_arn: String,
    /// The load balancer's TLS policy (default: TLS 1.3 and 1.2 on an ALB,
    /// `ELBSecurityPolicy-TLS13-1-2-2021-06`; TLS 1.2 on a classic ELB,
    /// `ELBSecurityPolicy-TLS-1-2-2017-01`).
    #[serde(default)]
    pub tls_policy: Option<String>,
}

impl HttpsConfig {
    /// The TLS policy for `kind`: the file's, or the strictest each kind offers.
    pub fn tls_policy(&self, kind: LoadBalancerKind) -> String {
        self.tls_policy.clone().unwrap_or_else(|| {
            match kind {
                LoadBalancerKind::Alb => "ELBSecurityPolicy-TLS13-1-2-2021-06",
                LoadBalancerKind::Elb => "ELBSecurityPolicy-TLS-1-2-2017-01",
            }
            .to_owned()
        })
    }
}

/// Where the load balancer's access logs go: a private, encrypted bucket deployer manages,
/// deleted with the environment.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessLogsConfig {
    /// Days S3 keeps each log file before a lifecycle rule deletes it.
    #[serde(default = "default_access_log_days")]
    pub retention_days: u16,
}

fn default_access_log_days() -> u16 {
    90
}

/// What the environment's CloudWatch alarms watch for, and who hears of it. Each threshold has
/// a default; an alarm fires when its metric stays past the threshold for most of 5 minutes.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlarmsConfig {
    /// Where alarms and recoveries are mailed: an SNS topic with this email subscribed (the
    /// address must confirm the subscription from the mail AWS sends). None: alarms only show
    /// in the console and in `deployer status`.
    #[serde(default)]
    pub email: Option<String>,
    /// Load balancer 5xx answers (its own and the API's), percent of requests.
    #[serde(default = "default_error_rate_percent")]
    pub error_rate_percent: u16,
    /// The API's 99th-percentile response time at the load balancer, milliseconds.
    #[serde(default = "default_latency_p99_ms")]
    pub latency_p99_ms: u32,
    /// Targets the load balancer reports unhealthy; the alarm fires above this many.
    #[serde(default)]
    pub unhealthy_hosts: u16,
    /// Requests queued at a classic ELB waiting for a free instance (it drops them past 1024).
    #[serde(default = "default_surge_queue_length")]
    pub surge_queue_length: u16,
    /// Average CPU of the ECS service or the EC2 group, percent.
    #[serde(default = "default_alarm_cpu_percent")]
    pub cpu_percent: u16,
    /// Average memory of the ECS service, percent.
    #[serde(default = "default_alarm_memory_percent")]
    pub memory_percent: u16,
    /// Average CPU of the Aurora cluster, percent.
    #[serde(default = "default_alarm_cpu_percent")]
    pub database_cpu_percent: u16,
    /// Freeable memory of the Aurora cluster's instances, MiB; the alarm fires below it.
    #[serde(default = "default_database_free_memory_mb")]
    pub database_free_memory_mb: u32,
}

fn default_error_rate_percent() -> u16 {
    5
}

/// Ten times the API's p99 under load on a laptop: far from normal, well short of a timeout.
fn default_latency_p99_ms() -> u32 {
    1000
}

fn default_surge_queue_length() -> u16 {
    100
}

fn default_alarm_cpu_percent() -> u16 {
    80
}

fn default_alarm_memory_percent() -> u16 {
    80
}

fn default_database_free_memory_mb() -> u32 {
    256
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckConfig {
    #[serde(default = "default_check_interval")]
    pub interval_seconds: u16,
    #[serde(default = "default_check_timeout")]
    pub timeout_seconds: u16,
    /// Consecutive passes before a new target gets traffic.
    #[serde(default = "default_healthy_threshold")]
    pub healthy_threshold: u16,
    /// Consecutive failures before a target is taken out.
    #[serde(default = "default_unhealthy_threshold")]
    pub unhealthy_threshold: u16,
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        Self {
            interval_seconds: default_check_interval(),
            timeout_seconds: default_check_timeout(),
            healthy_threshold: default_healthy_threshold(),
            unhealthy_threshold: default_unhealthy_threshold(),
        }
    }
}

fn default_check_interval() -> u16 {
    10
}

fn default_check_timeout() -> u16 {
    5
}

fn default_healthy_threshold() -> u16 {
    2
}

fn default_unhealthy_threshold() -> u16 {
    3
}

fn default_deregistration_delay() -> u16 {
    20
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LoadBalancerKind {
    /// Application Load Balancer (elasticloadbalancingv2).
    Alb,
    /// Classic Elastic Load Balancer.
    Elb,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComputeConfig {
    pub kind: ComputeKind,
    /// EC2 instance type, for `kind: ec2` (default t3.micro).
    #[serde(default)]
    pub instance_type: Option<String>,
    /// AMI id for `kind: ec2`; resolved from the region's Amazon Linux 2023 parameter when absent.
    #[serde(default)]
    pub ami: Option<String>,
    /// Root volume size in GiB, for `kind: ec2` (default 30): an encrypted gp3 volume.
    #[serde(default)]
    pub root_volume_gb: Option<u32>,
    /// Fargate CPU units per task, for `kind: ecs` (default 256).
    #[serde(default)]
    pub cpu: Option<u32>,
    /// Fargate memory per task in MiB, for `kind: ecs` (default 512).
    #[serde(default)]
    pub memory: Option<u32>,
    /// The CPU architecture the API's image is built for and runs on: the build's platform,
    /// the Fargate task's runtime platform, and on EC2 the AMI and the default instance type
    /// (t3.micro, or t4g.micro on arm64).
    #[serde(default)]
    pub architecture: Architecture,
    /// Lower bound of the Auto Scaling group or ECS service; defaults to `desired`.
    #[serde(default)]
    pub min: Option<u32>,
    /// How many at creation; with `max` above `min`, the autoscaler moves it from then on.
    pub desired: u32,
    pub max: u32,
    /// What the autoscaler aims for when `max` is above `min`.
    #[serde(default)]
    pub scaling: ScalingConfig,
}

/// Target tracking: the autoscaler adds capacity when a metric runs above its target and
/// removes it when it runs below, between `min` and `max`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScalingConfig {
    /// Average CPU utilisation to keep, in percent.
    #[serde(default = "default_cpu_percent")]
    pub cpu_percent: u16,
    /// Requests per target per minute to keep (ALB only: a classic ELB has no such metric).
    #[serde(default = "default_requests_per_target")]
    pub requests_per_target: u32,
}

impl Default for ScalingConfig {
    fn default() -> Self {
        Self {
            cpu_percent: default_cpu_percent(),
            requests_per_target: default_requests_per_target(),
        }
    }
}

/// Headroom for a burst while new capacity starts (a minute or two on AWS).
fn default_cpu_percent() -> u16 {
    60
}

/// The API answers in about a millisecond; a thousand a minute per task is far from busy.
fn default_requests_per_target() -> u32 {
    1000
}

impl ComputeConfig {
    pub fn instance_type(&self) -> &str {
        self.instance_type.as_deref().unwrap_or(match self.architecture {
            Architecture::X86_64 => "t3.micro",
            Architecture::Arm64 => "t4g.micro",
        })
    }

    pub fn root_volume_gb(&self) -> u32 {
        self.root_volume_gb.unwrap_or(30)
    }

    pub fn cpu(&self) -> u32 {
        self.cpu.unwrap_or(256)
    }

    pub fn memory(&self) -> u32 {
        self.memory.unwrap_or(512)
    }

    pub fn min(&self) -> u32 {
        self.min.unwrap_or(self.desired)
    }

    /// Whether there is room to scale: a scaling policy then owns the desired count.
    pub fn scales(&self) -> bool {
        self.max > self.min()
    }
}

/// A CPU architecture, as AWS names it for AMIs (`x86_64`, `arm64`).
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    #[default]
    X86_64,
    Arm64,
}

impl Architecture {
    /// The container platform (`docker build --platform`).
    pub fn platform(self) -> &'static str {
        match self {
            Self::X86_64 => "linux/amd64",
            Self::Arm64 => "linux/arm64",
        }
    }

    /// ECS's `runtimePlatform.cpuArchitecture`.
    pub fn ecs(self) -> &'static str {
        match self {
            Self::X86_64 => "X86_64",
            Self::Arm64 => "ARM64",
        }
    }

    /// The suffix of Amazon Linux AMI names, and EC2's own name for it.
    pub fn ami(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64",
            Self::Arm64 => "arm64",
        }
    }

    /// Whether the EC2 instance type runs this architecture: Graviton families carry a `g`
    /// after their generation (t4g, m7g, c7gn, r8g), and a1 was the first; every other
    /// family is x86_64 here.
    pub fn runs_on(self, instance_type: &str) -> bool {
        let family = instance_type.split('.').next().unwrap_or_default();
        let after_generation = family.trim_start_matches(|c: char| c.is_ascii_alphabetic());
        let graviton = after_generation
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .starts_with('g');
        (graviton || family == "a1") == (self == Self::Arm64)
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ComputeKind {
    Ecs,
    Ec2,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub engine: DatabaseEngine,
    #[serde(default = "default_engine_version")]
    pub engine_version: String,
    #[serde(default = "default_instance_class")]
    pub instance_class: String,
    /// Cluster members: one writer plus `instances - 1` readers.
    #[serde(default = "default_db_instances")]
    pub instances: u8,
    #[serde(default)]
    pub deletion_protection: bool,
    #[serde(default = "default_backup_retention_days")]
    pub backup_retention_days: u8,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DatabaseEngine {
    AuroraPostgresql,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// An image built elsewhere. When absent, the environment runs the image most recently
    /// pushed to its own repository (`deployer push`), by digest.
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default = "default_app_port")]
    pub port: u16,
    /// Where the API serves /metrics: a port the load balancer does not forward, open to the
    /// VPC only.
    #[serde(default = "default_metrics_port")]
    pub metrics_port: u16,
    pub auth: AuthConfig,
}

/// Monthly quantities of what is billed by use. Each is optional: none is assumed.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageConfig {
    /// GB processed by each NAT gateway in a month.
    #[serde(default)]
    pub nat_gb_processed: Option<f64>,
    /// The ALB's average load balancer capacity units (LCUs) over the month.
    #[serde(default)]
    pub load_balancer_lcus: Option<f64>,
    /// GB processed by the classic ELB in a month.
    #[serde(default)]
    pub load_balancer_gb: Option<f64>,
    /// GB the Aurora cluster stores.
    #[serde(default)]
    pub database_storage_gb: Option<f64>,
    /// Millions of I/O requests the Aurora cluster makes in a month.
    #[serde(default)]
    pub database_io_millions: Option<f64>,
    /// GB of API logs ingested in a month.
    #[serde(default)]
    pub log_ingest_gb: Option<f64>,
    /// GB of API logs kept.
    #[serde(default)]
    pub log_storage_gb: Option<f64>,
    /// GB of images the repository keeps.
    #[serde(default)]
    pub image_storage_gb: Option<f64>,
    /// GB of load balancer access logs the bucket keeps.
    #[serde(default)]
    pub access_log_storage_gb: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IamConfig {
    /// A managed policy's ARN that every role deployer creates gets as its permissions
    /// boundary (`arn:aws:iam::<account>:policy/<name>`); with it, the policy `deployer
    /// permissions` prints lets the deploy role create no role without it, so the deploy role
    /// cannot mint a role with more rights than the boundary.
    #[serde(default)]
    pub permissions_boundary: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// How many images the repository keeps; older ones expire (ECR lifecycle policy).
    #[serde(default = "default_keep_images")]
    pub keep_images: u16,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogsConfig {
    /// How many days CloudWatch Logs keeps the API's logs (one of the periods AWS offers).
    #[serde(default = "default_retention_days")]
    pub retention_days: u16,
}

impl Default for LogsConfig {
    fn default() -> Self {
        Self {
            retention_days: default_retention_days(),
        }
    }
}

fn default_retention_days() -> u16 {
    30
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            keep_images: default_keep_images(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Where the API's basic-auth token comes from; never the secret itself.
    pub token_from: SecretRef,
}

/// A reference to a secret kept outside the YAML file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// `env:NAME`: read from the deployer's environment at apply time.
    Env(String),
    /// `ssm:/path`: an SSM Parameter Store SecureString.
    Ssm(String),
    /// `secretsmanager:name`: a Secrets Manager secret.
    SecretsManager(String),
}

impl FromStr for SecretRef {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let expected = "expected `env:NAME`, `ssm:/parameter/path` or `secretsmanager:secret-name`";
        let (scheme, rest) = s
            .split_once(':')
            .ok_or_else(|| format!("invalid secret reference `{s}`: {expected}"))?;
        if rest.is_empty() {
            return Err(format!(
                "invalid secret reference `{s}`: the part after `{scheme}:` is empty; {expected}"
            ));
        }
        match scheme {
            "env" if rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => Ok(Self::Env(rest.to_owned())),
            "env" => Err(format!(
                "invalid environment variable name `{rest}`: use letters, digits and `_`"
            )),
            "ssm" if rest.starts_with('/') && rest.chars().all(|c| c.is_ascii_alphanumeric() || "/_.-".contains(c)) => {
                Ok(Self::Ssm(rest.to_owned()))
            }
            "ssm" if rest.starts_with('/') => Err(format!(
                "invalid SSM parameter `{rest}`: use letters, digits and `/_.-`"
            )),
            "ssm" => Err(format!(
                "invalid SSM parameter `{rest}`: parameter paths start with `/`"
            )),
            "secretsmanager" if rest.chars().all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c)) => {
                Ok(Self::SecretsManager(rest.to_owned()))
            }
            "secretsmanager" => Err(format!(
                "invalid secret name `{rest}`: use letters, digits and `/_+=.@-`"
            )),
            other => Err(format!("unknown secret source `{other}`: {expected}")),
        }
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(name) => write!(f, "env:{name}"),
            Self::Ssm(path) => write!(f, "ssm:{path}"),
            Self::SecretsManager(name) => write!(f, "secretsmanager:{name}"),
        }
    }
}

/// An IPv4 network in CIDR notation whose address has no host bits set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr(pub Ipv4Net);

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let net: Ipv4Net = s
            .parse()
            .map_err(|_| format!("invalid CIDR `{s}`: expected an IPv4 network such as 10.0.0.0/16"))?;
        if net.trunc() != net {
            return Err(format!(
                "invalid CIDR `{s}`: host bits are set; the network address is {}",
                net.trunc()
            ));
        }
        Ok(Self(net))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Both string-typed values parse through `FromStr`, so serde_yaml can put the position on the error.
macro_rules! serde_via_str {
    ($ty:ty) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
    };
}

serde_via_str!(Cidr);
serde_via_str!(SecretRef);

/// Both are strings in the file; the schema says which strings.
macro_rules! schema_as_string {
    ($ty:ty, $description:literal, $pattern:literal) => {
        impl JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($ty).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "description": $description,
                    "pattern": $pattern
                })
            }
        }
    };
}

schema_as_string!(
    Cidr,
    "An IPv4 network in CIDR notation with no host bits set, such as 10.0.0.0/16.",
    r"^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$"
);
schema_as_string!(
    SecretRef,
    "Where a secret is kept: `ssm:/parameter/path`, `secretsmanager:secret-name` or `env:NAME`.",
    r"^(env:[A-Za-z0-9_]+|ssm:/[A-Za-z0-9/_.-]+|secretsmanager:[A-Za-z0-9/_+=.@-]+)$"
);

fn default_listener_port() -> u16 {
    80
}

fn default_health_check_path() -> String {
    "/healthcheck".to_owned()
}

/// The major version alone: AWS creates the cluster on its current minor for new clusters and
/// upgrades minors itself, which deployer does not count as drift. (A full version such as
/// 16.4 is kept exact, and AWS refuses to create clusters on the minors it has retired.)
fn default_engine_version() -> String {
    "17".to_owned()
}

fn default_instance_class() -> String {
    "db.t4g.medium".to_owned()
}

fn default_db_instances() -> u8 {
    1
}

fn default_backup_retention_days() -> u8 {
    7
}

fn default_keep_images() -> u16 {
    30
}

fn default_app_port() -> u16 {
    8000
}

fn default_metrics_port() -> u16 {
    9100
}
