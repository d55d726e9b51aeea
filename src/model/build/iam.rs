//! The IAM documents of the API's roles: least-privilege inline policies and trust policies
//! against the confused deputy.

use std::collections::BTreeSet;

use super::*;
use crate::config::{LoadBalancerKind, SecretRef};
use crate::model::TAG_ENVIRONMENT;

/// Where the API token lives, as an ARN (for IAM policies and ECS `valueFrom`).
pub(super) fn token_arn(token: &SecretRef, region: &str, account: &str) -> String {
    match token {
        SecretRef::Ssm(path) => format!("arn:aws:ssm:{region}:{account}:parameter{path}"),
        SecretRef::SecretsManager(name) => format!("arn:aws:secretsmanager:{region}:{account}:secret:{name}"),
        SecretRef::Env(name) => format!("env:{name}"),
    }
}

/// The ARNs an environment's policies name, all known before anything exists, so the plan
/// shows the exact documents.
pub(super) struct Scope {
    /// The API token's ARN (`env:` tokens are refused by validation before this is used).
    pub(super) token_arn: String,
    repository_arn: String,
    log_group_arn: String,
}

impl Scope {
    pub(super) fn new(config: &EnvironmentConfig, facts: &Facts) -> Self {
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
pub(super) fn api_statements(config: &EnvironmentConfig, facts: &Facts) -> [serde_json::Value; 2] {
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

pub(super) fn policy(statements: impl IntoIterator<Item = serde_json::Value>) -> String {
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
pub(super) fn task_policy(config: &EnvironmentConfig, facts: &Facts) -> String {
    let [read, _] = api_statements(config, facts);
    policy([read])
}

/// The ECS agent's role: pull the image, write logs, read the token into the container.
pub(super) fn execution_policy(token: &SecretRef, scope: &Scope) -> String {
    let [login, pull] = scope.pull_images();
    policy([
        scope.read_token(token, "ssm:GetParameters"),
        login,
        pull,
        scope.write_logs(),
    ])
}

/// An EC2 instance is both the agent and the task: Docker pulls and logs, the API calls AWS.
pub(super) fn instance_policy(config: &EnvironmentConfig, facts: &Facts, token: &SecretRef, scope: &Scope) -> String {
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
pub(super) fn session_statements(config: &EnvironmentConfig, facts: &Facts) -> [serde_json::Value; 2] {
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
pub(super) fn trust_policy(service: &str, facts: &Facts) -> String {
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
pub(super) fn role(
    config: &EnvironmentConfig,
    facts: &Facts,
    suffix: &str,
    service: &str,
    inline_policy: String,
) -> Spec {
    Spec::IamRole(RoleSpec {
        name: names::iam(&config.name, &facts.region, suffix),
        path: names::iam_path(&config.name, &facts.region),
        trust_policy: trust_policy(service, facts),
        managed_policies: BTreeSet::new(),
        permissions_boundary: config.iam.permissions_boundary.clone(),
        inline_policy,
        other_inline_policies: BTreeMap::new(),
    })
}
