//! The protection rule, for every command that deletes: a protected environment (`protect:
//! true`, or the `deployer:protect` tag when its file is gone) is never destroyed or replaced,
//! even in part, without `--allow-destroy`; a whole destroy of one asks for its name.

use anyhow::{Result, bail};

use super::Situation;
use crate::plan::Plan;

/// `apply` and `rollback`: refuses a plan that destroys or replaces anything in a protected
/// environment unless `allow_destroy`.
pub fn check_protection(situation: &Situation, plan: &Plan, allow_destroy: bool) -> Result<()> {
    if situation.config.protect && plan.destroys_anything() && !allow_destroy {
        bail!(
            "environment {} is protected (protect: true) and this plan destroys or replaces resources\n  help: review the plan above; to go ahead, re-run with --allow-destroy",
            situation.config.name
        );
    }
    Ok(())
}

/// What a destroy needs before it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    /// Given on the command line.
    Given,
    /// A yes to the question.
    Yes,
    /// The environment's name typed back: a protected environment destroyed interactively.
    Name,
}

/// `destroy`: `--auto-approve` alone destroys an unprotected environment; a protected one
/// also needs `--allow-destroy`, or its name typed back on a terminal.
pub fn destroy_consent(environment: &str, protected: bool, auto_approve: bool, allow_destroy: bool) -> Result<Consent> {
    match (protected, auto_approve, allow_destroy) {
        (true, true, true) | (false, true, _) => Ok(Consent::Given),
        (true, true, false) => bail!(
            "{environment} is protected: --auto-approve alone does not destroy it\n  help: add --allow-destroy, or run without --auto-approve on a terminal and type the environment's name"
        ),
        (true, false, _) => Ok(Consent::Name),
        (false, false, _) => Ok(Consent::Yes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_protected_environment_is_destroyed_only_by_name_or_with_allow_destroy() {
        assert_eq!(destroy_consent("prod", true, true, true).unwrap(), Consent::Given);
        assert!(
            destroy_consent("prod", true, true, false)
                .unwrap_err()
                .to_string()
                .contains("--allow-destroy")
        );
        assert_eq!(destroy_consent("prod", true, false, true).unwrap(), Consent::Name);
        assert_eq!(destroy_consent("dev", false, true, false).unwrap(), Consent::Given);
        assert_eq!(destroy_consent("dev", false, false, false).unwrap(), Consent::Yes);
    }
}
