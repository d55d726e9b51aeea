//! The planner as a specification: each test states an environment's situation and the plan.

use std::collections::BTreeSet;

use super::*;
use crate::config::parse_environment;
use crate::model::{Desired, Id, ObservedResource, Ref, Spec, desired};

fn staging() -> Desired {
    let config = parse_environment(include_str!("../../environments/staging.yaml"), "staging").unwrap();
    desired(&config, &crate::model::example_facts(2)).unwrap()
}

fn find<'a>(plan: &'a Plan, id: &str) -> &'a PlannedChange {
    plan.changes
        .iter()
        .find(|c| c.id.as_str() == id)
        .unwrap_or_else(|| panic!("{id} not in plan"))
}

/// The reasons as `plan` prints them.
fn reasons(plan: &Plan, id: &str) -> Vec<String> {
    find(plan, id).reasons.iter().map(ToString::to_string).collect()
}

fn actions(plan: &Plan) -> Vec<(String, Action)> {
    plan.changes.iter().map(|c| (c.id.to_string(), c.action)).collect()
}

fn observed_mut<'a>(observed: &'a mut [ObservedResource], id: &str) -> &'a mut ObservedResource {
    observed.iter_mut().find(|r| r.id.as_str() == id).unwrap()
}

#[test]
fn empty_account_creates_everything() {
    let desired = staging();
    let plan = plan(&desired, &[]);
    assert_eq!(plan.changes.len(), desired.resources.len());
    assert!(plan.changes.iter().all(|c| c.action == Action::Create));
    assert_eq!(
        plan.summary(),
        Summary {
            add: 38,
            change: 0,
            destroy: 0
        }
    );
    assert!(render_text(&plan).ends_with("\nPlan: 38 to add, 0 to change, 0 to destroy.\n"));
}

#[test]
fn deployed_environment_has_no_changes() {
    let desired = staging();
    let plan = plan(&desired, &crate::model::as_deployed(&desired));
    assert!(plan.is_empty(), "{plan:#?}");
    assert_eq!(
        render_text(&plan),
        "No changes. Environment staging matches its configuration.\n"
    );
}

#[test]
fn missing_route_is_an_in_place_update() {
    let desired = staging();
    let mut observed = crate::model::as_deployed(&desired);
    let Spec::RouteTable(rt) = &mut observed_mut(&mut observed, "route-table-private-b").spec else {
        panic!()
    };
    rt.routes.clear();
    let plan = plan(&desired, &observed);
    assert_eq!(actions(&plan), [("route-table-private-b".to_owned(), Action::Update)]);
    assert_eq!(
        reasons(&plan, "route-table-private-b"),
        ["routes: + 0.0.0.0/0 via nat-gateway-a"]
    );
    // What apply acts on is the set of changed attributes, not the reasons' wording.
    assert_eq!(find(&plan, "route-table-private-b").changed, BTreeSet::from(["routes"]));
}

#[test]
fn tag_drift_is_an_update_naming_the_tag() {
    let desired = staging();
    let mut observed = crate::model::as_deployed(&desired);
    observed_mut(&mut observed, "vpc")
        .tags
        .insert("cost-center".into(), "marketing".into());
    observed_mut(&mut observed, "vpc")
        .tags
        .insert("aws:cloudformation:stack-id".into(), "x".into());
    let plan = plan(&desired, &observed);
    assert_eq!(actions(&plan), [("vpc".to_owned(), Action::Update)]);
    assert_eq!(reasons(&plan, "vpc"), ["tags: cost-center: marketing → platform"]);
    assert!(find(&plan, "vpc").changed.is_empty(), "a tag is not an attribute");
    assert_eq!(
        find(&plan, "vpc").reasons,
        [Reason::Tag {
            key: "cost-center".into(),
            from: Some("marketing".into()),
            to: Some("platform".into())
        }]
    );
}

#[test]
fn cidr_change_replaces_the_vpc_and_everything_bound_to_it() {
    let mut desired = staging();
    let observed = crate::model::as_deployed(&desired);
    let vpc = desired.resources.get_mut(&Id::from("vpc")).unwrap();
    let Spec::Vpc(spec) = &mut vpc.spec else { panic!() };
    spec.cidr = "10.9.0.0/16".into();
    let plan = plan(&desired, &observed);
    assert_eq!(find(&plan, "vpc").action, Action::Replace);
    assert_eq!(
        reasons(&plan, "vpc")[0],
        "cidr: 10.1.0.0/16 → 10.9.0.0/16 (forces replacement)"
    );
    assert_eq!(find(&plan, "subnet-private-a").action, Action::Replace);
    assert_eq!(
        reasons(&plan, "subnet-private-a"),
        ["vpc: vpc is replaced (forces replacement)"]
    );
    // The NAT sits in a replaced subnet, so it is replaced too; the gateway re-attaches in place.
    assert_eq!(find(&plan, "nat-gateway-a").action, Action::Replace);
    assert_eq!(find(&plan, "internet-gateway").action, Action::Update);
    // The reference to the replaced VPC is what the in-place update acts on; a tag-only
    // difference is not an attribute.
    assert_eq!(find(&plan, "internet-gateway").changed, BTreeSet::from(["vpc"]));
    assert_eq!(find(&plan, "vpc").changed, BTreeSet::from(["cidr"]));
    assert!(
        plan.changes.iter().all(|c| c.id.as_str() != "nat-eip-a"),
        "the elastic IP itself is unchanged"
    );
}

#[test]
fn destroy_of_resources_no_longer_configured() {
    let desired = staging();
    let mut observed = crate::model::as_deployed(&desired);
    let mut orphan = observed_mut(&mut observed, "nat-gateway-a").clone();
    orphan.id = Id::from("nat-gateway-c");
    orphan.physical_id = "nat-0c".into();
    observed.push(orphan);
    let plan = plan(&desired, &observed);
    assert_eq!(actions(&plan), [("nat-gateway-c".to_owned(), Action::Delete)]);
    assert_eq!(
        reasons(&plan, "nat-gateway-c"),
        ["no longer part of environment staging"]
    );
    assert_eq!(
        plan.summary(),
        Summary {
            add: 0,
            change: 0,
            destroy: 1
        }
    );
}

#[test]
fn duplicate_resources_keep_the_matching_one() {
    let desired = staging();
    let mut observed = crate::model::as_deployed(&desired);
    let mut twin = observed_mut(&mut observed, "nat-eip-a").clone();
    twin.physical_id = "aaa-first-by-name".into();
    observed.push(twin);
    let plan = plan(&desired, &observed);
    assert_eq!(plan.changes.len(), 1);
    let change = &plan.changes[0];
    assert_eq!(
        (change.action, change.observed.as_ref().unwrap().physical_id.as_str()),
        (Action::Delete, "aws-nat-eip-a")
    );
    assert_eq!(
        change.reasons.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["duplicate of aaa-first-by-name (another resource tagged deployer:id=nat-eip-a)"]
    );
}

#[test]
fn changed_rule_updates_the_rules_not_the_group() {
    let desired = staging();
    let mut observed = crate::model::as_deployed(&desired);
    let Spec::SecurityGroupRules(rules) = &mut observed_mut(&mut observed, "security-group-app-rules").spec else {
        panic!()
    };
    let mut wide_open = rules.ingress.iter().next().unwrap().clone();
    wide_open.peer = crate::model::Peer::Cidr("0.0.0.0/0".into());
    wide_open.description = String::new();
    rules.ingress.insert(wide_open);
    let plan = plan(&desired, &observed);
    assert_eq!(
        actions(&plan),
        [("security-group-app-rules".to_owned(), Action::Update)]
    );
    assert_eq!(
        reasons(&plan, "security-group-app-rules"),
        ["ingress: - tcp/8000 0.0.0.0/0"]
    );
}

#[test]
fn detached_gateway_is_reattached_in_place() {
    let desired = staging();
    let mut observed = crate::model::as_deployed(&desired);
    let Spec::InternetGateway(igw) = &mut observed_mut(&mut observed, "internet-gateway").spec else {
        panic!()
    };
    igw.vpc = None;
    let plan = plan(&desired, &observed);
    assert_eq!(actions(&plan), [("internet-gateway".to_owned(), Action::Update)]);
    assert_eq!(reasons(&plan, "internet-gateway"), ["vpc: (detached) → vpc"]);
}

#[test]
fn subnet_in_a_foreign_vpc_is_replaced() {
    let desired = staging();
    let mut observed = crate::model::as_deployed(&desired);
    let Spec::Subnet(subnet) = &mut observed_mut(&mut observed, "subnet-public-b").spec else {
        panic!()
    };
    subnet.vpc = Ref::External("vpc-0foreign".into());
    let plan = plan(&desired, &observed);
    assert_eq!(find(&plan, "subnet-public-b").action, Action::Replace);
    assert_eq!(find(&plan, "route-table-public").action, Action::Update);
    assert_eq!(
        reasons(&plan, "route-table-public"),
        ["subnets: subnet-public-b is replaced"]
    );
}

#[test]
fn destroys_and_replacements_are_listed_first() {
    let mut desired = staging();
    let observed = crate::model::as_deployed(&desired);
    desired.resources.remove(&Id::from("security-group-db-rules"));
    let Spec::RouteTable(rt) = &mut desired.resources.get_mut(&Id::from("route-table-public")).unwrap().spec else {
        panic!()
    };
    rt.routes.clear();
    let mut observed = observed;
    observed.retain(|r| r.id.as_str() != "vpc");
    let plan = plan(&desired, &observed);
    let order: Vec<Action> = plan.changes.iter().map(|c| c.action).collect();
    let first_constructive = order
        .iter()
        .position(|a| matches!(a, Action::Create | Action::Update))
        .unwrap();
    assert!(
        order[first_constructive..]
            .iter()
            .all(|a| matches!(a, Action::Create | Action::Update)),
        "{order:?}"
    );
    assert_eq!(find(&plan, "security-group-db-rules").action, Action::Delete);
    assert_eq!(find(&plan, "vpc").action, Action::Create);
}

#[test]
fn json_rendering_names_every_change() {
    let desired = staging();
    let mut observed = crate::model::as_deployed(&desired);
    observed.retain(|r| r.id.as_str() != "internet-gateway");
    let json = render_json(&plan(&desired, &observed));
    assert_eq!(
        json["summary"],
        serde_json::json!({"add": 1, "change": 0, "destroy": 0})
    );
    assert_eq!(json["changes"][0]["id"], "internet-gateway");
    assert_eq!(json["changes"][0]["action"], "create");
    assert_eq!(json["changes"][0]["kind"], "internet_gateway");
    // What exists is known by its id; the gateway to create, whose id AWS gives, is not.
    assert_eq!(json["known_physical_ids"]["vpc"], "aws-vpc");
    assert!(json["known_physical_ids"].get("internet-gateway").is_none());
}

#[test]
fn turning_deletion_protection_off_is_planned_as_a_destroy() {
    let desired = staging();
    let mut observed = crate::model::as_deployed(&desired);
    let Spec::DbCluster(cluster) = &mut observed_mut(&mut observed, "db-cluster").spec else {
        panic!()
    };
    assert!(!cluster.deletion_protection, "staging's file leaves it off");
    cluster.deletion_protection = true;
    let lifting = plan(&desired, &observed);
    assert_eq!(actions(&lifting), [("db-cluster".to_owned(), Action::Update)]);
    assert_eq!(
        reasons(&lifting, "db-cluster"),
        ["deletion_protection: true → false (lifts protection: counts as a destroy)"]
    );
    assert!(lifting.destroys_anything());
    let json = render_json(&lifting);
    assert_eq!(json["changes"][0]["reasons"][0]["lifts_protection"], true, "{json}");

    // Turning it on is an ordinary update.
    let mut protected = desired.clone();
    let Spec::DbCluster(cluster) = &mut protected.resources.get_mut(&Id::from("db-cluster")).unwrap().spec else {
        panic!()
    };
    cluster.deletion_protection = true;
    let plan = plan(&protected, &crate::model::as_deployed(&desired));
    assert!(!plan.destroys_anything());
}

#[test]
fn a_major_engine_version_accepts_the_minor_aws_chose_and_a_full_one_is_exact() {
    let desired = staging();
    let mut observed = crate::model::as_deployed(&desired);
    let Spec::DbCluster(cluster) = &mut observed_mut(&mut observed, "db-cluster").spec else {
        panic!()
    };
    assert_eq!(cluster.engine_version, "17", "the default is a major version");
    cluster.engine_version = "17.4".into();
    assert!(plan(&desired, &observed).is_empty(), "AWS's minor upgrade is not drift");

    let mut exact = desired.clone();
    let Spec::DbCluster(cluster) = &mut exact.resources.get_mut(&Id::from("db-cluster")).unwrap().spec else {
        panic!()
    };
    // Issue 25, item 14: a pin AWS's automatic minor upgrade went past is satisfied (AWS
    // cannot downgrade); a pin above what runs is an upgrade.
    cluster.engine_version = "17.2".into();
    assert!(plan(&exact, &observed).is_empty(), "17.4 satisfies a 17.2 pin");
    let Spec::DbCluster(cluster) = &mut exact.resources.get_mut(&Id::from("db-cluster")).unwrap().spec else {
        panic!()
    };
    cluster.engine_version = "17.6".into();
    assert_eq!(
        reasons(&plan(&exact, &observed), "db-cluster"),
        ["engine_version: 17.4 → 17.6"]
    );
    // Item 7: a new major says what it is.
    let Spec::DbCluster(cluster) = &mut observed_mut(&mut observed, "db-cluster").spec else {
        panic!()
    };
    cluster.engine_version = "16.6".into();
    assert_eq!(
        reasons(&plan(&desired, &observed), "db-cluster"),
        [
            "engine_version: 16.6 → 17 (MAJOR version upgrade: the cluster restarts, an outage of minutes; it cannot be undone)"
        ]
    );
    assert_eq!(find(&plan(&desired, &observed), "db-cluster").action, Action::Update);
}

#[test]
fn versions_compare_by_number_within_a_major() {
    use crate::model::version_satisfies;
    assert!(version_satisfies("16.6", "16.10"), "numeric, not text");
    assert!(version_satisfies("16", "16.1"));
    assert!(!version_satisfies("16.6", "16.4"));
    assert!(!version_satisfies("16.6", "17.1"), "a major is never a minor upgrade");
    assert!(!version_satisfies("16", "17.1"));
}

#[test]
fn a_value_aws_does_not_report_is_not_drift_and_a_reported_one_is() {
    let desired = staging();
    let mut observed = crate::model::as_deployed(&desired);
    let Spec::EcsService(service) = &mut observed_mut(&mut observed, "ecs-service").spec else {
        panic!()
    };
    service.health_check_grace_seconds = None;
    assert!(plan(&desired, &observed).is_empty());
    let Spec::EcsService(service) = &mut observed_mut(&mut observed, "ecs-service").spec else {
        panic!()
    };
    service.health_check_grace_seconds = Some(60);
    assert_eq!(
        reasons(&plan(&desired, &observed), "ecs-service"),
        ["health_check_grace_seconds: 60 → 15"]
    );
}

#[test]
fn a_changed_policy_shows_the_lines_that_differ_not_two_documents() {
    let desired = staging();
    let mut observed = crate::model::as_deployed(&desired);
    let role = observed
        .iter_mut()
        .find(|r| matches!(r.spec, Spec::IamRole(_)) && r.id.as_str() == "task-role")
        .expect("staging has a task role");
    let Spec::IamRole(spec) = &mut role.spec else { panic!() };
    let wanted = spec.inline_policy.clone();
    spec.inline_policy = wanted.replace("elasticloadbalancing:DescribeTags", "elasticloadbalancing:*");
    assert_ne!(spec.inline_policy, wanted, "the policy names DescribeTags");
    let text = render_text(&plan(&desired, &observed));
    assert!(text.contains("inline_policy: changed\n"), "{text}");
    let marked = |mark: &str, value: &str| {
        text.lines()
            .any(|l| l.trim_start().starts_with(mark) && l.trim_end().ends_with(&format!("\"{value}\",")))
    };
    assert!(marked("- ", "elasticloadbalancing:*"), "{text}");
    assert!(marked("+ ", "elasticloadbalancing:DescribeTags"), "{text}");
    // One line of context around the change, not the whole document twice.
    assert!(!text.contains("sts:AssumeRole"), "{text}");
    assert_eq!(text.matches("\"Version\"").count(), 0, "{text}");
    assert!(!text.contains(" → "), "{text}");
}

/// Issue 26: what grants access is compared whole. A second trust statement for another
/// account and an inline policy beside deployer's each plan an update of the role, shown as a
/// diff of the documents; a repository policy and a topic policy likewise.
#[test]
fn a_widened_trust_an_extra_inline_policy_and_resource_policies_are_drift() {
    let desired = staging();
    assert!(plan(&desired, &crate::model::as_deployed(&desired)).is_empty());
    let mut observed = crate::model::as_deployed(&desired);
    let Spec::IamRole(role) = &mut observed_mut(&mut observed, "task-role").spec else {
        panic!()
    };
    let mut trust: serde_json::Value = serde_json::from_str(&role.trust_policy).unwrap();
    trust["Statement"].as_array_mut().unwrap().push(serde_json::json!({
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
        "Action": "sts:AssumeRole"
    }));
    role.trust_policy = trust.to_string();
    let everything = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    role.other_inline_policies
        .insert("backdoor".into(), everything.to_string());
    let Spec::EcrRepository(repository) = &mut observed_mut(&mut observed, "repository").spec else {
        panic!()
    };
    repository.policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}]
    })
    .to_string();

    let planned = plan(&desired, &observed);
    assert_eq!(
        actions(&planned),
        [
            ("repository".to_owned(), Action::Update),
            ("task-role".to_owned(), Action::Update)
        ]
    );
    let text = render_text(&planned);
    assert!(text.contains("trust_policy: changed\n"), "{text}");
    assert!(text.contains("other_inline_policies: changed\n"), "{text}");
    assert!(text.contains("policy: changed\n"), "{text}");
    let removed = |value: &str| {
        text.lines()
            .any(|l| l.trim_start().starts_with("- ") && l.contains(value))
    };
    assert!(removed("arn:aws:iam::999999999999:root"), "{text}");
    assert!(removed("\"backdoor\""), "{text}");
    assert!(removed("\"Principal\": \"*\""), "{text}");
    assert!(text.lines().any(|l| l.trim() == "+ (none)"), "{text}");
}

/// The plan text people review, as reviewed snapshots (`cargo insta review` after a change
/// that is meant): a whole environment from nothing, and an update, a replacement and a
/// destroy together.
#[test]
fn plan_text_snapshots() {
    insta::assert_snapshot!("staging_from_nothing", render_text(&plan(&staging(), &[])));

    let mut desired = staging();
    let mut observed = crate::model::as_deployed(&desired);
    let vpc = desired.resources.get_mut(&Id::from("vpc")).unwrap();
    let Spec::Vpc(spec) = &mut vpc.spec else { panic!() };
    spec.cidr = "10.9.0.0/16".into();
    desired.resources.remove(&Id::from("log-group"));
    let role = observed_mut(&mut observed, "task-role");
    let Spec::IamRole(spec) = &mut role.spec else { panic!() };
    spec.inline_policy = spec
        .inline_policy
        .replace("elasticloadbalancing:DescribeTags", "elasticloadbalancing:*");
    let service = observed_mut(&mut observed, "ecs-service");
    service.tags.insert("owner".into(), "someone".into());
    insta::assert_snapshot!("staging_changes", render_text(&plan(&desired, &observed)));
}

/// Issue 25, item 8: the architecture is pinned; a definition registered without a runtime
/// platform runs on X86_64, so moving to arm64 registers a new revision.
#[test]
fn a_new_architecture_replaces_the_task_definition() {
    let mut config = parse_environment(include_str!("../../environments/staging.yaml"), "staging").unwrap();
    let x86 = desired(&config, &crate::model::example_facts(2)).unwrap();
    config.compute.architecture = crate::config::Architecture::Arm64;
    let arm = desired(&config, &crate::model::example_facts(2)).unwrap();
    let plan = plan(&arm, &crate::model::as_deployed(&x86));
    assert_eq!(find(&plan, "task-definition").action, Action::Replace);
    assert_eq!(
        reasons(&plan, "task-definition"),
        ["architecture: X86_64 → ARM64 (forces replacement)"]
    );
}

/// Issue 26, item 5: what an instance runs is in the plan. A new image shows as the launch
/// template's `image` and as the user data's lines that change, in text and in JSON.
#[test]
fn an_ec2_plan_shows_the_image_and_the_user_data_lines_that_change() {
    let config = parse_environment(include_str!("../../environments/development.yaml"), "development").unwrap();
    let facts = crate::model::example_facts(2);
    let before = desired(&config, &facts).unwrap();
    let old_image = facts.pushed_image.clone().unwrap();
    let new_image = old_image.replace(&"e".repeat(64), &"f".repeat(64));
    let after = desired(
        &config,
        &crate::model::Facts {
            pushed_image: Some(new_image.clone()),
            ..facts
        },
    )
    .unwrap();
    let plan = plan(&after, &crate::model::as_deployed(&before));
    let text = console::strip_ansi_codes(&render_text(&plan)).into_owned();
    assert!(
        text.contains(&format!(
            "image: changed\n          - {old_image}\n          + {new_image}\n"
        )),
        "{text}"
    );
    assert!(text.contains("user_data: changed"), "{text}");
    assert!(text.contains(&format!("- docker pull '{old_image}'")), "{text}");
    assert!(text.contains(&format!("+ docker pull '{new_image}'")), "{text}");
    let json = render_json(&plan).to_string();
    assert!(
        json.contains(&format!("docker pull '{new_image}'")),
        "the JSON carries the script"
    );

    // A new launch template lists its script whole.
    let created = console::strip_ansi_codes(&render_text(&super::plan(&before, &[]))).into_owned();
    assert!(created.contains(&format!("| docker pull '{old_image}'")), "{created}");
}

#[test]
fn a_new_resource_names_what_it_points_at_as_aws_will_know_it() {
    let config = parse_environment(include_str!("../../environments/development.yaml"), "development").unwrap();
    let desired = desired(&config, &crate::model::example_facts(2)).unwrap();
    let text = console::strip_ansi_codes(&render_text(&plan(&desired, &[]))).into_owned();
    // A classic load balancer's name is deployer's: the alarm shows the value AWS gets.
    assert!(text.contains("LoadBalancerName=development-lb"), "{text}");
    assert!(!text.contains("LoadBalancerName=load-balancer"), "{text}");
    assert!(text.contains("classic_load_balancers = [development-lb]"), "{text}");
    // A VPC's id is AWS's, unknown until it exists.
    assert!(text.contains("vpc = vpc (known after apply)"), "{text}");

    // Once the VPC exists, a subnet created in it names it by its id.
    let observed: Vec<ObservedResource> = crate::model::as_deployed(&desired)
        .into_iter()
        .filter(|r| r.id.as_str() != "subnet-public-b")
        .collect();
    let text = console::strip_ansi_codes(&render_text(&plan(&desired, &observed))).into_owned();
    let subnet = text
        .split("+ subnet subnet-public-b")
        .nth(1)
        .expect("the subnet is created");
    assert!(subnet.contains("vpc = aws-vpc\n"), "{text}");
}
