//! `deployer bootstrap`'s resources: GitHub Actions' identity provider (unless the account
//! has one already) and, per environment, a deploy role and a plan role that GitHub's tokens
//! for that environment may assume, each holding its policies as managed policies.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::spec::{ManagedPolicySpec, OidcProviderSpec, Ref, RoleSpec, Spec};
use crate::model::{Desired, DesiredResource, Id, names, tags_for};

/// What the CI roles of one environment hold: each role's policy documents, named.
pub struct CiPolicies {
    pub environment: String,
    pub deploy: Vec<(String, serde_json::Value)>,
    pub plan: Vec<(String, serde_json::Value)>,
}

/// Where the bootstrap happens and for which repository.
pub struct BootstrapInput<'a> {
    /// `OWNER/REPO`.
    pub repository: &'a str,
    pub account: &'a str,
    pub region: &'a str,
    /// The account's GitHub provider when deployer did not make it: used, never managed.
    pub existing_provider: Option<String>,
    pub environments: &'a [CiPolicies],
}

/// GitHub's audience for AWS.
const AUDIENCE: &str = "sts.amazonaws.com";
const PROVIDER_ID: &str = "github-oidc-provider";

/// The GitHub environment a role is for: `ENV` deploys, `plan-ENV` plans.
pub fn github_environment(environment: &str, role: &str) -> String {
    if role == "plan" {
        format!("plan-{environment}")
    } else {
        environment.to_owned()
    }
}

/// Trusts only tokens GitHub issues to `repository`'s jobs running in `github_environment`.
fn trust_policy(provider: &str, repository: &str, github_environment: &str) -> String {
    let issuer = names::GITHUB_OIDC_URL.trim_start_matches("https://");
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Federated": provider },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": { "StringEquals": {
                format!("{issuer}:aud"): AUDIENCE,
                format!("{issuer}:sub"): format!("repo:{repository}:environment:{github_environment}"),
            } },
        }],
    })
    .to_string()
}

pub fn desired_bootstrap(input: &BootstrapInput<'_>) -> Desired {
    let mut specs: BTreeMap<Id, Spec> = BTreeMap::new();
    let issuer = names::GITHUB_OIDC_URL.trim_start_matches("https://");
    let provider_arn = match &input.existing_provider {
        Some(arn) => arn.clone(),
        None => {
            specs.insert(
                Id::from(PROVIDER_ID),
                Spec::IamOidcProvider(OidcProviderSpec {
                    url: names::GITHUB_OIDC_URL.to_owned(),
                    audiences: BTreeSet::from([AUDIENCE.to_owned()]),
                }),
            );
            format!("arn:aws:iam::{}:oidc-provider/{issuer}", input.account)
        }
    };
    let path = names::iam_path(names::BOOTSTRAP, input.region);
    for ci in input.environments {
        for (role, documents) in [("deploy", &ci.deploy), ("plan", &ci.plan)] {
            let mut attached = BTreeSet::new();
            for (name, document) in documents {
                let id = format!("policy-{name}");
                specs.insert(
                    Id::new(id.clone()),
                    Spec::IamPolicy(ManagedPolicySpec {
                        name: names::ci_policy(name, input.region),
                        path: path.clone(),
                        document: document.to_string(),
                    }),
                );
                attached.insert(Ref::to(&id));
            }
            specs.insert(
                Id::new(format!("role-{}-{role}", ci.environment)),
                Spec::IamRole(RoleSpec {
                    name: names::ci_role(input.region, &ci.environment, role),
                    path: path.clone(),
                    trust_policy: trust_policy(
                        &provider_arn,
                        input.repository,
                        &github_environment(&ci.environment, role),
                    ),
                    managed_policies: attached,
                    permissions_boundary: None,
                    inline_policy: String::new(),
                    other_inline_policies: BTreeMap::new(),
                }),
            );
        }
    }
    let resources = specs
        .into_iter()
        .map(|(id, spec)| {
            let tags = tags_for(names::BOOTSTRAP, &id, &spec, &BTreeMap::new());
            let resource = DesiredResource {
                spec,
                tags,
                after: BTreeSet::new(),
            };
            (id, resource)
        })
        .collect();
    Desired {
        environment: names::BOOTSTRAP.to_owned(),
        resources,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(existing_provider: Option<String>, environments: &[CiPolicies]) -> BootstrapInput<'_> {
        BootstrapInput {
            repository: "octo/api",
            account: "123456789012",
            region: "us-east-1",
            existing_provider,
            environments,
        }
    }

    #[test]
    fn each_environment_gets_a_deploy_and_a_plan_role_trusted_for_its_github_environment_only() {
        let environments = [CiPolicies {
            environment: "staging".to_owned(),
            deploy: vec![
                (
                    "deployer-staging-deploy-1".to_owned(),
                    serde_json::json!({"Statement": []}),
                ),
                (
                    "deployer-staging-deploy-2".to_owned(),
                    serde_json::json!({"Statement": []}),
                ),
            ],
            plan: vec![("deployer-staging-plan".to_owned(), serde_json::json!({"Statement": []}))],
        }];
        let desired = desired_bootstrap(&input(None, &environments));
        assert_eq!(desired.resources.len(), 1 + 3 + 2);
        let Spec::IamRole(plan) = &desired.resources[&Id::from("role-staging-plan")].spec else {
            panic!("not a role");
        };
        assert_eq!(plan.name, "bootstrap-us-east-1-staging-plan");
        assert_eq!(plan.path, "/deployer/bootstrap/us-east-1/");
        assert_eq!(
            plan.managed_policies,
            BTreeSet::from([Ref::to("policy-deployer-staging-plan")])
        );
        let trust: serde_json::Value = serde_json::from_str(&plan.trust_policy).unwrap();
        let condition = &trust["Statement"][0]["Condition"]["StringEquals"];
        assert_eq!(
            condition["token.actions.githubusercontent.com:sub"],
            "repo:octo/api:environment:plan-staging"
        );
        assert_eq!(
            condition["token.actions.githubusercontent.com:aud"],
            "sts.amazonaws.com"
        );
        assert_eq!(
            trust["Statement"][0]["Principal"]["Federated"],
            "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
        );
        let tags = &desired.resources[&Id::from("role-staging-deploy")].tags;
        assert_eq!(tags["deployer:environment"], "bootstrap");
    }

    #[test]
    fn an_account_that_has_githubs_provider_keeps_it_and_the_roles_trust_it() {
        let existing = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com";
        let desired = desired_bootstrap(&input(Some(existing.to_owned()), &[]));
        assert!(desired.resources.is_empty());
    }
}
