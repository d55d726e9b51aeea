//! The IAM policies an operator needs to run deployer, generated from what the adapters call.
//!
//! Every service folder declares, in its `mod.rs`, the IAM action of each SDK call it makes
//! (`CALLS`), what the action may touch, and whether it reads or writes; a unit test reads the
//! sources and fails when a call has no declaration, so a new call cannot be forgotten. Some
//! actions AWS checks on the caller's behalf without deployer calling them (an Auto Scaling
//! group launching from a launch template checks `ec2:RunInstances` and `iam:PassRole`); their
//! service declares them as `IMPLIED`, each with why. This file turns the declarations into
//! policy documents for one environment (pure: no I/O).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::model::TAG_ENVIRONMENT;
use crate::model::names;

/// What a call does with what it touches: which policies carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Reads configuration: the plan policy carries it.
    Read,
    /// Reads what the environment holds or says (logs, images, tokens): deploy only, never in
    /// the plan policy, which must read no secret.
    ReadsData,
    /// Changes something.
    Write,
}

/// What the environment owns, as IAM names it (`arn()` spells each pattern).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arn {
    /// One EC2 resource type (`vpc`, `subnet`, …), any id: EC2 ids are AWS's, so the tag scopes.
    Ec2(&'static str),
    /// Public images (the AMI deployer launches is Amazon's).
    Ec2Image,
    ClassicLoadBalancer,
    LoadBalancer,
    TargetGroup,
    Listener,
    Repository,
    LogGroup,
    LogBucket,
    LogObjects,
    Role,
    InstanceProfile,
    /// The roles AWS services create for themselves on first use in an account.
    ServiceLinkedRole,
    AutoScalingGroup,
    EcsCluster,
    EcsService,
    TaskDefinition,
    EcsTask,
    DbCluster,
    DbInstance,
    DbSubnetGroup,
    /// AWS's default parameter and option groups a cluster and its instances use.
    DbDefaults,
    /// The snapshot a cluster's delete takes (`<env>-db-final-<time>`), tags copied.
    DbFinalSnapshot,
    /// The master password secret RDS keeps for the cluster in Secrets Manager.
    DbSecret,
    AlarmTopic,
    Alarm,
    /// The alarms Auto Scaling makes for a target tracking policy (`TargetTracking-…`).
    TargetTrackingAlarms,
    LockTable,
    Certificate,
    /// Every OpenID Connect provider of the account (bootstrap reads them to find GitHub's).
    OidcProviders,
    /// GitHub Actions' provider.
    GithubOidcProvider,
    /// The CI roles' managed policies (`/deployer/bootstrap/<region>/`).
    CiPolicies,
    /// The document `aws ssm start-session` runs when it names none.
    SessionDocument,
    /// Session Manager sessions in the account and region (their ids are AWS's).
    Sessions,
}

// The database instances' ARNs (`Arn::DbInstance`) cover numbers of one and two digits.
const _: () = assert!(crate::config::MAX_DB_INSTANCES < 100);

/// Where an action is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum On {
    /// AWS gives the action no resource-level permission: `*`, and why.
    Anything(&'static str),
    /// The environment's own resources, by the names deployer gives them.
    Own(&'static [Arn]),
    /// Existing resources tagged `deployer:environment=<env>`; for kinds AWS names by id.
    Tagged(&'static [Arn]),
    /// A create that tags what it creates for the environment in the same request
    /// (`aws:RequestTag`), on the resources named.
    Creating(&'static [Arn]),
    /// EC2's tag-on-create: `ec2:CreateTags` only inside the named create actions.
    TaggingOnCreate(&'static [&'static str]),
    /// The environment's own items of the lock table (`dynamodb:LeadingKeys`: `<env>` and
    /// `<env>#hold`), so no environment's roles can set another's lock or rollback hold.
    LockItems,
    /// The environment's roles, passed only to the services that run them.
    PassedTo(&'static [&'static str]),
    /// A service-linked role, created only for the services named.
    ServiceLinked(&'static [&'static str]),
}

/// One IAM action and where it is allowed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call {
    pub(crate) action: &'static str,
    pub(crate) access: Access,
    pub(crate) on: On,
}

pub(crate) const fn read(action: &'static str, on: On) -> Call {
    Call {
        action,
        access: Access::Read,
        on,
    }
}

pub(crate) const fn reads_data(action: &'static str, on: On) -> Call {
    Call {
        action,
        access: Access::ReadsData,
        on,
    }
}

pub(crate) const fn write(action: &'static str, on: On) -> Call {
    Call {
        action,
        access: Access::Write,
        on,
    }
}

/// The reason most read-only list and describe calls stay on `*`.
pub(crate) const LIST: &str = "a list or describe call: AWS gives it no resource-level permission";

/// Which operator a policy is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// apply, destroy, rollback, unlock, status, logs, history, shell, output and push.
    Deploy,
    /// plan, show and validate: reads only, not even the lock.
    Plan,
    /// push: ECR's authorization and the environment's repository.
    Push,
    /// bootstrap, run by an administrator: every read (bootstrap plans as deployer does), the
    /// CI roles and their policies, GitHub's identity provider.
    Bootstrap,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Self::Deploy => "deploy",
            Self::Plan => "plan",
            Self::Push => "push",
            Self::Bootstrap => "bootstrap",
        }
    }
}

/// What the policies are scoped to.
#[derive(Debug, Clone)]
pub struct Scope {
    pub environment: String,
    pub region: String,
    pub account: String,
    /// The HTTPS certificate the load balancer serves, when the environment names one.
    pub certificate: Option<String>,
    /// Every role deployer creates carries it, and the deploy policy creates no role without it.
    pub permissions_boundary: Option<String>,
}

impl Scope {
    fn partition(&self) -> &'static str {
        if self.region.starts_with("cn-") {
            "aws-cn"
        } else if self.region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        }
    }

    /// The ARN patterns IAM matches `target` against.
    fn arns(&self, target: Arn) -> Vec<String> {
        let (p, r, a, env) = (self.partition(), &self.region, &self.account, &self.environment);
        let elb = format!("arn:{p}:elasticloadbalancing:{r}:{a}");
        let lb = names::load_balancer(env);
        let rds = format!("arn:{p}:rds:{r}:{a}");
        let ecs = format!("arn:{p}:ecs:{r}:{a}");
        let iam_path = names::iam_path(env, r);
        match target {
            Arn::Ec2(kind) => vec![format!("arn:{p}:ec2:{r}:{a}:{kind}/*")],
            Arn::Ec2Image => vec![format!("arn:{p}:ec2:{r}::image/*")],
            Arn::ClassicLoadBalancer => vec![format!("{elb}:loadbalancer/{lb}")],
            Arn::LoadBalancer => vec![format!("{elb}:loadbalancer/app/{lb}/*")],
            // `?` for each character of the hash (`names::target_group`), not `*`: `<env>-app-*`
            // would also match the target groups of an environment called `<env>-app-<x>`.
            Arn::TargetGroup => vec![format!("{elb}:targetgroup/{}-??????/*", names::app(env))],
            Arn::Listener => vec![format!("{elb}:listener/app/{lb}/*/*")],
            Arn::Repository => vec![format!(
                "arn:{p}:ecr:{r}:{a}:repository/{}*",
                names::repository_prefix(env)
            )],
            Arn::LogGroup => vec![format!(
                "arn:{p}:logs:{r}:{a}:log-group:{}*",
                names::log_group_prefix(env)
            )],
            Arn::LogBucket => vec![format!("arn:{p}:s3:::{}", names::log_bucket(env, a, r))],
            Arn::LogObjects => vec![format!("arn:{p}:s3:::{}/*", names::log_bucket(env, a, r))],
            Arn::Role => vec![format!("arn:{p}:iam::{a}:role{iam_path}*")],
            Arn::InstanceProfile => vec![format!("arn:{p}:iam::{a}:instance-profile{iam_path}*")],
            Arn::ServiceLinkedRole => vec![format!("arn:{p}:iam::{a}:role/aws-service-role/*")],
            Arn::AutoScalingGroup => vec![format!(
                "arn:{p}:autoscaling:{r}:{a}:autoScalingGroup:*:autoScalingGroupName/{}",
                names::app(env)
            )],
            Arn::EcsCluster => vec![format!("{ecs}:cluster/{env}")],
            Arn::EcsService => vec![format!("{ecs}:service/{env}/*")],
            // The environment's one family, every revision: `<env>-*` would reach the task
            // definitions of an environment called `<env>-<x>`.
            Arn::TaskDefinition => vec![format!("{ecs}:task-definition/{}:*", names::task_family(env))],
            Arn::EcsTask => vec![format!("{ecs}:task/{env}/*")],
            Arn::DbCluster => vec![format!("{rds}:cluster:{}", names::database(env))],
            // Instances 1 to 99 (`names::database_instance`; the file may ask for at most
            // `MAX_DB_INSTANCES`, checked below), with `?` rather than `*` for the same reason.
            Arn::DbInstance => vec![
                format!("{rds}:db:{}-?", names::database(env)),
                format!("{rds}:db:{}-??", names::database(env)),
            ],
            Arn::DbSubnetGroup => vec![format!("{rds}:subgrp:{}", names::database_subnet_group(env))],
            Arn::DbDefaults => vec![
                format!("{rds}:cluster-pg:default.*"),
                format!("{rds}:pg:default.*"),
                format!("{rds}:og:default:*"),
            ],
            // `-final-` and ten digits of Unix time (until 2286).
            Arn::DbFinalSnapshot => vec![format!(
                "{rds}:cluster-snapshot:{}-final-??????????",
                names::database(env)
            )],
            Arn::DbSecret => vec![format!("arn:{p}:secretsmanager:{r}:{a}:secret:rds!cluster-*")],
            Arn::AlarmTopic => vec![format!("arn:{p}:sns:{r}:{a}:{}", names::alarm_topic(env))],
            Arn::Alarm => names::alarms(env)
                .into_iter()
                .map(|alarm| format!("arn:{p}:cloudwatch:{r}:{a}:alarm:{alarm}"))
                .collect(),
            Arn::TargetTrackingAlarms => vec![format!("arn:{p}:cloudwatch:{r}:{a}:alarm:TargetTracking-*")],
            Arn::LockTable => vec![format!("arn:{p}:dynamodb:{r}:{a}:table/{}", super::LOCK_TABLE)],
            Arn::OidcProviders => vec![format!("arn:{p}:iam::{a}:oidc-provider/*")],
            Arn::GithubOidcProvider => vec![format!(
                "arn:{p}:iam::{a}:oidc-provider/{}",
                names::GITHUB_OIDC_URL.trim_start_matches("https://")
            )],
            Arn::CiPolicies => vec![format!("arn:{p}:iam::{a}:policy{iam_path}*")],
            Arn::SessionDocument => vec![format!("arn:{p}:ssm:{r}:{a}:document/SSM-SessionManagerRunShell")],
            Arn::Sessions => vec![format!("arn:{p}:ssm:{r}:{a}:session/*")],
            Arn::Certificate => vec![
                self.certificate
                    .clone()
                    .unwrap_or_else(|| format!("arn:{p}:acm:{r}:{a}:certificate/*")),
            ],
        }
    }
}

/// One statement before merging: the actions sharing resources and a condition become one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Grant {
    resources: Vec<String>,
    condition: String,
}

fn condition_equals(key: &str, values: &[String]) -> Value {
    let value = match values {
        [one] => json!(one),
        many => json!(many),
    };
    json!({ "StringEquals": { key: value } })
}

/// The statements one call needs (two when it touches what it creates and what exists).
fn grants(call: &Call, scope: &Scope) -> Vec<(Grant, Option<&'static str>)> {
    let arns = |targets: &[Arn]| {
        let mut arns: Vec<String> = targets.iter().flat_map(|t| scope.arns(*t)).collect();
        arns.sort();
        arns
    };
    let tag = |key: &str| {
        condition_equals(
            &format!("{key}/{TAG_ENVIRONMENT}"),
            std::slice::from_ref(&scope.environment),
        )
    };
    let grant = |resources: Vec<String>, condition: Value| Grant {
        resources,
        condition: if condition.is_null() {
            String::new()
        } else {
            condition.to_string()
        },
    };
    match call.on {
        On::Anything(reason) => vec![(grant(vec!["*".to_owned()], Value::Null), Some(reason))],
        On::Own(targets) => vec![(grant(arns(targets), Value::Null), None)],
        On::Tagged(targets) => vec![(grant(arns(targets), tag("aws:ResourceTag")), None)],
        On::Creating(targets) => vec![(grant(arns(targets), tag("aws:RequestTag")), None)],
        On::TaggingOnCreate(creates) => {
            let creates: Vec<String> = creates.iter().map(|c| (*c).to_owned()).collect();
            // Inside a create, and only with the environment's tag.
            let mut condition = condition_equals("ec2:CreateAction", &creates);
            condition["StringEquals"][format!("aws:RequestTag/{TAG_ENVIRONMENT}")] = json!(scope.environment);
            vec![(
                grant(
                    vec![format!(
                        "arn:{}:ec2:{}:{}:*/*",
                        scope.partition(),
                        scope.region,
                        scope.account
                    )],
                    condition,
                ),
                None,
            )]
        }
        On::LockItems => {
            let keys = vec![scope.environment.clone(), format!("{}#hold", scope.environment)];
            vec![(
                grant(
                    arns(&[Arn::LockTable]),
                    json!({ "ForAllValues:StringEquals": { "dynamodb:LeadingKeys": keys } }),
                ),
                None,
            )]
        }
        On::PassedTo(services) => {
            let services: Vec<String> = services.iter().map(|s| (*s).to_owned()).collect();
            vec![(
                grant(arns(&[Arn::Role]), condition_equals("iam:PassedToService", &services)),
                None,
            )]
        }
        On::ServiceLinked(services) => {
            let services: Vec<String> = services.iter().map(|s| (*s).to_owned()).collect();
            vec![(
                grant(
                    arns(&[Arn::ServiceLinkedRole]),
                    condition_equals("iam:AWSServiceName", &services),
                ),
                None,
            )]
        }
    }
}

/// The IAM actions that require the permissions boundary on the role they change, when the
/// environment sets one (IAM's `iam:PermissionsBoundary` condition key).
const BOUNDED: &[&str] = &[
    "iam:CreateRole",
    "iam:PutRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:PutRolePermissionsBoundary",
];

/// An action left on `*`, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unscoped {
    pub action: String,
    pub reason: String,
}

/// One managed policy document, named.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PolicyDocument {
    pub name: String,
    pub document: Value,
}

/// What `role` needs for `scope`'s environment.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Permissions {
    pub role: Role,
    pub policies: Vec<PolicyDocument>,
    /// Every action in the policies.
    pub actions: Vec<String>,
    pub unscoped: Vec<Unscoped>,
}

/// IAM's limit on a managed policy, counted without whitespace.
pub const POLICY_SIZE_LIMIT: usize = 6144;

/// Every call deployer makes or AWS checks on its behalf, every service.
pub(crate) fn all_calls() -> Vec<Call> {
    [
        super::acm::CALLS,
        super::app_scaling::CALLS,
        super::asg::CALLS,
        super::asg::IMPLIED,
        super::cloudwatch::CALLS,
        super::ec2::CALLS,
        super::ecr::CALLS,
        super::ecr::PUSH,
        super::ecs::CALLS,
        super::ecs::IMPLIED,
        super::elb::CALLS,
        super::elbv2::CALLS,
        super::iam::CALLS,
        super::iam::IMPLIED,
        super::logs::CALLS,
        super::rds::CALLS,
        super::rds::IMPLIED,
        super::s3::CALLS,
        super::sns::CALLS,
        super::state::CALLS,
        COMMANDS,
    ]
    .concat()
}

/// What commands hand to other programs: `deployer shell` runs the AWS CLI's Session Manager
/// session on one of the environment's instances.
const COMMANDS: &[Call] = &[
    reads_data("ssm:StartSession", On::Tagged(&[Arn::Ec2("instance")])),
    reads_data("ssm:StartSession", On::Own(&[Arn::SessionDocument])),
    write("ssm:TerminateSession", On::Own(&[Arn::Sessions])),
];

/// The calls `role` makes.
fn calls_of(role: Role) -> Vec<Call> {
    let all = all_calls();
    match role {
        Role::Deploy => all,
        Role::Plan => all.into_iter().filter(|c| c.access == Access::Read).collect(),
        // The repository's reads too: push finds it (and creates it only when missing, which
        // takes the deploy policy).
        Role::Push => super::ecr::PUSH
            .iter()
            .chain(super::ecr::CALLS.iter().filter(|c| c.access == Access::Read))
            .copied()
            .collect(),
        Role::Bootstrap => all
            .into_iter()
            .filter(|c| c.access == Access::Read)
            .chain(super::iam::CALLS.iter().copied())
            .chain(super::iam::BOOTSTRAP.iter().copied())
            .collect(),
    }
}

/// The policy documents `role` needs for `scope`'s environment, each under IAM's size limit.
pub fn permissions(scope: &Scope, role: Role) -> Permissions {
    let mut merged: BTreeMap<Grant, Vec<&'static str>> = BTreeMap::new();
    let mut unscoped: BTreeMap<&'static str, &'static str> = BTreeMap::new();
    let calls = calls_of(role);
    for call in &calls {
        // With a boundary set, nothing may take it off a role.
        if scope.permissions_boundary.is_some() && call.action == "iam:DeleteRolePermissionsBoundary" {
            continue;
        }
        for (mut grant, reason) in grants(call, scope) {
            if let (Some(boundary), true) = (&scope.permissions_boundary, BOUNDED.contains(&call.action)) {
                grant.condition =
                    condition_equals("iam:PermissionsBoundary", std::slice::from_ref(boundary)).to_string();
            }
            if let Some(reason) = reason {
                unscoped.entry(call.action).or_insert(reason);
            }
            let actions = merged.entry(grant).or_default();
            if !actions.contains(&call.action) {
                actions.push(call.action);
            }
        }
    }
    let mut statements = Vec::new();
    for (grant, mut actions) in merged {
        actions.sort_unstable();
        for chunk in actions.chunks(60) {
            let mut statement = json!({
                "Effect": "Allow",
                "Action": chunk,
                "Resource": if grant.resources.len() == 1 { json!(grant.resources[0]) } else { json!(grant.resources) },
            });
            if !grant.condition.is_empty() {
                statement["Condition"] = serde_json::from_str(&grant.condition).expect("conditions are JSON");
            }
            statements.push(statement);
        }
    }
    let mut actions: Vec<String> = calls.iter().map(|c| c.action.to_owned()).collect();
    actions.sort();
    actions.dedup();
    Permissions {
        role,
        policies: pack(scope, role, statements),
        actions,
        unscoped: unscoped
            .into_iter()
            .map(|(action, reason)| Unscoped {
                action: action.to_owned(),
                reason: reason.to_owned(),
            })
            .collect(),
    }
}

/// Statements into as few documents as fit IAM's limit, each named
/// `deployer-<env>-<role>-<n>`, each statement given a `Sid` saying what it is.
fn pack(scope: &Scope, role: Role, statements: Vec<Value>) -> Vec<PolicyDocument> {
    let document = |statements: &[Value]| json!({ "Version": "2012-10-17", "Statement": statements });
    let mut documents: Vec<Vec<Value>> = vec![Vec::new()];
    for (number, mut statement) in statements.into_iter().enumerate() {
        statement["Sid"] = json!(format!("S{number}"));
        let current = documents.last_mut().expect("one document at least");
        current.push(statement);
        if current.len() > 1 && size(&document(current)) > POLICY_SIZE_LIMIT {
            let moved = current.pop().expect("just pushed");
            documents.push(vec![moved]);
        }
    }
    let count = documents.len();
    documents
        .into_iter()
        .enumerate()
        .map(|(at, statements)| PolicyDocument {
            name: if count == 1 {
                format!("deployer-{}-{}", scope.environment, role.name())
            } else {
                format!("deployer-{}-{}-{}", scope.environment, role.name(), at + 1)
            },
            document: document(&statements),
        })
        .collect()
}

/// A document's size as IAM counts it: without whitespace.
pub fn size(document: &Value) -> usize {
    document.to_string().chars().filter(|c| !c.is_whitespace()).count()
}

#[cfg(test)]
mod tests;
