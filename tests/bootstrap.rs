//! `deployer bootstrap`: GitHub's identity provider and six CI roles, found again by tag.

use crate::support::{Deployer, Moto, block_on, iam_document};

/// The roles under bootstrap's path: name → (trust policy, attached policy ARNs).
fn ci_roles(moto: &Moto) -> Vec<(String, serde_json::Value, Vec<String>)> {
    block_on(async {
        let iam = aws_sdk_iam::Client::new(&moto.sdk_config());
        let listed = iam
            .list_roles()
            .path_prefix("/deployer/bootstrap/")
            .send()
            .await
            .unwrap();
        let mut roles = Vec::new();
        for role in listed.roles() {
            let trust = iam_document(role.assume_role_policy_document().unwrap());
            let attached = iam
                .list_attached_role_policies()
                .role_name(role.role_name())
                .send()
                .await
                .unwrap();
            let arns = attached
                .attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_owned))
                .collect();
            roles.push((role.role_name().to_owned(), trust, arns));
        }
        roles.sort_by(|a, b| a.0.cmp(&b.0));
        roles
    })
}

fn providers(moto: &Moto) -> Vec<String> {
    block_on(async {
        let iam = aws_sdk_iam::Client::new(&moto.sdk_config());
        let listed = iam.list_open_id_connect_providers().send().await.unwrap();
        listed
            .open_id_connect_provider_list()
            .iter()
            .filter_map(|p| p.arn().map(str::to_owned))
            .collect()
    })
}

#[test]
fn bootstrap_makes_the_provider_and_six_roles_changes_nothing_again_and_removes_only_its_own() {
    let moto = Moto::start();
    // Someone else's role and policy, which bootstrap must leave alone.
    block_on(async {
        let iam = aws_sdk_iam::Client::new(&moto.sdk_config());
        iam.create_role()
            .role_name("someone-else")
            .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
            .send()
            .await
            .unwrap();
    });

    let made = Deployer::new(&moto)
        .args(["bootstrap", "--github", "octo/api", "--auto-approve"])
        .run()
        .expect_status(0);
    assert!(made.stdout.contains("AWS_ROLE_ARN=arn:aws:iam::123456789012:role/deployer/bootstrap/us-east-1/bootstrap-us-east-1-production-deploy"), "{}", made.stdout);
    assert_eq!(
        providers(&moto),
        ["arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"]
    );
    let roles = ci_roles(&moto);
    let names: Vec<&str> = roles.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "bootstrap-us-east-1-development-deploy",
            "bootstrap-us-east-1-development-plan",
            "bootstrap-us-east-1-production-deploy",
            "bootstrap-us-east-1-production-plan",
            "bootstrap-us-east-1-staging-deploy",
            "bootstrap-us-east-1-staging-plan",
        ]
    );
    for (name, trust, attached) in &roles {
        let (environment, role) = name
            .trim_start_matches("bootstrap-us-east-1-")
            .rsplit_once('-')
            .unwrap();
        let subject = if role == "plan" {
            format!("repo:octo/api:environment:plan-{environment}")
        } else {
            format!("repo:octo/api:environment:{environment}")
        };
        let statements = trust["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 1, "{name}: {trust}");
        let condition = &statements[0]["Condition"]["StringEquals"];
        assert_eq!(condition["token.actions.githubusercontent.com:sub"], subject, "{name}");
        assert_eq!(
            condition["token.actions.githubusercontent.com:aud"], "sts.amazonaws.com",
            "{name}"
        );
        assert_eq!(statements[0]["Action"], "sts:AssumeRoleWithWebIdentity");
        assert!(!attached.is_empty(), "{name} holds no policy");
        assert!(
            attached
                .iter()
                .all(|arn| arn.contains(&format!("deployer-{environment}-{role}"))),
            "{name}: {attached:?}"
        );
    }

    let again = Deployer::new(&moto)
        .args(["bootstrap", "--github", "octo/api", "--auto-approve"])
        .run()
        .expect_status(0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);

    Deployer::new(&moto)
        .args(["bootstrap", "--destroy", "--auto-approve"])
        .run()
        .expect_status(0);
    assert!(ci_roles(&moto).is_empty());
    assert!(providers(&moto).is_empty());
    let left = block_on(async {
        let iam = aws_sdk_iam::Client::new(&moto.sdk_config());
        let policies = iam
            .list_policies()
            .scope(aws_sdk_iam::types::PolicyScopeType::Local)
            .send()
            .await
            .unwrap();
        let roles = iam.list_roles().send().await.unwrap();
        (
            policies.policies().len(),
            roles
                .roles()
                .iter()
                .map(|r| r.role_name().to_owned())
                .collect::<Vec<_>>(),
        )
    });
    assert_eq!(left, (0, vec!["someone-else".to_owned()]));
}

#[test]
fn an_account_with_githubs_provider_keeps_it_and_the_roles_trust_it() {
    // Run as an administrator holding only what `permissions --for bootstrap` prints.
    let mut moto = Moto::start();
    moto.enforce();
    let administrator = moto.operator("staging", "bootstrap");
    let theirs = block_on(async {
        let iam = aws_sdk_iam::Client::new(&moto.sdk_config());
        iam.create_open_id_connect_provider()
            .url("https://token.actions.githubusercontent.com")
            .client_id_list("sts.amazonaws.com")
            .thumbprint_list("6938fd4d98bab03faadb97b34396831e3780aea1")
            .send()
            .await
            .unwrap()
            .open_id_connect_provider_arn()
            .unwrap()
            .to_owned()
    });
    Deployer::new(&moto)
        .signed_by(&administrator)
        .args(["bootstrap", "--github", "octo/api", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    let roles = ci_roles(&moto);
    assert_eq!(roles.len(), 2);
    assert_eq!(roles[0].1["Statement"][0]["Principal"]["Federated"], theirs.as_str());
    Deployer::new(&moto)
        .signed_by(&administrator)
        .args(["bootstrap", "--destroy", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    assert_eq!(providers(&moto), [theirs]);
    assert!(ci_roles(&moto).is_empty());
}

#[test]
fn the_provider_stays_while_another_regions_roles_trust_it() {
    let moto = Moto::start();
    let bootstrap = |region: &str, args: &[&str]| {
        Deployer::new(&moto)
            .args(["--region", region, "bootstrap"])
            .args(args)
            .args(["staging", "--auto-approve"])
            .run()
            .expect_status(0);
    };
    for region in ["us-east-1", "us-west-2"] {
        bootstrap(region, &["--github", "octo/api"]);
    }
    assert_eq!(ci_roles(&moto).len(), 4);
    assert_eq!(providers(&moto).len(), 1);
    bootstrap("us-west-2", &["--destroy"]);
    // us-east-1's roles still trust it.
    assert_eq!(ci_roles(&moto).len(), 2);
    assert_eq!(providers(&moto).len(), 1);
    bootstrap("us-east-1", &["--destroy"]);
    assert!(ci_roles(&moto).is_empty());
    assert!(providers(&moto).is_empty());
}
