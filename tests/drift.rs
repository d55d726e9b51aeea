//! Issue 26, item 3: drift that grants access is drift. A second trust statement for another
//! account and a second inline policy `*:*` on a role, a managed policy attached to another, a
//! repository policy open to `*` and a topic policy letting anyone publish, each made behind
//! deployer's back, are planned as changes naming what differs, and apply puts every one back.

use std::path::Path;

use crate::support::{Deployer, Moto, block_on, edit_environment, iam_document};

const ROLE: &str = "staging-us-east-1-task";
const EXECUTION_ROLE: &str = "staging-us-east-1-execution";
const REPOSITORY: &str = "deployer/staging/api";
const ATTACKER: &str = "999999999999";

fn deployer(moto: &Moto, dir: &Path) -> Deployer {
    Deployer::new(moto).environments(dir)
}

fn iam(moto: &Moto) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&moto.sdk_config())
}

fn trust_policy(moto: &Moto) -> serde_json::Value {
    block_on(async {
        let role = iam(moto).get_role().role_name(ROLE).send().await.unwrap();
        iam_document(role.role().unwrap().assume_role_policy_document().unwrap())
    })
}

fn inline_policies(moto: &Moto) -> Vec<String> {
    block_on(async {
        let listed = iam(moto).list_role_policies().role_name(ROLE).send().await.unwrap();
        listed.policy_names().to_vec()
    })
}

fn attached_policies(moto: &Moto) -> Vec<String> {
    block_on(async {
        let listed = iam(moto)
            .list_attached_role_policies()
            .role_name(EXECUTION_ROLE)
            .send()
            .await
            .unwrap();
        listed
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_owned))
            .collect()
    })
}

fn repository_policy(moto: &Moto) -> Option<String> {
    block_on(async {
        let ecr = aws_sdk_ecr::Client::new(&moto.sdk_config());
        match ecr.get_repository_policy().repository_name(REPOSITORY).send().await {
            Ok(output) => output.policy_text().map(str::to_owned),
            Err(error) => {
                assert_eq!(
                    error.as_service_error().and_then(|e| e.meta().code()),
                    Some("RepositoryPolicyNotFoundException"),
                    "{error:?}"
                );
                None
            }
        }
    })
}

fn topic_arn(moto: &Moto) -> String {
    block_on(async {
        let sns = aws_sdk_sns::Client::new(&moto.sdk_config());
        let topics = sns.list_topics().send().await.unwrap();
        topics
            .topics()
            .iter()
            .filter_map(|t| t.topic_arn())
            .find(|arn| arn.ends_with(":staging-alarms"))
            .unwrap()
            .to_owned()
    })
}

fn topic_policy(moto: &Moto, topic: &str) -> serde_json::Value {
    block_on(async {
        let sns = aws_sdk_sns::Client::new(&moto.sdk_config());
        let attributes = sns.get_topic_attributes().topic_arn(topic).send().await.unwrap();
        serde_json::from_str(&attributes.attributes().unwrap()["Policy"]).unwrap()
    })
}

/// Widens the task role's trust to another account, adds a `*:*` inline policy beside
/// deployer's, attaches a `*:*` managed policy to the execution role, opens the repository to
/// everyone and lets anyone publish to the alarm topic.
fn tamper(moto: &Moto, topic: &str) {
    let mut trust = trust_policy(moto);
    trust["Statement"].as_array_mut().unwrap().push(serde_json::json!({
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ATTACKER}:root")},
        "Action": "sts:AssumeRole"
    }));
    let everything = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
    });
    let open_repository = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "everyone",
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:PutImage"]
        }]
    });
    let open_topic = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "anyone",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "sns:Publish",
            "Resource": topic
        }]
    });
    let config = moto.sdk_config();
    block_on(async {
        let iam = aws_sdk_iam::Client::new(&config);
        iam.update_assume_role_policy()
            .role_name(ROLE)
            .policy_document(trust.to_string())
            .send()
            .await
            .unwrap();
        iam.put_role_policy()
            .role_name(ROLE)
            .policy_name("backdoor")
            .policy_document(everything.to_string())
            .send()
            .await
            .unwrap();
        let admin = iam
            .create_policy()
            .policy_name("admin")
            .policy_document(everything.to_string())
            .send()
            .await
            .unwrap();
        iam.attach_role_policy()
            .role_name(EXECUTION_ROLE)
            .policy_arn(admin.policy().unwrap().arn().unwrap())
            .send()
            .await
            .unwrap();
        aws_sdk_ecr::Client::new(&config)
            .set_repository_policy()
            .repository_name(REPOSITORY)
            .policy_text(open_repository.to_string())
            .send()
            .await
            .unwrap();
        aws_sdk_sns::Client::new(&config)
            .set_topic_attributes()
            .topic_arn(topic)
            .attribute_name("Policy")
            .attribute_value(open_topic.to_string())
            .send()
            .await
            .unwrap();
    });
}

/// The attributes each update of the plan names, by logical id.
fn changed_attributes(plan: &serde_json::Value) -> Vec<(String, String)> {
    let mut changed = Vec::new();
    for change in plan["changes"].as_array().unwrap() {
        assert_eq!(change["action"], "update", "{change:#}");
        for reason in change["reasons"].as_array().unwrap() {
            let attribute = reason["attribute"].as_str().unwrap_or_default();
            changed.push((change["id"].as_str().unwrap().to_owned(), attribute.to_owned()));
        }
    }
    changed.sort();
    changed
}

#[test]
fn a_widened_trust_extra_inline_policy_open_repository_and_open_topic_are_planned_and_put_back() {
    let moto = Moto::start_with_tasks(2);
    let dir = moto.environments_copy();
    edit_environment(
        dir.path(),
        "staging",
        "alarms: {}",
        "alarms:\n  email: oncall@example.com",
    );
    deployer(&moto, dir.path())
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);

    // As created: trusted by ECS tasks of this account (and region) only; the task role reads
    // and never moves targets (ECS owns the IP target group's registrations).
    let trust = trust_policy(&moto);
    let statements = trust["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1, "{trust:#}");
    assert_eq!(statements[0]["Principal"]["Service"], "ecs-tasks.amazonaws.com");
    assert_eq!(
        statements[0]["Condition"]["StringEquals"]["aws:SourceAccount"], "123456789012",
        "{trust:#}"
    );
    assert_eq!(
        statements[0]["Condition"]["ArnLike"]["aws:SourceArn"], "arn:aws:ecs:us-east-1:123456789012:*",
        "{trust:#}"
    );
    assert_eq!(inline_policies(&moto), ["deployer"]);
    assert!(attached_policies(&moto).is_empty());
    assert_eq!(repository_policy(&moto), None);
    let topic = topic_arn(&moto);
    let policy = topic_policy(&moto, &topic);
    let publishers: Vec<&serde_json::Value> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Action"].to_string().contains("sns:Publish"))
        .collect();
    assert_eq!(publishers.len(), 1, "{policy:#}");
    assert_eq!(
        publishers[0]["Principal"]["Service"], "cloudwatch.amazonaws.com",
        "{policy:#}"
    );

    tamper(&moto, &topic);
    let text = deployer(&moto, dir.path())
        .args(["plan", "staging", "--detailed-exitcode"])
        .run()
        .expect_status(2)
        .stdout;
    for expected in [
        "~ iam_role task-role",
        ATTACKER,
        "backdoor",
        "~ iam_role execution-role",
        "managed_policies: - arn:aws:iam::123456789012:policy/admin",
        "~ ecr_repository repository",
        "ecr:PutImage",
        "~ alarm_topic alarm-topic",
    ] {
        assert!(text.contains(expected), "the plan does not show `{expected}`:\n{text}");
    }
    let plan: serde_json::Value = serde_json::from_str(
        &deployer(&moto, dir.path())
            .args(["plan", "staging", "--json"])
            .run()
            .expect_status(0)
            .stdout,
    )
    .unwrap();
    let changed = changed_attributes(&plan);
    let expected: Vec<(String, String)> = [
        ("alarm-topic", "policy"),
        ("execution-role", "managed_policies"),
        ("repository", "policy"),
        ("task-role", "other_inline_policies"),
        ("task-role", "trust_policy"),
    ]
    .iter()
    .map(|(id, attribute)| ((*id).to_owned(), (*attribute).to_owned()))
    .collect();
    assert_eq!(changed, expected, "{plan:#}");

    deployer(&moto, dir.path())
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    let again = deployer(&moto, dir.path())
        .args(["plan", "staging", "--detailed-exitcode"])
        .run()
        .expect_status(0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
    assert_eq!(trust_policy(&moto), trust);
    assert_eq!(inline_policies(&moto), ["deployer"]);
    assert!(attached_policies(&moto).is_empty());
    assert_eq!(repository_policy(&moto), None);
    assert_eq!(topic_policy(&moto, &topic), policy);
}
