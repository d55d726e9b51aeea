use std::collections::BTreeSet;
use std::path::Path;

use super::*;

/// The IAM prefix of the service each adapter folder talks to.
const PREFIXES: &[(&str, &str)] = &[
    ("acm", "acm"),
    ("app_scaling", "application-autoscaling"),
    ("asg", "autoscaling"),
    ("cloudwatch", "cloudwatch"),
    ("ec2", "ec2"),
    ("ecr", "ecr"),
    ("ecs", "ecs"),
    ("elb", "elasticloadbalancing"),
    ("elbv2", "elasticloadbalancing"),
    ("iam", "iam"),
    ("logs", "logs"),
    ("rds", "rds"),
    ("s3", "s3"),
    ("sns", "sns"),
    ("state", "dynamodb"),
    ("sts", "sts"),
];

/// The operations whose IAM action is not `<prefix>:<Operation>` (the Service Authorization
/// Reference's S3 page; STS's GetCallerIdentity needs none).
const NOT_NAMED_AFTER_THEIR_OPERATION: &[(&str, &[&str])] = &[
    ("s3:ListBuckets", &["s3:ListAllMyBuckets"]),
    ("s3:GetBucketEncryption", &["s3:GetEncryptionConfiguration"]),
    ("s3:PutBucketEncryption", &["s3:PutEncryptionConfiguration"]),
    ("s3:GetBucketLifecycleConfiguration", &["s3:GetLifecycleConfiguration"]),
    ("s3:PutBucketLifecycleConfiguration", &["s3:PutLifecycleConfiguration"]),
    ("s3:GetPublicAccessBlock", &["s3:GetBucketPublicAccessBlock"]),
    ("s3:PutPublicAccessBlock", &["s3:PutBucketPublicAccessBlock"]),
    ("s3:DeleteBucketTagging", &["s3:PutBucketTagging"]),
    ("s3:DeleteObjects", &["s3:DeleteObject", "s3:DeleteObjectVersion"]),
    ("s3:ListObjectVersions", &["s3:ListBucketVersions"]),
    ("sts:GetCallerIdentity", &[]),
];

fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Every SDK operation the files of `folder` call: `client.<operation>()` (rustfmt may break
/// the chain over lines) and the operations handed to `tag_api!`.
fn operations_called(folder: &Path) -> BTreeSet<String> {
    let mut operations = BTreeSet::new();
    for entry in std::fs::read_dir(folder).unwrap() {
        let text: String = std::fs::read_to_string(entry.unwrap().path())
            .unwrap()
            .split_whitespace()
            .collect();
        for (at, _) in text.match_indices("client.") {
            let rest = &text[at + "client.".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
                .collect();
            if !name.is_empty() && rest[name.len()..].starts_with("()") {
                operations.insert(pascal(&name));
            }
        }
        if let Some(at) = text.find("tag_api!(") {
            let args = &text[at..text[at..].find(");").map_or(text.len(), |end| at + end)];
            for (at, _) in args.match_indices("(\"") {
                let name: String = args[..at]
                    .chars()
                    .rev()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                operations.insert(pascal(&name));
            }
        }
    }
    operations
}

#[test]
fn every_aws_call_in_the_adapters_has_its_permission_declared() {
    let declared: BTreeSet<String> = all_calls()
        .iter()
        .chain(crate::aws::iam::BOOTSTRAP)
        .map(|c| c.action.to_ascii_lowercase())
        .collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/aws");
    let mut checked = 0;
    let mut missing = Vec::new();
    for (folder, prefix) in PREFIXES {
        let called = operations_called(&root.join(folder));
        assert!(
            !called.is_empty(),
            "no call found in src/aws/{folder}: the scan is broken"
        );
        for operation in called {
            let named = format!("{prefix}:{operation}");
            let actions: Vec<String> = match NOT_NAMED_AFTER_THEIR_OPERATION.iter().find(|(op, _)| *op == named) {
                Some((_, actions)) => actions.iter().map(|a| (*a).to_owned()).collect(),
                None => vec![named.clone()],
            };
            for action in actions {
                checked += 1;
                if !declared.contains(&action.to_ascii_lowercase()) {
                    missing.push(format!("{action} (src/aws/{folder} calls {operation})"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "calls without a declared permission:\n  {}",
        missing.join("\n  ")
    );
    assert!(checked > 150, "only {checked} calls found");
}

#[test]
fn the_scan_sees_a_call_broken_over_lines_and_tag_api_operations() {
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(
        folder.path().join("x.rs"),
        "self.0\n    .client\n    .create_db_cluster()\n;\ntag_api!(X, arn, tag_resource(\"TagResource\", t => t), untag_resource(\"UntagResource\"));",
    )
    .unwrap();
    assert_eq!(
        operations_called(folder.path()),
        ["CreateDbCluster", "TagResource", "UntagResource"]
            .into_iter()
            .map(str::to_owned)
            .collect()
    );
}

fn scope(environment: &str) -> Scope {
    Scope {
        environment: environment.to_owned(),
        region: "us-east-1".to_owned(),
        account: "123456789012".to_owned(),
        certificate: None,
        permissions_boundary: None,
    }
}

fn statements(permissions: &Permissions) -> Vec<&Value> {
    permissions
        .policies
        .iter()
        .flat_map(|p| p.document["Statement"].as_array().unwrap())
        .collect()
}

fn actions_of(statement: &Value) -> Vec<&str> {
    statement["Action"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect()
}

#[test]
fn the_plan_policy_writes_nothing_and_reads_no_secret() {
    let plan = permissions(&scope("staging"), Role::Plan);
    let deploy = permissions(&scope("staging"), Role::Deploy);
    assert!(plan.actions.len() > 50 && plan.actions.len() < deploy.actions.len());
    for action in &plan.actions {
        let verb = action.split(':').nth(1).unwrap();
        assert!(
            ["Describe", "List", "Get"].iter().any(|read| verb.starts_with(read)),
            "the plan policy may {action}"
        );
        for secret in [
            "ssm:GetParameter",
            "secretsmanager:GetSecretValue",
            "s3:GetObject",
            "logs:FilterLogEvents",
            "logs:GetLogEvents",
            "ecr:GetAuthorizationToken",
            "ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer",
        ] {
            assert!(!action.starts_with(secret), "the plan policy reads {action}");
        }
    }
}

#[test]
fn the_lock_items_are_the_environments_own() {
    let deploy = permissions(&scope("development"), Role::Deploy);
    let lock = statements(&deploy)
        .into_iter()
        .find(|s| actions_of(s).contains(&"dynamodb:PutItem"))
        .unwrap();
    assert_eq!(
        lock["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"],
        json!(["development", "development#hold"])
    );
    assert_eq!(
        lock["Resource"],
        "arn:aws:dynamodb:us-east-1:123456789012:table/deployer-locks"
    );
}

#[test]
fn every_document_fits_iams_limit_and_every_action_is_in_one() {
    for role in [Role::Deploy, Role::Plan, Role::Push] {
        let permissions = permissions(&scope("a-long-environment-x"), role);
        let mut granted = BTreeSet::new();
        for policy in &permissions.policies {
            assert!(
                size(&policy.document) <= POLICY_SIZE_LIMIT,
                "{} is too big",
                policy.name
            );
            assert!(
                policy.name.starts_with("deployer-a-long-environment-x-"),
                "{}",
                policy.name
            );
            for statement in policy.document["Statement"].as_array().unwrap() {
                granted.extend(actions_of(statement).into_iter().map(str::to_owned));
            }
        }
        assert_eq!(granted.into_iter().collect::<Vec<_>>(), permissions.actions, "{role:?}");
    }
}

#[test]
fn only_actions_without_resource_level_permissions_stay_on_star_each_with_its_reason() {
    let deploy = permissions(&scope("staging"), Role::Deploy);
    for statement in statements(&deploy) {
        if statement["Resource"] == "*" {
            for action in actions_of(statement) {
                let reason = deploy.unscoped.iter().find(|u| u.action == action);
                assert!(
                    reason.is_some_and(|u| !u.reason.is_empty()),
                    "{action} is on * without a reason"
                );
            }
        }
    }
    let writes_on_star: Vec<&Unscoped> = deploy
        .unscoped
        .iter()
        .filter(|u| {
            ["Create", "Put", "Delete", "Modify", "Update"]
                .iter()
                .any(|w| u.action.contains(&format!(":{w}")))
        })
        .collect();
    assert!(writes_on_star.len() <= 6, "{writes_on_star:?}");
}

#[test]
fn with_a_boundary_no_role_is_created_or_given_policies_without_it() {
    let boundary = "arn:aws:iam::123456789012:policy/deployer-boundary";
    let deploy = permissions(
        &Scope {
            permissions_boundary: Some(boundary.to_owned()),
            ..scope("staging")
        },
        Role::Deploy,
    );
    for statement in statements(&deploy) {
        for action in actions_of(statement) {
            if BOUNDED.contains(&action) {
                assert_eq!(
                    statement["Condition"]["StringEquals"]["iam:PermissionsBoundary"], boundary,
                    "{action}"
                );
            }
        }
    }
}

#[test]
fn scoped_arns_name_only_the_environments_resources() {
    let deploy = permissions(&scope("staging"), Role::Deploy);
    let text = serde_json::to_string(&deploy.policies).unwrap();
    assert!(text.contains("arn:aws:iam::123456789012:role/deployer/staging/us-east-1/*"));
    assert!(text.contains("arn:aws:ecr:us-east-1:123456789012:repository/deployer/staging/*"));
    assert!(text.contains("arn:aws:rds:us-east-1:123456789012:cluster:staging-db"));
    assert!(!text.contains("production"));
    let push = permissions(&scope("staging"), Role::Push);
    assert!(push.actions.contains(&"ecr:PutImage".to_owned()));
    assert!(push.actions.iter().all(|a| a.starts_with("ecr:")), "{:?}", push.actions);
}
