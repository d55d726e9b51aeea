//! `deployer bootstrap`: the CI roles of GitHub Actions, planned and applied like an
//! environment (its resources tagged `deployer:environment=bootstrap`, found again by tag, so a
//! re-run changes nothing and `--destroy` removes exactly what it made).

use anyhow::{Context, Result, bail};

use super::{Execution, Session, Workspace, ensure_complete, run_plan};
use crate::apply::Reporter;
use crate::aws::{Aws, OperatorRole};
use crate::config::available_environments;
use crate::model::{
    BOOTSTRAP, BootstrapInput, CiPolicies, Desired, DesiredResource, GITHUB_OIDC_URL, Kind, ObservedResource, ci_role,
    desired_bootstrap, github_environment, iam_path,
};
use crate::plan::{Plan, plan};

/// One CI role: what to set as its GitHub environment's `AWS_ROLE_ARN`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CiRole {
    pub environment: String,
    /// `deploy` or `plan`.
    pub role: &'static str,
    pub github_environment: String,
    pub arn: String,
}

pub struct PreparedBootstrap {
    pub plan: Plan,
    pub region: String,
    pub roles: Vec<CiRole>,
    aws: Aws,
    observed: Vec<ObservedResource>,
}

/// `OWNER/REPO` as GitHub spells them: what a token's `sub` names.
fn check_repository(repository: &str) -> Result<()> {
    let part =
        |p: &str| !p.is_empty() && p.len() <= 100 && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    match repository.split_once('/') {
        Some((owner, name)) if part(owner) && part(name) => Ok(()),
        _ => bail!(
            "--github `{}` is not OWNER/REPO\n  help: name the repository whose Actions deploy, e.g. --github octo-org/api",
            crate::printable::printable_line(repository)
        ),
    }
}

/// The plan of the CI roles for `environments` (every environment file when empty) of
/// `repository`, or of their removal.
pub async fn prepare_bootstrap(
    workspace: &Workspace,
    repository: Option<&str>,
    environments: &[String],
    destroy: bool,
) -> Result<PreparedBootstrap> {
    if let Some(repository) = repository {
        check_repository(repository)?;
    }
    let environments = if environments.is_empty() {
        available_environments(&workspace.environments)?
    } else {
        environments.to_vec()
    };
    let mut sessions = Vec::new();
    for environment in &environments {
        sessions.push(Session::open(workspace, environment).await?);
    }
    let Some(first) = sessions.first() else {
        bail!(
            "no environment to bootstrap: {} holds no environment file\n  help: name environments, or point --environments at their directory",
            workspace.environments.display()
        );
    };
    let aws = first.aws.clone();
    if let Some(other) = sessions.iter().find(|s| s.aws.region != aws.region) {
        bail!(
            "{} is in {} and {} in {}: the CI roles' policies are for one region\n  help: bootstrap each region's environments separately, naming them",
            first.name(),
            aws.region,
            other.name(),
            other.aws.region
        );
    }
    let account = aws.sts.account_id().await?;
    let observed = aws
        .discover(BOOTSTRAP)
        .await
        .context("could not list what bootstrap made before")?;
    let mut ci = Vec::new();
    for session in &sessions {
        let account = account.as_str();
        let documents = |role| async move {
            let permissions = super::permissions(session, role, Some(account)).await?;
            Ok::<_, anyhow::Error>(
                permissions
                    .policies
                    .into_iter()
                    .map(|p| (p.name, p.document))
                    .collect::<Vec<_>>(),
            )
        };
        ci.push(CiPolicies {
            environment: session.name().to_owned(),
            deploy: documents(OperatorRole::Deploy).await?,
            plan: documents(OperatorRole::Plan).await?,
        });
    }
    let ours = observed.iter().any(|r| r.spec.kind() == Kind::IamOidcProvider);
    let existing_provider = if ours {
        None
    } else {
        aws.iam.oidc_provider_for(GITHUB_OIDC_URL).await?
    };
    let desired = match (destroy, repository) {
        (false, Some(repository)) => desired_bootstrap(&BootstrapInput {
            repository,
            account: &account,
            region: &aws.region,
            existing_provider,
            environments: &ci,
        }),
        (false, None) => bail!("bootstrap needs --github OWNER/REPO (or --destroy)"),
        (true, _) => {
            // The identity provider is the account's: it stays while another region's
            // bootstrap roles trust it.
            let mut kept = Desired {
                environment: BOOTSTRAP.to_owned(),
                resources: Default::default(),
            };
            let provider = observed.iter().find(|r| r.spec.kind() == Kind::IamOidcProvider);
            if let Some(provider) = provider
                && !aws.iam.bootstrap_roles_elsewhere().await?.is_empty()
            {
                kept.resources.insert(
                    provider.id.clone(),
                    DesiredResource {
                        spec: provider.spec.clone(),
                        tags: provider.tags.clone(),
                        after: Default::default(),
                    },
                );
            }
            kept
        }
    };
    let roles = if destroy {
        Vec::new()
    } else {
        environments
            .iter()
            .flat_map(|environment| {
                ["deploy", "plan"].map(|role| CiRole {
                    environment: environment.clone(),
                    role,
                    github_environment: github_environment(environment, role),
                    arn: format!(
                        "arn:aws:iam::{account}:role{}{}",
                        iam_path(BOOTSTRAP, &aws.region),
                        ci_role(&aws.region, environment, role)
                    ),
                })
            })
            .collect()
    };
    Ok(PreparedBootstrap {
        plan: plan(&desired, &observed),
        region: aws.region.clone(),
        roles,
        aws,
        observed,
    })
}

pub async fn bootstrap(prepared: &PreparedBootstrap, execution: &Execution, reporter: &dyn Reporter) -> Result<()> {
    let outcome = run_plan(&prepared.aws, &prepared.plan, &prepared.observed, execution, reporter).await?;
    ensure_complete(&outcome, "bootstrap", BOOTSTRAP)
}
