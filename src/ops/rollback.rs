//! `rollback`: run an earlier revision's image again, and hold the environment there (in AWS,
//! beside its lock) so that a later `apply` does not silently roll forward.

use anyhow::{Result, bail};

use super::Session;
use crate::aws::{Hold, Revision};

/// The revision to go back to: `to` (`staging-api:3`, or just `3`), or else the newest one
/// older than what runs.
pub fn rollback_target<'a>(revisions: &'a [Revision], to: Option<&str>) -> Result<&'a Revision> {
    let current = revisions.iter().position(|r| r.current);
    let target = match to {
        Some(to) => {
            let named = revisions
                .iter()
                .find(|r| r.revision == to || r.revision.rsplit(':').next() == Some(to));
            let Some(named) = named else {
                let known: Vec<&str> = revisions.iter().map(|r| r.revision.as_str()).collect();
                bail!(
                    "no revision {to} among the last {}: {}\n  help: `deployer history` lists them",
                    known.len(),
                    known.join(", ")
                );
            };
            if named.current {
                bail!(
                    "revision {} is what runs already; there is nothing to roll back",
                    named.revision
                );
            }
            named
        }
        None => {
            let older = current.map_or(revisions.get(1), |at| revisions.get(at + 1));
            let Some(older) = older else {
                bail!("there is no earlier revision to roll back to\n  help: `deployer history` lists the revisions");
            };
            older
        }
    };
    if target.image.is_empty() {
        bail!("revision {} names no image to run", target.revision);
    }
    Ok(target)
}

/// A rollback, in its order: hold the environment at `revision` first, then survey it (the
/// hold now supplies the image), for the caller to apply. A rollback that stops half-way
/// leaves the hold, so the next `deployer apply` finishes it instead of rolling forward.
pub async fn roll_back(session: &Session, revision: &Revision) -> Result<(super::Situation, crate::plan::Plan)> {
    hold(session, revision).await?;
    let situation = super::survey(session, None, false).await?;
    let plan = situation.plan();
    Ok((situation, plan))
}

/// Holds the environment at `revision`'s image.
async fn hold(session: &Session, revision: &Revision) -> Result<Hold> {
    let (aws, environment) = (&session.aws, session.name());
    // A hold names only an image of the environment's own repository by digest (what the next
    // apply trusts it for, see `survey`); an image from elsewhere is rolled back to by name.
    let repository = crate::model::repository_name(environment);
    let uri = aws.ecr.repository_uri(&repository).await?;
    if !uri
        .as_deref()
        .is_some_and(|uri| crate::config::is_digest_in(&revision.image, uri))
    {
        bail!(
            "revision {} runs {}, not an image of {environment}'s own repository by digest: a rollback holds only those\n  help: run it by name instead: `deployer apply {environment} --image {}` (and set app.image in the file to keep it there)",
            crate::printable::printable_line(&revision.revision),
            crate::printable::printable_line(&revision.image),
            crate::printable::printable_line(&revision.image)
        );
    }
    let hold = Hold::new(revision.image.clone(), revision.revision.clone(), super::lock::who());
    aws.locks.set_hold(environment, &hold).await?;
    Ok(hold)
}

/// Ends the environment's hold; the hold there was, if any.
pub async fn release(session: &Session) -> Result<Option<Hold>> {
    let (aws, environment) = (&session.aws, session.name());
    let hold = aws.locks.hold(environment).await?;
    aws.locks.release_hold(environment).await?;
    Ok(hold)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revisions() -> Vec<Revision> {
        [
            (3, "api@sha256:c", true),
            (2, "api@sha256:b", false),
            (1, "api@sha256:a", false),
        ]
        .into_iter()
        .map(|(n, image, current)| Revision {
            revision: format!("staging-api:{n}"),
            created_at: String::new(),
            created_by: None,
            image: image.into(),
            current,
        })
        .collect()
    }

    #[test]
    fn the_target_is_the_one_before_what_runs_or_the_one_named() {
        let revisions = revisions();
        assert_eq!(rollback_target(&revisions, None).unwrap().image, "api@sha256:b");
        assert_eq!(rollback_target(&revisions, Some("1")).unwrap().image, "api@sha256:a");
        assert_eq!(
            rollback_target(&revisions, Some("staging-api:2")).unwrap().image,
            "api@sha256:b"
        );
        let error = rollback_target(&revisions, Some("3")).unwrap_err().to_string();
        assert!(error.contains("is what runs already"), "{error}");
        let error = rollback_target(&revisions, Some("9")).unwrap_err().to_string();
        assert!(error.contains("staging-api:3, staging-api:2, staging-api:1"), "{error}");
        let error = rollback_target(&revisions[..1], None).unwrap_err().to_string();
        assert!(error.starts_with("there is no earlier revision"), "{error}");
    }
}
