//! `deployer permissions`: the policies it prints are what deployer needs, no more; checked by
//! the emulator enforcing IAM (actions), by parliament (AWS's action and resource data) and by
//! the harness's evaluator (resources and conditions, which the emulator does not check).

use std::collections::BTreeMap;

use crate::support::{Deployer, Moto, root};

fn printed(moto: &Moto, environment: &str, role: &str) -> serde_json::Value {
    let run = Deployer::new(moto)
        .args(["permissions", environment, "--for", role, "--json"])
        .run()
        .expect_status(0);
    serde_json::from_str(&run.stdout).unwrap()
}

#[test]
fn the_plan_role_plans_and_is_refused_every_change_with_what_to_run() {
    let mut moto = Moto::start_with_tasks(2);
    moto.enforce();
    let planner = moto.operator("staging", "plan");
    let deployer = moto.operator("staging", "deploy");

    // Nothing deployed: the plan reads everything it needs and writes nothing (a write would
    // be refused, and the plan fail).
    let plan = Deployer::new(&moto)
        .signed_by(&planner)
        .args(["plan", "staging", "--detailed-exitcode"])
        .run()
        .expect_status(2);
    assert!(
        plan.stdout.contains("to add, 0 to change, 0 to destroy"),
        "{}",
        plan.stdout
    );

    let refused = Deployer::new(&moto)
        .signed_by(&planner)
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(1);
    assert!(
        refused.stderr.contains("was refused")
            && refused.stderr.contains("user/staging-plan")
            && refused.stderr.contains("`deployer permissions ENV`"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains("<?xml"), "a raw dump: {}", refused.stderr);

    Deployer::new(&moto)
        .signed_by(&deployer)
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    // Deployed: the plan role reads it all back, the lock and the hold included.
    let again = Deployer::new(&moto)
        .signed_by(&planner)
        .args(["plan", "staging", "--detailed-exitcode"])
        .run()
        .expect_status(0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    Deployer::new(&moto)
        .signed_by(&planner)
        .args(["destroy", "staging", "--auto-approve"])
        .run()
        .expect_status(1);
}

#[test]
fn the_push_role_holds_only_ecr() {
    let moto = Moto::start();
    let push = printed(&moto, "staging", "push");
    let actions: Vec<&str> = push["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"ecr:PutImage") && actions.contains(&"ecr:GetAuthorizationToken"),
        "{actions:?}"
    );
    assert!(actions.iter().all(|a| a.starts_with("ecr:")), "{actions:?}");
    let text = push["policies"].to_string();
    assert!(
        text.contains("repository/deployer/staging/*") && !text.contains("production"),
        "{text}"
    );
}

/// parliament's findings on every policy file in `folder`, one run for all (a run is a Python
/// start), as it prints them with `--json`: each names its file.
fn findings(folder: &std::path::Path) -> Vec<serde_json::Value> {
    let parliament = root().join(".venv/bin/parliament");
    assert!(
        parliament.exists(),
        "parliament is not installed: run `cargo xtask setup`"
    );
    let output = std::process::Command::new(parliament)
        .args(["--json", "--directory"])
        .arg(folder)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.stderr.is_empty(),
        "parliament: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("parliament said: {l}")))
        .collect()
}

/// Whether IAM's glob `pattern` covers every ARN of parliament's `format` (`arn:*:rds:*:*:db:*`).
fn covers(pattern: &str, format: &str) -> bool {
    let format: Vec<&str> = format.splitn(6, ':').collect();
    let pattern: Vec<&str> = pattern.splitn(6, ':').collect();
    if format.len() != 6 || pattern.len() != 6 || format[2] != pattern[2] {
        return false;
    }
    // The resource part: the type before its first `*`, `/` or `:` must agree.
    let kind = |resource: &str| resource.split(['/', ':', '*']).next().unwrap_or_default().to_owned();
    kind(format[5]) == kind(pattern[5])
        && (!format[5].contains("/app/") || pattern[5].contains("/app/") || !pattern[5].contains('/'))
        && !(format[5].contains("/net/") || format[5].contains("/gwy/"))
}

/// A policy file's environment, role, printed permissions, and action → resources granted.
type Written<'a> = (&'a str, &'a str, serde_json::Value, BTreeMap<String, Vec<String>>);

#[test]
fn parliament_finds_nothing_in_any_role_but_what_is_explained() {
    let moto = Moto::start();
    let folder = tempfile::tempdir().unwrap();
    // Each file's environment, role, printed permissions, and where each action is allowed
    // across every statement of the role's policies.
    let mut written: BTreeMap<String, Written<'_>> = BTreeMap::new();
    for environment in ["development", "staging", "production"] {
        for role in ["deploy", "plan", "push", "bootstrap"] {
            let permissions = printed(&moto, environment, role);
            let mut granted: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for policy in permissions["policies"].as_array().unwrap() {
                for statement in policy["document"]["Statement"].as_array().unwrap() {
                    let resources = crate::support::iam_evaluator::strings(&statement["Resource"]);
                    for action in statement["Action"].as_array().unwrap() {
                        granted
                            .entry(action.as_str().unwrap().to_ascii_lowercase())
                            .or_default()
                            .extend(resources.clone());
                    }
                }
            }
            for policy in permissions["policies"].as_array().unwrap() {
                let file = folder.path().join(format!("{}.json", policy["name"].as_str().unwrap()));
                std::fs::write(&file, policy["document"].to_string()).unwrap();
                written.insert(
                    file.display().to_string(),
                    (environment, role, permissions.clone(), granted.clone()),
                );
            }
        }
    }
    let found = findings(folder.path());
    // The split statements are found each time: parliament ran and was read.
    assert!(!found.is_empty(), "parliament found nothing at all: did it run?");
    for finding in found {
        let file = finding["location"]["filepath"].as_str().unwrap_or_default();
        let (environment, role, permissions, granted) = written
            .get(file)
            .unwrap_or_else(|| panic!("a finding on no policy file: {finding}"));
        let issue = finding["issue"].as_str().unwrap();
        let explained = match issue {
            // parliament wants every resource type an action requires in one statement; AWS's
            // own examples split a create's new resource (with its request tag) from the
            // existing ones it touches (with theirs). Explained when another statement grants
            // the action on that type, or the type is a load balancer kind deployer never makes.
            "RESOURCE_MISMATCH" => finding["detail"].as_array().unwrap().iter().all(|mismatch| {
                let action = mismatch["action"].as_str().unwrap().to_ascii_lowercase();
                let format = mismatch["required_format"].as_str().unwrap();
                format.contains("/net/")
                    || format.contains("/gwy/")
                    || granted
                        .get(&action)
                        .is_some_and(|arns| arns.iter().any(|arn| covers(arn, format)))
            }),
            // Listing calls: AWS checks them against the whole type, which is what `*` says;
            // each is listed with its reason by `permissions`.
            "RESOURCE_STAR" => finding["detail"].as_array().unwrap().iter().all(|action| {
                permissions["unscoped"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|u| u["action"] == *action)
            }),
            // The deploy role writes the access log bucket's policy (the one the plan shows);
            // it holds no object read or write itself.
            "RESOURCE_POLICY_PRIVILEGE_ESCALATION" => {
                *role == "deploy"
                    && finding["detail"]
                        .as_str()
                        .is_some_and(|d| d.contains("s3:PutBucketPolicy"))
            }
            _ => false,
        };
        assert!(explained, "{environment} {role} {file}: {finding}");
    }
}

/// The evaluator the round trips check every recorded call with, on calls written out: what
/// staging's deploy policy allows on staging, it refuses on production (its tags, names and
/// lock items).
#[test]
fn stagings_deploy_policy_cannot_change_production() {
    use crate::support::iam_evaluator::Authorization;
    use std::collections::BTreeMap;
    let moto = Moto::start();
    let policies: Vec<serde_json::Value> = printed(&moto, "staging", "deploy")["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["document"].clone())
        .collect();
    let on = |action: &str, resource: &str, tags: &[(&str, &str)], context: &[(&str, &str)]| Authorization {
        action: action.to_owned(),
        resource: resource.to_owned(),
        resource_tags: tags.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        context: context
            .iter()
            .map(|(k, v)| ((*k).to_owned(), vec![(*v).to_owned()]))
            .collect::<BTreeMap<_, _>>(),
    };
    let vpc = "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-0123";
    let pairs = [
        (
            on("ec2:DeleteVpc", vpc, &[("deployer:environment", "staging")], &[]),
            on("ec2:DeleteVpc", vpc, &[("deployer:environment", "production")], &[]),
        ),
        (
            on(
                "ec2:CreateVpc",
                "arn:aws:ec2:us-east-1:123456789012:vpc/new",
                &[],
                &[("aws:RequestTag/deployer:environment", "staging")],
            ),
            on(
                "ec2:CreateVpc",
                "arn:aws:ec2:us-east-1:123456789012:vpc/new",
                &[],
                &[("aws:RequestTag/deployer:environment", "production")],
            ),
        ),
        (
            on(
                "dynamodb:PutItem",
                "arn:aws:dynamodb:us-east-1:123456789012:table/deployer-locks",
                &[],
                &[("dynamodb:LeadingKeys", "staging#hold")],
            ),
            on(
                "dynamodb:PutItem",
                "arn:aws:dynamodb:us-east-1:123456789012:table/deployer-locks",
                &[],
                &[("dynamodb:LeadingKeys", "production#hold")],
            ),
        ),
        (
            on(
                "iam:PutRolePolicy",
                "arn:aws:iam::123456789012:role/deployer/staging/us-east-1/staging-us-east-1-task",
                &[],
                &[],
            ),
            on(
                "iam:PutRolePolicy",
                "arn:aws:iam::123456789012:role/deployer/production/us-east-1/production-us-east-1-task",
                &[],
                &[],
            ),
        ),
        (
            on(
                "rds:DeleteDBCluster",
                "arn:aws:rds:us-east-1:123456789012:cluster:staging-db",
                &[],
                &[],
            ),
            on(
                "rds:DeleteDBCluster",
                "arn:aws:rds:us-east-1:123456789012:cluster:production-db",
                &[],
                &[],
            ),
        ),
        (
            on(
                "iam:PassRole",
                "arn:aws:iam::123456789012:role/deployer/staging/us-east-1/staging-us-east-1-task",
                &[],
                &[("iam:PassedToService", "ecs-tasks.amazonaws.com")],
            ),
            on(
                "iam:PassRole",
                "arn:aws:iam::123456789012:role/deployer/staging/us-east-1/staging-us-east-1-task",
                &[],
                &[("iam:PassedToService", "lambda.amazonaws.com")],
            ),
        ),
    ];
    for (ours, theirs) in pairs {
        assert!(ours.allowed(&policies), "refused: {ours:?}");
        assert!(!theirs.allowed(&policies), "allowed: {theirs:?}");
    }
}

/// Production's deploy policy against an environment called `production-eu` (or `production-db-1`),
/// whose resource names begin with `production-`: name patterns such as `production-*` would
/// hand it their alarms, target groups, database instances and task definitions.
#[test]
fn a_policy_does_not_reach_an_environment_whose_name_begins_with_its_own() {
    use crate::support::iam_evaluator::Authorization;
    let moto = Moto::start();
    let policies: Vec<serde_json::Value> = printed(&moto, "production", "deploy")["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["document"].clone())
        .collect();
    let on = |action: &str, resource: String, environment: &str| Authorization {
        action: action.to_owned(),
        resource,
        resource_tags: [("deployer:environment".to_owned(), environment.to_owned())].into(),
        context: Default::default(),
    };
    let at = "us-east-1:123456789012";
    let checks = |env: &str| {
        vec![
            on(
                "cloudwatch:DeleteAlarms",
                format!("arn:aws:cloudwatch:{at}:alarm:{env}-db-cpu"),
                env,
            ),
            on(
                "cloudwatch:PutMetricAlarm",
                format!("arn:aws:cloudwatch:{at}:alarm:{env}-lb-5xx-rate"),
                env,
            ),
            on(
                "elasticloadbalancing:DeleteTargetGroup",
                format!("arn:aws:elasticloadbalancing:{at}:targetgroup/{env}-app-0a1b2c/0123456789abcdef"),
                env,
            ),
            on("rds:DeleteDBInstance", format!("arn:aws:rds:{at}:db:{env}-db-1"), env),
            on("rds:ModifyDBInstance", format!("arn:aws:rds:{at}:db:{env}-db-12"), env),
            on(
                "rds:DeleteDBCluster",
                format!("arn:aws:rds:{at}:cluster-snapshot:{env}-db-final-1764633600"),
                env,
            ),
            on(
                "ecs:TagResource",
                format!("arn:aws:ecs:{at}:task-definition/{env}-api:7"),
                env,
            ),
        ]
    };
    for ours in checks("production") {
        assert!(ours.allowed(&policies), "refused: {ours:?}");
    }
    for other in ["production-eu", "production-app", "production-db-1"] {
        for theirs in checks(other) {
            assert!(!theirs.allowed(&policies), "allowed: {theirs:?}");
        }
    }
}

/// The roles of an environment whose file sets `iam.permissions_boundary`, as IAM holds them.
fn boundaries(moto: &Moto, environment: &str) -> Vec<Option<String>> {
    crate::support::block_on(async {
        let iam = aws_sdk_iam::Client::new(&moto.sdk_config());
        let listed = iam
            .list_roles()
            .path_prefix(format!("/deployer/{environment}/"))
            .send()
            .await
            .unwrap();
        let mut found = Vec::new();
        for role in listed.roles() {
            let full = iam.get_role().role_name(role.role_name()).send().await.unwrap();
            found.push(
                full.role()
                    .and_then(|r| r.permissions_boundary())
                    .and_then(|b| b.permissions_boundary_arn())
                    .map(str::to_owned),
            );
        }
        found
    })
}

#[test]
fn a_permissions_boundary_is_put_on_every_role_kept_and_taken_off_with_the_file() {
    let mut moto = Moto::start();
    let boundary = crate::support::block_on(async {
        aws_sdk_iam::Client::new(&moto.sdk_config())
            .create_policy()
            .policy_name("deployer-boundary")
            .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#)
            .send()
            .await
            .unwrap()
            .policy()
            .unwrap()
            .arn()
            .unwrap()
            .to_owned()
    });
    let dir = moto.environments_copy();
    crate::support::edit_environment(
        dir.path(),
        "development",
        "protect: false",
        &format!("protect: false\niam:\n  permissions_boundary: {boundary}"),
    );
    // The deploy policy printed from this file creates no role without the boundary.
    let printed = Deployer::new(&moto)
        .environments(dir.path())
        .args(["permissions", "development", "--json"])
        .run()
        .expect_status(0);
    let permissions: serde_json::Value = serde_json::from_str(&printed.stdout).unwrap();
    let text = permissions["policies"].to_string();
    assert!(
        text.contains(&format!(r#""iam:PermissionsBoundary":"{boundary}""#)),
        "{text}"
    );
    assert!(!text.contains("iam:DeleteRolePermissionsBoundary"), "{text}");

    moto.enforce_least_privilege("development");
    Deployer::new(&moto)
        .environments(dir.path())
        .args(["apply", "development", "--auto-approve"])
        .run()
        .expect_status(0);
    let roles = boundaries(&moto, "development");
    assert!(!roles.is_empty());
    assert!(
        roles.iter().all(|b| b.as_deref() == Some(boundary.as_str())),
        "{roles:?}"
    );
    Deployer::new(&moto)
        .environments(dir.path())
        .args(["plan", "development", "--detailed-exitcode"])
        .run()
        .expect_status(0);

    // Without it in the file, the plan takes it off (as the default deploy policy may).
    let plain = moto.environments_copy();
    let plan = Deployer::new(&moto)
        .environments(plain.path())
        .args(["plan", "development", "--detailed-exitcode"])
        .run()
        .expect_status(2);
    assert!(
        plan.stdout
            .contains(&format!("permissions_boundary: {boundary} → (none)")),
        "{}",
        plan.stdout
    );
    Deployer::new(&moto)
        .environments(plain.path())
        .args(["apply", "development", "--auto-approve"])
        .run()
        .expect_status(0);
    assert!(boundaries(&moto, "development").iter().all(Option::is_none));
}

#[test]
fn with_an_account_given_the_policies_need_no_aws_at_all() {
    let run = Deployer::offline()
        .args(["permissions", "staging", "--account", "210987654321", "--json"])
        .run()
        .expect_status(0);
    let permissions: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let text = permissions["policies"].to_string();
    assert!(
        text.contains("arn:aws:iam::210987654321:role/deployer/staging/us-east-1/*"),
        "{text}"
    );
    let refused = Deployer::offline()
        .args(["permissions", "staging", "--account", "12345"])
        .run()
        .expect_status(1);
    assert!(
        refused.stderr.contains("is not an AWS account id"),
        "{}",
        refused.stderr
    );
}
