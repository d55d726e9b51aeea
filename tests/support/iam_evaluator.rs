//! What the emulator does not check: whether IAM would allow each call deployer made, on the
//! resources it named, under the conditions of the policies `deployer permissions` prints.
//! An evaluator of IAM's identity-policy rules (Allow statements; `*` globs in actions and
//! resources; the condition operators deployer's policies use), and the requests read from the
//! calls the strict proxy recorded: which action on which resources, with which tags and
//! request context.

use std::collections::BTreeMap;

use super::proxy::Call;

/// One authorization IAM makes: `action` on `resource` (with its tags), in a request context.
#[derive(Debug, Clone)]
pub(crate) struct Authorization {
    pub action: String,
    pub resource: String,
    pub resource_tags: BTreeMap<String, String>,
    /// Request-wide keys: `aws:RequestTag/K`, `ec2:CreateAction`, `dynamodb:LeadingKeys`, ...
    pub context: BTreeMap<String, Vec<String>>,
}

/// The resource of a call whose resources are in a list or body the evaluator does not read.
const UNREAD: &str = "(unread)";

/// IAM's wildcards: `*` any run of characters, `?` any one.
fn glob(pattern: &str, text: &str) -> bool {
    fn bytes(pattern: &[u8], text: &[u8]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some((b'*', rest)) => (0..=text.len()).any(|at| bytes(rest, &text[at..])),
            Some((b'?', rest)) => !text.is_empty() && bytes(rest, &text[1..]),
            Some((c, rest)) => text.first() == Some(c) && bytes(rest, &text[1..]),
        }
    }
    bytes(pattern.as_bytes(), text.as_bytes())
}

/// A policy element that is one string or a list of them (`Action`, `Resource`, a condition's values).
pub(crate) fn strings(value: &serde_json::Value) -> Vec<String> {
    match value {
        serde_json::Value::String(one) => vec![one.clone()],
        serde_json::Value::Array(many) => many.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

impl Authorization {
    /// The values of a condition key in this authorization, if present.
    fn values(&self, key: &str) -> Option<Vec<String>> {
        if let Some(tag) = key.strip_prefix("aws:ResourceTag/") {
            return self.resource_tags.get(tag).map(|v| vec![v.clone()]);
        }
        self.context.get(key).cloned()
    }

    fn condition_holds(&self, operator: &str, key: &str, wanted: &[String]) -> bool {
        let present = self.values(key);
        match operator {
            // IAM: a set operator over an absent key holds for ForAllValues.
            "ForAllValues:StringEquals" => present.is_none_or(|values| values.iter().all(|v| wanted.contains(v))),
            "ForAnyValue:StringEquals" => present.is_some_and(|values| values.iter().any(|v| wanted.contains(v))),
            "StringEquals" => present.is_some_and(|values| values.len() == 1 && wanted.contains(&values[0])),
            "StringLike" | "ArnLike" => {
                present.is_some_and(|values| values.len() == 1 && wanted.iter().any(|w| glob(w, &values[0])))
            }
            other => panic!("the evaluator does not know the condition operator {other}"),
        }
    }

    /// Whether one statement allows this. A call whose resources the evaluator could not read
    /// is allowed by any statement granting its action.
    fn allowed_by(&self, statement: &serde_json::Value) -> bool {
        let unread = self.resource == UNREAD;
        statement["Effect"] == "Allow"
            && strings(&statement["Action"])
                .iter()
                .any(|a| glob(&a.to_ascii_lowercase(), &self.action.to_ascii_lowercase()))
            && (unread || strings(&statement["Resource"]).iter().any(|r| glob(r, &self.resource)))
            && (unread
                || statement["Condition"].as_object().is_none_or(|conditions| {
                    conditions.iter().all(|(operator, pairs)| {
                        pairs
                            .as_object()
                            .unwrap()
                            .iter()
                            .all(|(key, wanted)| self.condition_holds(operator, key, &strings(wanted)))
                    })
                }))
    }

    /// Whether a statement allows the action on `*` whatever the conditions say: what AWS
    /// gives no resource-level permission for.
    pub(crate) fn unscoped(&self, policies: &[serde_json::Value]) -> bool {
        policies
            .iter()
            .flat_map(|p| p["Statement"].as_array().unwrap())
            .any(|s| {
                s["Resource"] == "*"
                    && s["Condition"].is_null()
                    && strings(&s["Action"])
                        .iter()
                        .any(|a| a.eq_ignore_ascii_case(&self.action))
            })
    }

    /// Whether any statement of `policies` (documents) allows this.
    pub(crate) fn allowed(&self, policies: &[serde_json::Value]) -> bool {
        policies
            .iter()
            .flat_map(|p| p["Statement"].as_array().unwrap())
            .any(|s| self.allowed_by(s))
    }

    /// The same authorization aimed at `other`'s resources: every name, tag and key that says
    /// `environment` says `other`.
    pub(crate) fn aimed_at(&self, environment: &str, other: &str) -> Self {
        let swap = |text: &str| swap_environment(text, environment, other);
        Self {
            action: self.action.clone(),
            resource: swap(&self.resource),
            resource_tags: self.resource_tags.iter().map(|(k, v)| (k.clone(), swap(v))).collect(),
            context: self
                .context
                .iter()
                .map(|(k, values)| (k.clone(), values.iter().map(|v| swap(v)).collect()))
                .collect(),
        }
    }

    /// Whether anything in it is the environment's own (a `*` describe is nobody's).
    pub(crate) fn names(&self, environment: &str) -> bool {
        let mentions = |text: &str| swap_environment(text, environment, "\u{0}") != text;
        mentions(&self.resource)
            || self.resource_tags.values().any(|v| mentions(v))
            || self.context.values().flatten().any(|v| mentions(v))
    }
}

/// `text` with `environment` as a whole name (between separators) replaced by `other`.
fn swap_environment(text: &str, environment: &str, other: &str) -> String {
    let separators = |c: char| "/:-#".contains(c) || c == '\u{0}';
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(environment) {
        let before_ok = at == 0 || rest[..at].ends_with(separators);
        let after = &rest[at + environment.len()..];
        let after_ok = after.is_empty() || after.starts_with(separators);
        out.push_str(&rest[..at]);
        out.push_str(if before_ok && after_ok { other } else { environment });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Where a recorded call's resources are: the account and region, and how to read an EC2
/// id's tags (recorded by the proxy as the call arrived).
pub(crate) struct Account<'a> {
    pub account: &'a str,
    pub region: &'a str,
    /// IAM role and instance profile names to their ARNs (their paths are not in every call).
    pub iam_arns: &'a BTreeMap<String, String>,
}

/// The EC2 resource type of an id, by its prefix.
fn ec2_type(id: &str) -> Option<&'static str> {
    let types = [
        ("vpc-", "vpc"),
        ("subnet-", "subnet"),
        ("sg-", "security-group"),
        ("rtb-", "route-table"),
        ("igw-", "internet-gateway"),
        ("eipalloc-", "elastic-ip"),
        ("nat-", "natgateway"),
        ("lt-", "launch-template"),
        ("i-", "instance"),
    ];
    types
        .iter()
        .find(|(prefix, _)| id.starts_with(prefix))
        .map(|(_, kind)| *kind)
}

/// The tags a query-protocol call puts on what it creates: `Prefix.N.Key`/`Prefix.N.Value`.
fn request_tags(params: &BTreeMap<String, String>, prefix: &str) -> BTreeMap<String, Vec<String>> {
    let mut tags = BTreeMap::new();
    for (key, value) in params {
        if let Some(rest) = key.strip_prefix(prefix)
            && let Some(number) = rest.strip_suffix(".Key")
            && let Some(tag_value) = params.get(&format!("{prefix}{number}.Value"))
        {
            tags.insert(format!("aws:RequestTag/{value}"), vec![tag_value.clone()]);
        }
    }
    tags
}

/// What IAM authorizes for one recorded call: one authorization per resource it names (`*`
/// for the calls that name none), and those AWS makes on the caller's behalf that deployer's
/// policies grant for them (EC2's tag-on-create).
pub(crate) fn authorizations(call: &Call, at: &Account<'_>) -> Vec<Authorization> {
    let (a, r) = (at.account, at.region);
    let op = call.operation.as_str();
    let p = &call.params;
    let prefix = match call.service.as_str() {
        "monitoring" => "cloudwatch",
        // GetCallerIdentity needs no permission.
        "sts" => return Vec::new(),
        other => other,
    };
    let mut resources: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    let mut context = BTreeMap::new();
    let mut implied = Vec::new();
    let arn = |service: &str, rest: &str| format!("arn:aws:{service}:{r}:{a}:{rest}");
    let tagged = |id: &str| call.tags.get(id).cloned().unwrap_or_default();
    match call.service.as_str() {
        "ec2" => {
            // Which parameters name the resources IAM authorizes the call on (a route's
            // target and a template's contents are not among them).
            let counts = |key: &str| match op {
                "CreateRoute" | "ReplaceRoute" | "DeleteRoute" => key == "RouteTableId",
                "CreateLaunchTemplate"
                | "CreateLaunchTemplateVersion"
                | "ModifyLaunchTemplate"
                | "DeleteLaunchTemplate" => key == "LaunchTemplateId",
                _ => !["Filter", "LaunchTemplateData", "TagSpecification", "Tag."]
                    .iter()
                    .any(|p| key.starts_with(p)),
            };
            for (key, value) in p {
                if counts(key)
                    && let Some(kind) = ec2_type(value)
                {
                    resources.push((arn("ec2", &format!("{kind}/{value}")), tagged(value)));
                }
            }
            if let Some(kind) = p.get("TagSpecification.1.ResourceType") {
                let created = arn("ec2", &format!("{kind}/new"));
                context.extend(request_tags(p, "TagSpecification.1.Tag."));
                resources.push((created.clone(), BTreeMap::new()));
                let mut on_create = context.clone();
                on_create.insert("ec2:CreateAction".to_owned(), vec![op.to_owned()]);
                implied.push(Authorization {
                    action: "ec2:CreateTags".to_owned(),
                    resource: created,
                    resource_tags: BTreeMap::new(),
                    context: on_create,
                });
            }
            if op == "CreateTags" {
                context.extend(request_tags(p, "Tag."));
            }
            if op == "AuthorizeSecurityGroupIngress" || op == "AuthorizeSecurityGroupEgress" {
                resources.push((arn("ec2", "security-group-rule/new"), BTreeMap::new()));
            }
        }
        "elasticloadbalancing" => {
            let classic = p.get("Version").is_some_and(|v| v == "2012-06-01");
            for (key, value) in p {
                let named = matches!(key.as_str(), "LoadBalancerArn" | "TargetGroupArn" | "ListenerArn")
                    || key.starts_with("ResourceArns.member.");
                if key == "LoadBalancerName" && classic {
                    resources.push((
                        arn("elasticloadbalancing", &format!("loadbalancer/{value}")),
                        BTreeMap::new(),
                    ));
                } else if named && op != "CreateListener" {
                    resources.push((value.clone(), BTreeMap::new()));
                }
            }
            if !classic && (op == "CreateLoadBalancer" || op == "CreateTargetGroup") {
                let name = p.get("Name").cloned().unwrap_or_default();
                let kind = if op == "CreateLoadBalancer" {
                    "loadbalancer/app"
                } else {
                    "targetgroup"
                };
                resources.push((
                    arn("elasticloadbalancing", &format!("{kind}/{name}/new")),
                    BTreeMap::new(),
                ));
            }
            if op == "CreateLoadBalancer" || op == "CreateTargetGroup" {
                context.extend(request_tags(p, "Tags.member."));
            }
            if op == "CreateListener" {
                let lb = p.get("LoadBalancerArn").cloned().unwrap_or_default();
                resources.push((lb.replace(":loadbalancer/", ":listener/") + "/new", BTreeMap::new()));
                resources.push((lb, BTreeMap::new()));
            }
        }
        "rds" => {
            for (key, value) in p {
                let rest = match key.as_str() {
                    "DBClusterIdentifier" => format!("cluster:{value}"),
                    "DBInstanceIdentifier" => format!("db:{value}"),
                    "DBSubnetGroupName" => format!("subgrp:{value}"),
                    "FinalDBSnapshotIdentifier" => format!("cluster-snapshot:{value}"),
                    "ResourceName" => {
                        resources.push((value.clone(), BTreeMap::new()));
                        continue;
                    }
                    _ => continue,
                };
                resources.push((arn("rds", &rest), BTreeMap::new()));
            }
            if op.starts_with("Create") {
                context.extend(request_tags(p, "Tags.Tag."));
            }
        }
        "iam" => {
            // A call on an instance profile is authorized on the profile alone.
            let keys: &[&str] = if p.contains_key("InstanceProfileName") {
                &["InstanceProfileName"]
            } else {
                &["RoleName"]
            };
            for key in keys {
                if let Some(name) = p.get(*key) {
                    let kind = if *key == "RoleName" { "role" } else { "instance-profile" };
                    let path = p.get("Path").cloned();
                    let resource = match (at.iam_arns.get(&format!("{kind}/{name}")), path) {
                        (_, Some(path)) if op.starts_with("Create") => format!("arn:aws:iam::{a}:{kind}{path}{name}"),
                        (Some(known), _) => known.clone(),
                        (None, _) => format!("arn:aws:iam::{a}:{kind}/{name}"),
                    };
                    resources.push((resource, BTreeMap::new()));
                }
            }
            if let Some(boundary) = p.get("PermissionsBoundary") {
                context.insert("iam:PermissionsBoundary".to_owned(), vec![boundary.clone()]);
            }
        }
        "ecr" => {
            if let Some(name) = p.get("repositoryName") {
                resources.push((arn("ecr", &format!("repository/{name}")), BTreeMap::new()));
            }
            if let Some(resource) = p.get("resourceArn") {
                resources.push((resource.clone(), BTreeMap::new()));
            }
        }
        "logs" => {
            if let Some(name) = p.get("logGroupName") {
                resources.push((arn("logs", &format!("log-group:{name}")), BTreeMap::new()));
            }
            if let Some(resource) = p.get("resourceArn") {
                resources.push((resource.clone(), BTreeMap::new()));
            }
        }
        "sns" => {
            for key in ["TopicArn", "ResourceArn"] {
                if let Some(topic) = p.get(key) {
                    resources.push((topic.clone(), BTreeMap::new()));
                }
            }
            if op == "CreateTopic"
                && let Some(name) = p.get("Name")
            {
                resources.push((arn("sns", name), BTreeMap::new()));
            }
        }
        "monitoring" => {
            for (key, value) in p {
                if key == "AlarmName" || key.starts_with("AlarmNames.member.") {
                    resources.push((arn("cloudwatch", &format!("alarm:{value}")), BTreeMap::new()));
                } else if key == "ResourceARN" {
                    resources.push((value.clone(), BTreeMap::new()));
                }
            }
        }
        "autoscaling" => {
            for (key, value) in p {
                if key == "AutoScalingGroupName" || (key.starts_with("Tags.member.") && key.ends_with(".ResourceId")) {
                    resources.push((
                        arn(
                            "autoscaling",
                            &format!("autoScalingGroup:0:autoScalingGroupName/{value}"),
                        ),
                        BTreeMap::new(),
                    ));
                }
            }
            if op == "CreateAutoScalingGroup" {
                context.extend(request_tags(p, "Tags.member."));
            }
        }
        "ecs" => {
            let cluster = p.get("cluster").map(|c| c.rsplit('/').next().unwrap_or(c).to_owned());
            match (op, &cluster) {
                ("CreateService" | "UpdateService" | "DeleteService", Some(cluster)) => {
                    let service = p
                        .get("serviceName")
                        .or_else(|| p.get("service"))
                        .cloned()
                        .unwrap_or_default();
                    let service = service.rsplit('/').next().unwrap_or_default().to_owned();
                    resources.push((arn("ecs", &format!("service/{cluster}/{service}")), BTreeMap::new()));
                }
                ("CreateCluster", _) => {
                    let name = p.get("clusterName").cloned().unwrap_or_default();
                    resources.push((arn("ecs", &format!("cluster/{name}")), BTreeMap::new()));
                }
                ("DeleteCluster", Some(cluster)) => {
                    resources.push((arn("ecs", &format!("cluster/{cluster}")), BTreeMap::new()));
                }
                _ => {}
            }
            if let Some(resource) = p.get("resourceArn") {
                resources.push((resource.clone(), BTreeMap::new()));
            }
            // A task definition naming roles passes them to ECS's tasks.
            if op == "RegisterTaskDefinition" {
                for key in ["taskRoleArn", "executionRoleArn"] {
                    if let Some(role) = p.get(key) {
                        implied.push(Authorization {
                            action: "iam:PassRole".to_owned(),
                            resource: role.clone(),
                            resource_tags: BTreeMap::new(),
                            context: BTreeMap::from([(
                                "iam:PassedToService".to_owned(),
                                vec!["ecs-tasks.amazonaws.com".to_owned()],
                            )]),
                        });
                    }
                }
            }
        }
        "dynamodb" => {
            if let Some(table) = p.get("TableName") {
                resources.push((arn("dynamodb", &format!("table/{table}")), BTreeMap::new()));
            }
            if let Some(key) = call
                .json
                .as_ref()
                .and_then(|j| j["Key"]["environment"]["S"].as_str().map(str::to_owned))
                .or_else(|| {
                    call.json
                        .as_ref()
                        .and_then(|j| j["Item"]["environment"]["S"].as_str().map(str::to_owned))
                })
            {
                context.insert("dynamodb:LeadingKeys".to_owned(), vec![key]);
            }
        }
        "s3" => {
            let path = call
                .target
                .split('?')
                .next()
                .unwrap_or_default()
                .trim_start_matches('/');
            let bucket = path.split('/').next().unwrap_or_default();
            if op == "DeleteObjects" {
                resources.push((format!("arn:aws:s3:::{bucket}/an-object"), BTreeMap::new()));
            } else if !bucket.is_empty() {
                resources.push((format!("arn:aws:s3:::{bucket}"), BTreeMap::new()));
            }
        }
        _ => {}
    }
    if resources.is_empty() {
        // The resources are in a list or a body the evaluator does not read.
        resources.push((UNREAD.to_owned(), BTreeMap::new()));
    }
    let action = format!("{prefix}:{}", iam_action(prefix, op));
    resources
        .into_iter()
        .map(|(resource, resource_tags)| Authorization {
            action: action.clone(),
            resource,
            resource_tags,
            context: context.clone(),
        })
        .chain(implied)
        .collect()
}

/// IAM's name for an operation, where it is not the operation's own (S3's).
fn iam_action(prefix: &str, operation: &str) -> String {
    let renamed = match (prefix, operation) {
        ("s3", "ListBuckets") => "ListAllMyBuckets",
        ("s3", "GetBucketEncryption") => "GetEncryptionConfiguration",
        ("s3", "PutBucketEncryption") => "PutEncryptionConfiguration",
        ("s3", "GetBucketLifecycleConfiguration") => "GetLifecycleConfiguration",
        ("s3", "PutBucketLifecycleConfiguration") => "PutLifecycleConfiguration",
        ("s3", "GetPublicAccessBlock") => "GetBucketPublicAccessBlock",
        ("s3", "PutPublicAccessBlock") => "PutBucketPublicAccessBlock",
        ("s3", "DeleteBucketTagging") => "PutBucketTagging",
        ("s3", "DeleteObjects") => "DeleteObject",
        ("s3", "ListObjectVersions") => "ListBucketVersions",
        _ => operation,
    };
    renamed.to_owned()
}
