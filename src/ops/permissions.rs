//! `deployer permissions`: the policies an operator of one environment needs, scoped to its
//! account, region and names.

use anyhow::Result;

use super::Session;
use crate::aws::{OperatorRole, PermissionScope, Permissions};

/// What `role` needs to run deployer on the session's environment. The account is the
/// caller's (STS, which needs no permission), so the policies are for this account.
pub async fn permissions(session: &Session, role: OperatorRole, account: Option<&str>) -> Result<Permissions> {
    let config = &session.file()?.config;
    // Bootstrap works on its own resources, named as if for an environment of that name.
    let environment = if role == OperatorRole::Bootstrap {
        crate::model::BOOTSTRAP
    } else {
        session.name()
    };
    let scope = PermissionScope {
        environment: environment.to_owned(),
        region: session.aws.region.clone(),
        account: match account {
            Some(account) if crate::config::is_account_id(account) => account.to_owned(),
            Some(other) => anyhow::bail!(
                "--account `{}` is not an AWS account id\n  help: give the 12 digits `aws sts get-caller-identity` prints as Account",
                crate::printable::printable_line(other)
            ),
            None => session.aws.sts.account_id().await?,
        },
        certificate: config
            .load_balancer
            .https
            .as_ref()
            .map(|https| https.certificate_arn.clone()),
        permissions_boundary: config.iam.permissions_boundary.clone(),
    };
    Ok(crate::aws::permissions(&scope, role))
}
