//! The model builder's tests: what each environment file gives.

use super::*;
use crate::config::{LoadBalancerKind, parse_environment};

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
    let config = parse_environment(include_str!("../../../environments/development.yaml"), "development").unwrap();
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
    let config = parse_environment(include_str!("../../../environments/production.yaml"), "production").unwrap();
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
    let config = parse_environment(include_str!("../../../environments/staging.yaml"), "staging").unwrap();
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
    let config = parse_environment(include_str!("../../../environments/development.yaml"), "development").unwrap();
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
    let config = parse_environment(include_str!("../../../environments/staging.yaml"), "staging").unwrap();
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
    let config = parse_environment(include_str!("../../../environments/production.yaml"), "production").unwrap();
    let two = Facts {
        availability_zones: vec!["eu-west-3a".into(), "eu-west-3b".into()],
        region: "eu-west-3".into(),
        pushed_image: None,
        ..facts()
    };
    let error = desired(&config, &two).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("network.azs asks for 3 availability zones but the region offers 2 (eu-west-3a, eu-west-3b)")
    );
}

fn role_policy(desired: &Desired, id: &str) -> (BTreeSet<Ref>, serde_json::Value) {
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
    let staging = parse_environment(include_str!("../../../environments/staging.yaml"), "staging").unwrap();
    let development = parse_environment(include_str!("../../../environments/development.yaml"), "development").unwrap();
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
    let config = parse_environment(include_str!("../../../environments/staging.yaml"), "staging").unwrap();
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
    let staging = parse_environment(include_str!("../../../environments/staging.yaml"), "staging").unwrap();
    let development = parse_environment(include_str!("../../../environments/development.yaml"), "development").unwrap();
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
    let mut config = parse_environment(include_str!("../../../environments/development.yaml"), "development").unwrap();
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
        ("development", include_str!("../../../environments/development.yaml")),
        ("staging", include_str!("../../../environments/staging.yaml")),
        ("production", include_str!("../../../environments/production.yaml")),
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
    let config = parse_environment(include_str!("../../../environments/development.yaml"), "development").unwrap();
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
    let development = parse_environment(include_str!("../../../environments/development.yaml"), "development").unwrap();
    let desired_development = desired(&development, &facts()).unwrap();
    let Spec::LaunchTemplate(template) = &desired_development.resources[&Id::from("launch-template")].spec else {
        panic!()
    };
    assert_eq!(
        template.root_volume.as_ref().unwrap().to_string(),
        "/dev/xvda 30 GiB gp3, encrypted"
    );

    let production = parse_environment(include_str!("../../../environments/production.yaml"), "production").unwrap();
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
    let config = parse_environment(include_str!("../../../environments/staging.yaml"), "staging").unwrap();
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
    let config = parse_environment(include_str!("../../../environments/development.yaml"), "development").unwrap();
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
    let mut config = parse_environment(include_str!("../../../environments/staging.yaml"), "staging").unwrap();
    config.app.image = Some("ghcr.io/example/api:2.0.0".into());
    let desired = desired(&config, &facts()).unwrap();
    let Spec::TaskDefinition(task) = &desired.resources[&Id::from("task-definition")].spec else {
        panic!()
    };
    assert_eq!(task.image, "ghcr.io/example/api:2.0.0");
}
