//! AWS's preconditions that the emulator does not enforce, refused in every integration test
//! with AWS's own error code and message (see ARCHITECTURE.md, "AWS's rules in the test
//! proxy"). The emulator accepts these orderings, names and values; a real account does not,
//! so a deployer that only passes the emulator would fail its first real apply.
//!
//! Each rule is a pure function of the request and of `Facts`, what AWS would know at that
//! moment (read from the emulator by `EmulatorFacts`, or given by a unit test). Rules that need
//! time (IAM propagation) or a history (a cluster's instances being created) keep their state
//! in `AwsRules`. Two rules change answers instead of refusing calls, as AWS fails those
//! resources after their create returns: a NAT gateway in a VPC without an attached internet
//! gateway, and the deployment of a Fargate service whose subnets have no route out.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// How long a new IAM role stays unusable to ECS: AWS documents "eventually consistent",
/// typically seconds; long enough for deployer to have to retry, short for the suite.
pub(crate) const DEFAULT_ROLE_PROPAGATION: Duration = Duration::from_millis(1500);

/// AWS's limit on tags per resource (EC2, ELB, RDS, ECS, IAM, ...).
const MAX_TAGS: usize = 50;

/// One request as the rules read it.
pub(crate) struct Call<'a> {
    pub(crate) operation: &'a str,
    /// The signing name in the credential scope: `ec2`, `elasticloadbalancing`, `ecs`, ...
    pub(crate) service: &'a str,
    /// Form fields (query protocols), decoded.
    pub(crate) form: &'a BTreeMap<String, String>,
    /// The body of a JSON-protocol request.
    pub(crate) json: Option<&'a serde_json::Value>,
}

impl Call<'_> {
    fn param(&self, key: &str) -> Option<&str> {
        self.form.get(key).map(String::as_str)
    }

    /// The values of a query list `Name.member.N` (or EC2's `Name.N`), in order.
    fn list(&self, prefix: &str) -> Vec<&str> {
        let mut values: Vec<(u32, &str)> = self
            .form
            .iter()
            .filter_map(|(key, value)| {
                let n = key.strip_prefix(prefix)?.strip_prefix('.')?;
                Some((n.parse().ok()?, value.as_str()))
            })
            .collect();
        values.sort_unstable();
        values.into_iter().map(|(_, v)| v).collect()
    }

    fn is(&self, service: &str, operation: &str) -> bool {
        self.service == service && self.operation == operation
    }

    /// ELBv2 and the classic ELB share a signing name; their API versions differ.
    fn is_elbv2(&self, operation: &str) -> bool {
        self.is("elasticloadbalancing", operation) && self.param("Version") == Some("2015-12-01")
    }

    fn is_classic_elb(&self, operation: &str) -> bool {
        self.is("elasticloadbalancing", operation) && self.param("Version") == Some("2012-06-01")
    }
}

/// AWS's answer refusing a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) code: String,
    pub(crate) message: String,
}

fn refuse(code: &str, message: impl Into<String>) -> Option<Refusal> {
    Some(Refusal {
        code: code.to_owned(),
        message: message.into(),
    })
}

/// What AWS knows when a call arrives.
pub(crate) trait Facts {
    fn subnet_vpc(&self, subnet: &str) -> Option<String>;
    fn vpc_has_attached_internet_gateway(&self, vpc: &str) -> bool;
    /// Whether the subnet's route table (its own, or the VPC's main one) sends 0.0.0.0/0 to a
    /// NAT gateway (or to an internet gateway, when the tasks get public addresses).
    fn subnet_has_default_route(&self, subnet: &str, via_internet_gateway: bool) -> bool;
    /// Whether some listener forwards to the target group (`targetgroup/<name>/<id>` or a whole ARN).
    fn target_group_has_load_balancer(&self, target_group: &str) -> bool;
    fn cluster_engine_version(&self, cluster: &str) -> Option<String>;
    /// What keeps a managed policy from being deleted: attached to a role, or versions
    /// besides the default.
    fn policy_in_use(&self, policy: &str) -> Option<&'static str>;
}

/// The rules' memory across calls.
pub(crate) struct AwsRules {
    role_propagation: Duration,
    roles_created: BTreeMap<String, Instant>,
    /// Instances being created, by cluster, until an answer shows them available.
    creating_instances: BTreeMap<String, BTreeSet<String>>,
    /// Clusters whose concurrent-create refusal was given (AWS does it at times: once here).
    refused_concurrent_create: BTreeSet<String>,
    /// NAT gateways created without an attached internet gateway: AWS fails them.
    failed_nat_gateways: BTreeMap<String, String>,
    /// Deployments of services created without a route out: the circuit breaker fails them.
    failed_deployments: BTreeSet<String>,
    /// Calls refused so far: (operation, code), for tests of the rules.
    pub(crate) refusals: Vec<(String, String)>,
}

impl AwsRules {
    pub(crate) fn new() -> Self {
        Self {
            role_propagation: DEFAULT_ROLE_PROPAGATION,
            roles_created: BTreeMap::new(),
            creating_instances: BTreeMap::new(),
            refused_concurrent_create: BTreeSet::new(),
            failed_nat_gateways: BTreeMap::new(),
            failed_deployments: BTreeSet::new(),
            refusals: Vec::new(),
        }
    }

    pub(crate) fn set_role_propagation(&mut self, delay: Duration) {
        self.role_propagation = delay;
    }

    /// AWS's refusal of `call`, if it refuses it.
    pub(crate) fn before(&mut self, call: &Call<'_>, facts: &dyn Facts) -> Option<Refusal> {
        let refusal = self.refusal(call, facts);
        if let Some(refusal) = &refusal {
            self.refusals.push((call.operation.to_owned(), refusal.code.clone()));
        }
        refusal
    }

    fn refusal(&mut self, call: &Call<'_>, facts: &dyn Facts) -> Option<Refusal> {
        too_many_tags(call)
            .or_else(|| refused_name(call))
            .or_else(|| internet_facing_without_gateway(call, facts))
            .or_else(|| service_before_listener(call, facts))
            .or_else(|| fargate_behind_classic_elb(call))
            .or_else(|| request_count_before_listener(call, facts))
            .or_else(|| target_group_in_use(call, facts))
            .or_else(|| policy_in_use(call, facts))
            .or_else(|| major_upgrade_without_flag(call, facts))
            .or_else(|| self.role_not_yet_usable(call))
            .or_else(|| self.concurrent_instance_create(call))
    }

    /// Learns from a call AWS answered (`answer`: its body), and changes the answer where AWS
    /// fails a resource after its create returned.
    pub(crate) fn after(&mut self, call: &Call<'_>, answer: &mut String, facts: &dyn Facts) {
        if call.is("iam", "CreateRole")
            && let Some(name) = call.param("RoleName")
        {
            self.roles_created.insert(name.to_owned(), Instant::now());
        }
        if call.is("rds", "CreateDBInstance")
            && let (Some(cluster), Some(instance)) =
                (call.param("DBClusterIdentifier"), call.param("DBInstanceIdentifier"))
        {
            self.creating_instances
                .entry(cluster.to_ascii_lowercase())
                .or_default()
                .insert(instance.to_ascii_lowercase());
        }
        if call.is("rds", "DescribeDBInstances") {
            for block in blocks(answer, "DBInstance") {
                if values(block, "DBInstanceStatus").first().map(String::as_str) == Some("available") {
                    let id = values(block, "DBInstanceIdentifier")
                        .first()
                        .cloned()
                        .unwrap_or_default();
                    for creating in self.creating_instances.values_mut() {
                        creating.remove(&id.to_ascii_lowercase());
                    }
                }
            }
        }
        // Gateway.NotAttached: AWS creates the NAT gateway, then fails it.
        if call.is("ec2", "CreateNatGateway")
            && call.param("ConnectivityType").unwrap_or("public") == "public"
            && let Some(subnet) = call.param("SubnetId")
            && let Some(vpc) = facts.subnet_vpc(subnet)
            && !facts.vpc_has_attached_internet_gateway(&vpc)
            && let Some(id) = values(answer, "natGatewayId").first()
        {
            self.failed_nat_gateways.insert(id.clone(), vpc);
        }
        if call.is("ec2", "DescribeNatGateways") {
            for (id, vpc) in &self.failed_nat_gateways {
                *answer = fail_nat_gateway(answer, id, vpc);
            }
        }
        // Tasks that cannot reach the registry stop with CannotPullContainerError, and the
        // circuit breaker fails the deployment.
        if call.is("ecs", "CreateService")
            && let Some(request) = call.json
            && !service_has_a_way_out(request, facts)
            && let Ok(created) = serde_json::from_str::<serde_json::Value>(answer)
        {
            for deployment in created["service"]["deployments"].as_array().into_iter().flatten() {
                if let Some(id) = deployment["id"].as_str() {
                    self.failed_deployments.insert(id.to_owned());
                }
            }
        }
        if call.is("ecs", "DescribeServices") && !self.failed_deployments.is_empty() {
            *answer = fail_deployments(answer, &self.failed_deployments);
        }
    }

    /// ECS cannot pass a role IAM has not propagated yet: "Role is not valid" (RegisterTask
    /// Definition), for seconds after CreateRole (IAM User Guide, "Changes that I make are not
    /// always immediately visible"; terraform-aws-modules/terraform-aws-ecs#414).
    fn role_not_yet_usable(&self, call: &Call<'_>) -> Option<Refusal> {
        if !call.is("ecs", "RegisterTaskDefinition") {
            return None;
        }
        let request = call.json?;
        for key in ["executionRoleArn", "taskRoleArn"] {
            let Some(arn) = request[key].as_str() else { continue };
            let name = arn.rsplit('/').next().unwrap_or(arn);
            if self
                .roles_created
                .get(name)
                .is_some_and(|created| created.elapsed() < self.role_propagation)
            {
                return refuse("ClientException", "Role is not valid");
            }
        }
        None
    }

    /// Two instances created into one Aurora cluster at once: AWS answers, at times,
    /// InvalidDBClusterStateFault (terraform-provider-aws#50115). Refused once per cluster.
    fn concurrent_instance_create(&mut self, call: &Call<'_>) -> Option<Refusal> {
        if !call.is("rds", "CreateDBInstance") {
            return None;
        }
        let cluster = call.param("DBClusterIdentifier")?.to_ascii_lowercase();
        let busy = self.creating_instances.get(&cluster).is_some_and(|c| !c.is_empty());
        if busy && self.refused_concurrent_create.insert(cluster.clone()) {
            return refuse(
                "InvalidDBClusterStateFault",
                format!(
                    "Cannot create a new DB instance in cluster {cluster} while another DB instance is being created."
                ),
            );
        }
        None
    }
}

/// More than 50 tags on one resource. EC2: TagSpecification.N.Tag.M; query: Tags.member.N;
/// JSON: tags / Tags arrays (AWS General Reference, "Tagging your AWS resources": 50 per resource).
fn too_many_tags(call: &Call<'_>) -> Option<Refusal> {
    let mut per_resource: BTreeMap<String, usize> = BTreeMap::new();
    for key in call.form.keys() {
        if let Some(rest) = key.strip_prefix("TagSpecification.") {
            let Some((spec, tail)) = rest.split_once('.') else {
                continue;
            };
            if tail.starts_with("Tag.") && tail.ends_with(".Key") {
                *per_resource.entry(spec.to_owned()).or_default() += 1;
            }
        } else if key.starts_with("Tags.member.") && key.ends_with(".Key") {
            *per_resource.entry(String::new()).or_default() += 1;
        }
    }
    if let Some(json) = call.json {
        for key in ["tags", "Tags"] {
            if let Some(tags) = json[key].as_array() {
                per_resource.insert(key.to_owned(), tags.len());
            } else if let Some(tags) = json[key].as_object() {
                per_resource.insert(key.to_owned(), tags.len());
            }
        }
    }
    let most = per_resource.values().copied().max().unwrap_or(0);
    (most > MAX_TAGS).then(|| Refusal {
        code: match call.service {
            "ec2" => "TagLimitExceeded",
            "elasticloadbalancing" => "TooManyTags",
            "rds" => "TagQuotaPerResourceExceeded",
            "iam" => "LimitExceeded",
            _ => "ValidationException",
        }
        .to_owned(),
        message: format!("{most} tags: the maximum number of tags per resource is {MAX_TAGS}"),
    })
}

/// Names AWS refuses that the emulator stores: security group names `sg-…` (EC2 API
/// Reference, CreateSecurityGroup: "Constraints: … cannot start with sg-"); ELBv2 names
/// beginning `internal-`, or not 1-32 alphanumerics and hyphens without a hyphen at either end
/// (CreateLoadBalancer, CreateTargetGroup); RDS identifiers that do not start with a letter,
/// end with a hyphen or hold two in a row (CreateDBCluster, CreateDBInstance).
fn refused_name(call: &Call<'_>) -> Option<Refusal> {
    if call.is("ec2", "CreateSecurityGroup")
        && call
            .param("GroupName")
            .is_some_and(|n| n.to_ascii_lowercase().starts_with("sg-"))
    {
        return refuse("InvalidParameterValue", "Group names may not be in the format sg-*.");
    }
    for operation in ["CreateLoadBalancer", "CreateTargetGroup"] {
        if call.is_elbv2(operation)
            && let Some(name) = call.param("Name")
        {
            let well_formed = (1..=32).contains(&name.len())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !name.starts_with('-')
                && !name.ends_with('-');
            if !well_formed {
                return refuse(
                    "ValidationError",
                    format!(
                        "Name '{name}' must be 1 to 32 alphanumeric characters or hyphens, and must not begin or end with a hyphen"
                    ),
                );
            }
            if operation == "CreateLoadBalancer" && name.starts_with("internal-") {
                return refuse("ValidationError", "Load balancer name cannot begin with 'internal-'");
            }
        }
    }
    for (operation, key) in [
        ("CreateDBCluster", "DBClusterIdentifier"),
        ("CreateDBInstance", "DBInstanceIdentifier"),
    ] {
        if call.is("rds", operation)
            && let Some(id) = call.param(key)
        {
            let well_formed = (1..=63).contains(&id.len())
                && id.starts_with(|c: char| c.is_ascii_alphabetic())
                && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !id.ends_with('-')
                && !id.contains("--");
            if !well_formed {
                return refuse(
                    "InvalidParameterValue",
                    format!(
                        "The parameter {key} is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens."
                    ),
                );
            }
        }
    }
    None
}

/// An internet-facing load balancer in a VPC without an attached internet gateway
/// (ELBv2 API Reference, CreateLoadBalancer: InvalidSubnet; CloudFormation's DependsOn on
/// AWS::EC2::VPCGatewayAttachment for the same reason).
fn internet_facing_without_gateway(call: &Call<'_>, facts: &dyn Facts) -> Option<Refusal> {
    let subnets = if call.is_elbv2("CreateLoadBalancer") || call.is_classic_elb("CreateLoadBalancer") {
        if call.param("Scheme") == Some("internal") {
            return None;
        }
        call.list("Subnets.member")
    } else {
        return None;
    };
    for subnet in subnets {
        if let Some(vpc) = facts.subnet_vpc(subnet)
            && !facts.vpc_has_attached_internet_gateway(&vpc)
        {
            return refuse("InvalidSubnet", format!("VPC {vpc} has no internet gateway"));
        }
    }
    None
}

/// ECS CreateService naming a target group no listener forwards to (Amazon ECS Developer
/// Guide, "Use an Application Load Balancer": the target group must be associated with a
/// load balancer first).
fn service_before_listener(call: &Call<'_>, facts: &dyn Facts) -> Option<Refusal> {
    if !call.is("ecs", "CreateService") {
        return None;
    }
    for balancer in call.json?["loadBalancers"].as_array().into_iter().flatten() {
        if let Some(group) = balancer["targetGroupArn"].as_str()
            && !facts.target_group_has_load_balancer(group)
        {
            return refuse(
                "InvalidParameterException",
                format!("The target group with targetGroupArn {group} does not have an associated load balancer."),
            );
        }
    }
    None
}

/// Fargate (awsvpc) services register with ALB/NLB target groups only (Amazon ECS Developer
/// Guide, "Classic Load Balancers are not supported for tasks using the awsvpc network mode").
fn fargate_behind_classic_elb(call: &Call<'_>) -> Option<Refusal> {
    if !call.is("ecs", "CreateService") {
        return None;
    }
    let request = call.json?;
    let fargate =
        request["launchType"] == "FARGATE" || request["networkConfiguration"]["awsvpcConfiguration"].is_object();
    let classic = request["loadBalancers"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|b| b["loadBalancerName"].is_string());
    (fargate && classic).then(|| Refusal {
        code: "InvalidParameterException".into(),
        message: "Classic Load Balancers are not supported with the awsvpc network mode.".into(),
    })
}

/// ALBRequestCountPerTarget names `app/<lb>/<id>/targetgroup/<tg>/<id>`; AWS refuses it while
/// the target group is not associated with that load balancer (Application Auto Scaling API
/// Reference, PredefinedMetricSpecification.ResourceLabel).
fn request_count_before_listener(call: &Call<'_>, facts: &dyn Facts) -> Option<Refusal> {
    let label = if call.is("application-autoscaling", "PutScalingPolicy") {
        call.json?["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]["ResourceLabel"]
            .as_str()?
            .to_owned()
    } else if call.is("autoscaling", "PutScalingPolicy") {
        call.param("TargetTrackingConfiguration.PredefinedMetricSpecification.ResourceLabel")?
            .to_owned()
    } else {
        return None;
    };
    let group = label
        .split_once("/targetgroup/")
        .map(|(_, g)| format!("targetgroup/{g}"))?;
    (!facts.target_group_has_load_balancer(&group)).then(|| Refusal {
        code: "ValidationException".into(),
        message: format!("Target group {group} is not associated with the load balancer in ResourceLabel {label}"),
    })
}

/// A target group a listener forwards to cannot be deleted (ELBv2 API Reference,
/// DeleteTargetGroup: "You can delete a target group if it is not referenced by any
/// actions"): the listener must move first.
fn target_group_in_use(call: &Call<'_>, facts: &dyn Facts) -> Option<Refusal> {
    if !call.is_elbv2("DeleteTargetGroup") {
        return None;
    }
    let group = call.param("TargetGroupArn")?;
    facts.target_group_has_load_balancer(group).then(|| Refusal {
        code: "ResourceInUse".into(),
        message: format!("Target group '{group}' is currently in use by a listener or a rule"),
    })
}

/// DeletePolicy of a policy still attached, or with versions besides the default (IAM API
/// Reference, DeletePolicy: detach it from every user, group and role and delete its other
/// versions first), is DeleteConflict; the emulator deletes it anyway.
fn policy_in_use(call: &Call<'_>, facts: &dyn Facts) -> Option<Refusal> {
    if !call.is("iam", "DeletePolicy") {
        return None;
    }
    facts.policy_in_use(call.param("PolicyArn")?).map(|message| Refusal {
        code: "DeleteConflict".into(),
        message: message.into(),
    })
}

/// ModifyDBCluster to a new major version needs AllowMajorVersionUpgrade (RDS API Reference,
/// ModifyDBCluster: "you must set AllowMajorVersionUpgrade to true").
fn major_upgrade_without_flag(call: &Call<'_>, facts: &dyn Facts) -> Option<Refusal> {
    if !call.is("rds", "ModifyDBCluster") {
        return None;
    }
    let wanted = call.param("EngineVersion")?;
    let current = facts.cluster_engine_version(call.param("DBClusterIdentifier")?)?;
    let major = |v: &str| v.split('.').next().unwrap_or(v).to_owned();
    (major(wanted) != major(&current) && call.param("AllowMajorVersionUpgrade") != Some("true")).then(|| Refusal {
        code: "InvalidParameterCombination".into(),
        message: "The AllowMajorVersionUpgrade flag must be present when upgrading to a new major version.".into(),
    })
}

fn service_has_a_way_out(request: &serde_json::Value, facts: &dyn Facts) -> bool {
    let network = &request["networkConfiguration"]["awsvpcConfiguration"];
    let public = network["assignPublicIp"] == "ENABLED";
    network["subnets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str())
        .all(|subnet| facts.subnet_has_default_route(subnet, public))
}

/// The NAT gateway `id` in a DescribeNatGateways answer, failed as AWS fails it.
fn fail_nat_gateway(answer: &str, id: &str, vpc: &str) -> String {
    let marker = format!("<natGatewayId>{id}</natGatewayId>");
    let Some(at) = answer.find(&marker) else {
        return answer.to_owned();
    };
    let (head, tail) = answer.split_at(at);
    let failed = format!(
        "<state>failed</state><failureCode>Gateway.NotAttached</failureCode><failureMessage>Network {vpc} has no Internet gateway attached</failureMessage>"
    );
    let tail = ["available", "pending"].iter().fold(tail.to_owned(), |t, state| {
        t.replacen(&format!("<state>{state}</state>"), &failed, 1)
    });
    format!("{head}{tail}")
}

/// A DescribeServices answer with the given deployments failed by the circuit breaker.
fn fail_deployments(answer: &str, failed: &BTreeSet<String>) -> String {
    let Ok(mut value) = serde_json::from_str::<serde_json::Value>(answer) else {
        return answer.to_owned();
    };
    for service in value["services"].as_array_mut().into_iter().flatten() {
        for deployment in service["deployments"].as_array_mut().into_iter().flatten() {
            if deployment["id"].as_str().is_some_and(|id| failed.contains(id)) {
                deployment["rolloutState"] = "FAILED".into();
                deployment["rolloutStateReason"] = "ECS deployment circuit breaker: tasks failed to start. (CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref: dial tcp: i/o timeout)".into();
                deployment["failedTasks"] = deployment["desiredCount"].clone();
                deployment["runningCount"] = 0.into();
            }
        }
    }
    value.to_string()
}

/// The text of every `<tag>…</tag>` in an XML answer.
pub(crate) fn values(xml: &str, tag: &str) -> Vec<String> {
    blocks(xml, tag).into_iter().map(str::to_owned).collect()
}

fn blocks<'x>(xml: &'x str, tag: &str) -> Vec<&'x str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        found.push(&after[..end]);
        rest = &after[end + close.len()..];
    }
    found
}

/// `Facts` read from the emulator itself, with the query API: unsigned while the emulator
/// checks no signatures, signed as the harness's administrator once it enforces IAM.
pub(crate) struct EmulatorFacts<'a> {
    pub(crate) upstream: &'a str,
    pub(crate) region: &'a str,
    /// The administrator's access key id and secret, under enforcement.
    pub(crate) admin: Option<&'a (String, String)>,
}

/// How Python encodes a form (what the emulator checks signatures over): letters, digits and
/// `_.-~` as they are, a space as `+`, the rest as `%XX`.
const PYTHON_FORM: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

impl EmulatorFacts<'_> {
    fn ask(&self, service: &str, form: &[(&str, &str)]) -> String {
        let body: String = form
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    percent_encoding::utf8_percent_encode(v, PYTHON_FORM)
                        .to_string()
                        .replace("%20", "+")
                )
            })
            .collect::<Vec<_>>()
            .join("&");
        let Ok(mut stream) = TcpStream::connect(self.upstream) else {
            return String::new();
        };
        let key = self.admin.map_or("proxy", |(id, _)| id.as_str());
        let head = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nX-Amz-Date: 20260101T000000Z\r\nAuthorization: AWS4-HMAC-SHA256 Credential={key}/20260101/{}/{service}/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=0\r\nContent-Length: {}\r\n\r\n",
            self.upstream,
            self.region,
            body.len()
        );
        let head = match self.admin {
            Some((_, secret)) => super::proxy::signed_again(&head, body.as_bytes(), secret),
            None => head,
        };
        let request = format!("{}\r\nConnection: close\r\n\r\n{body}", head.trim_end_matches("\r\n"));
        let mut answer = String::new();
        let _ = stream.write_all(request.as_bytes());
        let _ = stream.read_to_string(&mut answer);
        answer
    }

    /// The tags of EC2 resources by id (DescribeTags), as they are now.
    pub(crate) fn ec2_tags(&self, ids: &[String]) -> BTreeMap<String, BTreeMap<String, String>> {
        let mut form: Vec<(String, String)> = vec![
            ("Action".to_owned(), "DescribeTags".to_owned()),
            ("Filter.1.Name".to_owned(), "resource-id".to_owned()),
        ];
        for (at, id) in ids.iter().enumerate() {
            form.push((format!("Filter.1.Value.{}", at + 1), id.clone()));
        }
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let answer = self.ec2(&form);
        let mut tags: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for item in blocks(&answer, "item") {
            let one = |tag: &str| values(item, tag).into_iter().next().unwrap_or_default();
            tags.entry(one("resourceId"))
                .or_default()
                .insert(one("key"), one("value"));
        }
        tags
    }

    fn ec2(&self, form: &[(&str, &str)]) -> String {
        let mut all = vec![("Version", "2016-11-15")];
        all.extend_from_slice(form);
        self.ask("ec2", &all)
    }

    fn routes_send_default_out(table: &str, via_internet_gateway: bool) -> bool {
        blocks(table, "item").iter().any(|route| {
            route.contains("<destinationCidrBlock>0.0.0.0/0</destinationCidrBlock>")
                && (route.contains("<natGatewayId>") || (via_internet_gateway && route.contains("<gatewayId>igw-")))
        })
    }
}

impl Facts for EmulatorFacts<'_> {
    fn subnet_vpc(&self, subnet: &str) -> Option<String> {
        let answer = self.ec2(&[("Action", "DescribeSubnets"), ("SubnetId.1", subnet)]);
        values(&answer, "vpcId").into_iter().next()
    }

    fn vpc_has_attached_internet_gateway(&self, vpc: &str) -> bool {
        let answer = self.ec2(&[
            ("Action", "DescribeInternetGateways"),
            ("Filter.1.Name", "attachment.vpc-id"),
            ("Filter.1.Value.1", vpc),
        ]);
        blocks(&answer, "attachmentSet")
            .iter()
            .any(|a| a.contains(&format!("<vpcId>{vpc}</vpcId>")) && a.contains("<state>available</state>"))
    }

    fn subnet_has_default_route(&self, subnet: &str, via_internet_gateway: bool) -> bool {
        let own = self.ec2(&[
            ("Action", "DescribeRouteTables"),
            ("Filter.1.Name", "association.subnet-id"),
            ("Filter.1.Value.1", subnet),
        ]);
        let table = if values(&own, "routeTableId").is_empty() {
            let Some(vpc) = self.subnet_vpc(subnet) else {
                return false;
            };
            self.ec2(&[
                ("Action", "DescribeRouteTables"),
                ("Filter.1.Name", "vpc-id"),
                ("Filter.1.Value.1", &vpc),
                ("Filter.2.Name", "association.main"),
                ("Filter.2.Value.1", "true"),
            ])
        } else {
            own
        };
        blocks(&table, "routeSet")
            .iter()
            .any(|routes| Self::routes_send_default_out(routes, via_internet_gateway))
    }

    /// Read from the listeners themselves: the emulator's own `LoadBalancerArns` of a
    /// target group is set by CreateListener and never updated by ModifyListener.
    fn target_group_has_load_balancer(&self, target_group: &str) -> bool {
        let elbv2 = |form: &[(&str, &str)]| {
            let mut all = vec![("Version", "2015-12-01")];
            all.extend_from_slice(form);
            self.ask("elasticloadbalancing", &all)
        };
        let balancers = elbv2(&[("Action", "DescribeLoadBalancers")]);
        values(&balancers, "LoadBalancerArn").iter().any(|balancer| {
            let listeners = elbv2(&[("Action", "DescribeListeners"), ("LoadBalancerArn", balancer)]);
            values(&listeners, "TargetGroupArn")
                .iter()
                .any(|arn| arn == target_group || arn.ends_with(&format!(":{target_group}")))
        })
    }

    fn cluster_engine_version(&self, cluster: &str) -> Option<String> {
        let answer = self.ask(
            "rds",
            &[
                ("Action", "DescribeDBClusters"),
                ("Version", "2014-10-31"),
                ("DBClusterIdentifier", cluster),
            ],
        );
        values(&answer, "EngineVersion").into_iter().next()
    }

    fn policy_in_use(&self, policy: &str) -> Option<&'static str> {
        let iam = |action: &str| {
            self.ask(
                "iam",
                &[("Action", action), ("Version", "2010-05-08"), ("PolicyArn", policy)],
            )
        };
        if !values(&iam("ListEntitiesForPolicy"), "RoleName").is_empty() {
            return Some("Cannot delete a policy attached to entities.");
        }
        (values(&iam("ListPolicyVersions"), "VersionId").len() > 1).then_some(
            "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What AWS knows, as a test states it.
    #[derive(Default)]
    struct Known {
        vpc_of: BTreeMap<String, String>,
        attached: BTreeSet<String>,
        routed: BTreeSet<String>,
        associated: BTreeSet<String>,
        versions: BTreeMap<String, String>,
        policies_in_use: BTreeSet<String>,
    }

    impl Facts for Known {
        fn subnet_vpc(&self, subnet: &str) -> Option<String> {
            self.vpc_of.get(subnet).cloned()
        }
        fn vpc_has_attached_internet_gateway(&self, vpc: &str) -> bool {
            self.attached.contains(vpc)
        }
        fn subnet_has_default_route(&self, subnet: &str, _: bool) -> bool {
            self.routed.contains(subnet)
        }
        fn target_group_has_load_balancer(&self, target_group: &str) -> bool {
            self.associated.iter().any(|g| g.ends_with(target_group))
        }
        fn cluster_engine_version(&self, cluster: &str) -> Option<String> {
            self.versions.get(cluster).cloned()
        }
        fn policy_in_use(&self, policy: &str) -> Option<&'static str> {
            self.policies_in_use
                .contains(policy)
                .then_some("Cannot delete a policy attached to entities.")
        }
    }

    fn form(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn query<'a>(service: &'a str, operation: &'a str, form: &'a BTreeMap<String, String>) -> Call<'a> {
        Call {
            operation,
            service,
            form,
            json: None,
        }
    }

    fn json<'a>(
        service: &'a str,
        operation: &'a str,
        body: &'a serde_json::Value,
        empty: &'a BTreeMap<String, String>,
    ) -> Call<'a> {
        Call {
            operation,
            service,
            form: empty,
            json: Some(body),
        }
    }

    fn code(refusal: Option<Refusal>) -> Option<String> {
        refusal.map(|r| r.code)
    }

    const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/staging-app-0a1b2c/943f017f";

    #[test]
    fn a_policy_still_attached_is_not_deleted() {
        let arn = "arn:aws:iam::123456789012:policy/deployer/bootstrap/us-east-1/p";
        let params = form(&[("PolicyArn", arn)]);
        let call = query("iam", "DeletePolicy", &params);
        let mut known = Known::default();
        assert_eq!(code(AwsRules::new().before(&call, &known)), None);
        known.policies_in_use.insert(arn.to_owned());
        assert_eq!(
            code(AwsRules::new().before(&call, &known)).as_deref(),
            Some("DeleteConflict")
        );
    }

    #[test]
    fn a_service_waits_for_a_listener_forwarding_to_its_target_group() {
        let body = serde_json::json!({"serviceName": "api", "loadBalancers": [{"targetGroupArn": TG, "containerName": "api", "containerPort": 8000}]});
        let empty = BTreeMap::new();
        let call = json("ecs", "CreateService", &body, &empty);
        let mut known = Known::default();
        let refusal = AwsRules::new().before(&call, &known).unwrap();
        assert_eq!(refusal.code, "InvalidParameterException");
        assert!(
            refusal.message.contains("does not have an associated load balancer"),
            "{}",
            refusal.message
        );
        known.associated.insert(TG.to_owned());
        assert_eq!(AwsRules::new().before(&call, &known), None);
    }

    #[test]
    fn a_target_group_a_listener_forwards_to_cannot_be_deleted() {
        let params = form(&[("Version", "2015-12-01"), ("TargetGroupArn", TG)]);
        let call = query("elasticloadbalancing", "DeleteTargetGroup", &params);
        let mut known = Known::default();
        assert_eq!(AwsRules::new().before(&call, &known), None);
        known.associated.insert(TG.to_owned());
        assert_eq!(
            code(AwsRules::new().before(&call, &known)).as_deref(),
            Some("ResourceInUse")
        );
    }

    #[test]
    fn request_count_scaling_waits_for_the_listener_too() {
        let body = serde_json::json!({"TargetTrackingScalingPolicyConfiguration": {"PredefinedMetricSpecification": {
            "PredefinedMetricType": "ALBRequestCountPerTarget",
            "ResourceLabel": "app/staging-lb/50dc6c49/targetgroup/staging-app-0a1b2c/943f017f"}}});
        let empty = BTreeMap::new();
        let call = json("application-autoscaling", "PutScalingPolicy", &body, &empty);
        let mut known = Known::default();
        assert_eq!(
            code(AwsRules::new().before(&call, &known)).as_deref(),
            Some("ValidationException")
        );
        known.associated.insert(TG.to_owned());
        assert_eq!(AwsRules::new().before(&call, &known), None);
    }

    #[test]
    fn internet_facing_load_balancers_wait_for_the_gateway_and_internal_ones_do_not() {
        let mut known = Known::default();
        known.vpc_of.insert("subnet-1".into(), "vpc-1".into());
        for version in ["2015-12-01", "2012-06-01"] {
            let params = form(&[
                ("Version", version),
                ("Name", "staging-lb"),
                ("Subnets.member.1", "subnet-1"),
            ]);
            let call = query("elasticloadbalancing", "CreateLoadBalancer", &params);
            let refusal = AwsRules::new().before(&call, &known).unwrap();
            assert_eq!(
                (refusal.code.as_str(), refusal.message.as_str()),
                ("InvalidSubnet", "VPC vpc-1 has no internet gateway")
            );
            let internal = form(&[
                ("Version", version),
                ("Name", "x"),
                ("Scheme", "internal"),
                ("Subnets.member.1", "subnet-1"),
            ]);
            assert_eq!(
                AwsRules::new().before(&query("elasticloadbalancing", "CreateLoadBalancer", &internal), &known),
                None
            );
        }
        known.attached.insert("vpc-1".into());
        let params = form(&[
            ("Version", "2015-12-01"),
            ("Name", "staging-lb"),
            ("Subnets.member.1", "subnet-1"),
        ]);
        assert_eq!(
            AwsRules::new().before(&query("elasticloadbalancing", "CreateLoadBalancer", &params), &known),
            None
        );
    }

    #[test]
    fn a_nat_gateway_created_before_the_attachment_fails_as_aws_fails_it() {
        let mut known = Known::default();
        known.vpc_of.insert("subnet-1".into(), "vpc-1".into());
        let mut rules = AwsRules::new();
        let params = form(&[("SubnetId", "subnet-1"), ("AllocationId", "eipalloc-1")]);
        let mut created = "<natGatewayId>nat-1</natGatewayId><state>pending</state>".to_owned();
        rules.after(&query("ec2", "CreateNatGateway", &params), &mut created, &known);
        let empty = BTreeMap::new();
        let mut described = "<item><natGatewayId>nat-2</natGatewayId><state>available</state></item><item><natGatewayId>nat-1</natGatewayId><state>available</state></item>".to_owned();
        rules.after(&query("ec2", "DescribeNatGateways", &empty), &mut described, &known);
        assert!(
            described.contains("<natGatewayId>nat-2</natGatewayId><state>available</state>"),
            "{described}"
        );
        assert!(
            described.contains(
                "<natGatewayId>nat-1</natGatewayId><state>failed</state><failureCode>Gateway.NotAttached</failureCode>"
            ),
            "{described}"
        );

        // Attached first: nothing changes.
        known.attached.insert("vpc-1".into());
        let mut rules = AwsRules::new();
        let mut created = "<natGatewayId>nat-3</natGatewayId>".to_owned();
        rules.after(&query("ec2", "CreateNatGateway", &params), &mut created, &known);
        let mut described = "<item><natGatewayId>nat-3</natGatewayId><state>available</state></item>".to_owned();
        rules.after(&query("ec2", "DescribeNatGateways", &empty), &mut described, &known);
        assert!(described.contains("<state>available</state>"));
    }

    #[test]
    fn tasks_without_a_route_out_fail_their_deployment() {
        let body = serde_json::json!({"serviceName": "api", "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"]}}});
        let empty = BTreeMap::new();
        let call = json("ecs", "CreateService", &body, &empty);
        let answer = serde_json::json!({"service": {"deployments": [{"id": "ecs-svc/1", "desiredCount": 2, "rolloutState": "IN_PROGRESS"}]}}).to_string();
        let described = serde_json::json!({"services": [{"deployments": [{"id": "ecs-svc/1", "desiredCount": 2, "runningCount": 2, "rolloutState": "COMPLETED"}]}]}).to_string();

        let mut known = Known::default();
        let mut rules = AwsRules::new();
        rules.after(&call, &mut answer.clone(), &known);
        let mut seen = described.clone();
        rules.after(
            &json("ecs", "DescribeServices", &serde_json::Value::Null, &empty),
            &mut seen,
            &known,
        );
        let seen: serde_json::Value = serde_json::from_str(&seen).unwrap();
        let deployment = &seen["services"][0]["deployments"][0];
        assert_eq!(deployment["rolloutState"], "FAILED");
        assert!(
            deployment["rolloutStateReason"]
                .as_str()
                .unwrap()
                .contains("CannotPullContainerError")
        );

        known.routed.insert("subnet-1".into());
        let mut rules = AwsRules::new();
        rules.after(&call, &mut answer.clone(), &known);
        let mut seen = described.clone();
        rules.after(
            &json("ecs", "DescribeServices", &serde_json::Value::Null, &empty),
            &mut seen,
            &known,
        );
        assert_eq!(seen, described);
    }

    #[test]
    fn a_new_role_is_not_valid_for_ecs_until_it_has_propagated() {
        let known = Known::default();
        let mut rules = AwsRules::new();
        rules.set_role_propagation(Duration::from_millis(200));
        let params = form(&[("RoleName", "staging-execution"), ("Path", "/deployer/staging/")]);
        rules.after(&query("iam", "CreateRole", &params), &mut String::new(), &known);
        let body = serde_json::json!({"family": "staging-api", "executionRoleArn": "arn:aws:iam::123456789012:role/deployer/staging/staging-execution"});
        let empty = BTreeMap::new();
        let call = json("ecs", "RegisterTaskDefinition", &body, &empty);
        let refusal = rules.before(&call, &known).unwrap();
        assert_eq!(
            (refusal.code.as_str(), refusal.message.as_str()),
            ("ClientException", "Role is not valid")
        );
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(rules.before(&call, &known), None);
    }

    #[test]
    fn fargate_behind_a_classic_elb_is_refused() {
        let body = serde_json::json!({"launchType": "FARGATE", "loadBalancers": [{"loadBalancerName": "dev-lb", "containerName": "api", "containerPort": 8000}]});
        let empty = BTreeMap::new();
        assert_eq!(
            code(AwsRules::new().before(&json("ecs", "CreateService", &body, &empty), &Known::default())).as_deref(),
            Some("InvalidParameterException")
        );
    }

    #[test]
    fn a_major_upgrade_needs_its_flag() {
        let mut known = Known::default();
        known.versions.insert("staging-db".into(), "15.4".into());
        let minor = form(&[("DBClusterIdentifier", "staging-db"), ("EngineVersion", "15.8")]);
        assert_eq!(
            AwsRules::new().before(&query("rds", "ModifyDBCluster", &minor), &known),
            None
        );
        let major = form(&[("DBClusterIdentifier", "staging-db"), ("EngineVersion", "16.6")]);
        assert_eq!(
            code(AwsRules::new().before(&query("rds", "ModifyDBCluster", &major), &known)).as_deref(),
            Some("InvalidParameterCombination")
        );
        let flagged = form(&[
            ("DBClusterIdentifier", "staging-db"),
            ("EngineVersion", "16.6"),
            ("AllowMajorVersionUpgrade", "true"),
        ]);
        assert_eq!(
            AwsRules::new().before(&query("rds", "ModifyDBCluster", &flagged), &known),
            None
        );
    }

    #[test]
    fn a_second_instance_created_while_the_first_is_creating_is_refused_once() {
        let known = Known::default();
        let mut rules = AwsRules::new();
        let first = form(&[
            ("DBClusterIdentifier", "prod-db"),
            ("DBInstanceIdentifier", "prod-db-1"),
        ]);
        let second = form(&[
            ("DBClusterIdentifier", "prod-db"),
            ("DBInstanceIdentifier", "prod-db-2"),
        ]);
        assert_eq!(rules.before(&query("rds", "CreateDBInstance", &first), &known), None);
        rules.after(&query("rds", "CreateDBInstance", &first), &mut String::new(), &known);
        assert_eq!(
            code(rules.before(&query("rds", "CreateDBInstance", &second), &known)).as_deref(),
            Some("InvalidDBClusterStateFault")
        );
        assert_eq!(
            rules.before(&query("rds", "CreateDBInstance", &second), &known),
            None,
            "once"
        );

        // Created after the writer is seen available: never refused.
        let mut rules = AwsRules::new();
        rules.after(&query("rds", "CreateDBInstance", &first), &mut String::new(), &known);
        let empty = BTreeMap::new();
        let mut seen = "<DBInstance><DBInstanceIdentifier>prod-db-1</DBInstanceIdentifier><DBInstanceStatus>available</DBInstanceStatus></DBInstance>".to_owned();
        rules.after(&query("rds", "DescribeDBInstances", &empty), &mut seen, &known);
        assert_eq!(rules.before(&query("rds", "CreateDBInstance", &second), &known), None);
    }

    #[test]
    fn names_aws_refuses_are_refused() {
        let known = Known::default();
        type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str);
        let cases: [Case<'_>; 6] = [
            (
                "ec2",
                "CreateSecurityGroup",
                &[("GroupName", "sg-blue-lb")],
                "InvalidParameterValue",
            ),
            (
                "elasticloadbalancing",
                "CreateLoadBalancer",
                &[("Version", "2015-12-01"), ("Name", "internal-lb")],
                "ValidationError",
            ),
            (
                "elasticloadbalancing",
                "CreateTargetGroup",
                &[("Version", "2015-12-01"), ("Name", "staging-app-")],
                "ValidationError",
            ),
            (
                "elasticloadbalancing",
                "CreateTargetGroup",
                &[("Version", "2015-12-01"), ("Name", "a-name-of-thirty-three-characters")],
                "ValidationError",
            ),
            (
                "rds",
                "CreateDBCluster",
                &[("DBClusterIdentifier", "dev--db")],
                "InvalidParameterValue",
            ),
            (
                "rds",
                "CreateDBInstance",
                &[("DBInstanceIdentifier", "dev-db-")],
                "InvalidParameterValue",
            ),
        ];
        for (service, operation, params, expected) in cases {
            let params = form(params);
            assert_eq!(
                code(AwsRules::new().before(&query(service, operation, &params), &known)).as_deref(),
                Some(expected),
                "{operation} {params:?}"
            );
        }
        let fine = form(&[("Version", "2015-12-01"), ("Name", "staging-app-0a1b2c")]);
        assert_eq!(
            AwsRules::new().before(&query("elasticloadbalancing", "CreateTargetGroup", &fine), &known),
            None
        );
    }

    #[test]
    fn more_than_fifty_tags_are_refused() {
        let known = Known::default();
        let tags = |n: usize| {
            let mut params = vec![("Action".to_owned(), "CreateVpc".to_owned())];
            for i in 1..=n {
                params.push((format!("TagSpecification.1.Tag.{i}.Key"), format!("k{i}")));
                params.push((format!("TagSpecification.1.Tag.{i}.Value"), "v".to_owned()));
            }
            params.into_iter().collect::<BTreeMap<_, _>>()
        };
        let fifty = tags(50);
        assert_eq!(AwsRules::new().before(&query("ec2", "CreateVpc", &fifty), &known), None);
        let more = tags(51);
        assert_eq!(
            code(AwsRules::new().before(&query("ec2", "CreateVpc", &more), &known)).as_deref(),
            Some("TagLimitExceeded")
        );
        let body = serde_json::json!({"tags": (0..51).map(|i| serde_json::json!({"key": format!("k{i}"), "value": "v"})).collect::<Vec<_>>()});
        let empty = BTreeMap::new();
        assert_eq!(
            code(AwsRules::new().before(&json("ecs", "CreateCluster", &body, &empty), &known)).as_deref(),
            Some("ValidationException")
        );
    }
}
