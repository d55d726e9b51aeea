//! The environment lock around apply and destroy: one deployer at a time per environment,
//! held in AWS (see `aws::Locks`), renewed while the command runs, released at its end, and
//! expiring on its own when a deployer is killed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::Session;
use crate::aws::{Acquired, Aws, LockHolder, Locks};

/// How long a lock lives without renewal. A killed deployer blocks its environment this long
/// at most; DEPLOYER_LOCK_TTL (seconds) changes it.
const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// A held lock; `release` it when the command ends.
pub struct EnvironmentLock {
    locks: Locks,
    environment: String,
    lock_id: String,
    renewer: tokio::task::JoinHandle<()>,
    lost: Arc<AtomicBool>,
}

fn ttl() -> Duration {
    std::env::var("DEPLOYER_LOCK_TTL")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&seconds: &u64| seconds > 0)
        .map_or(DEFAULT_TTL, Duration::from_secs)
}

/// `user@host`, as people recognise a colleague's machine.
pub(super) fn who() -> String {
    let user = ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into());
    format!("{user}@{host}")
}

/// Takes `environment`'s lock for `command` (e.g. `apply staging`), or fails at once naming
/// who holds it (`Session::lock`).
pub(super) async fn lock(aws: &Aws, environment: &str, command: &str) -> Result<EnvironmentLock> {
    let ttl = ttl();
    let holder = LockHolder::new(
        format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..)),
        who(),
        command.to_owned(),
        ttl,
    );
    let acquired = aws
        .locks
        .acquire(environment, &holder)
        .await
        .with_context(|| format!("could not take the lock on {environment}"))?;
    if let Acquired::HeldBy(other) = acquired {
        bail!(
            "{environment} is locked by {} ({}) since {}; the lock expires at {} unless its holder renews it\n  help: wait for that run to finish; if it was killed, `deployer unlock {environment}` breaks the lock",
            other.holder,
            other.command,
            other.started_at_text(),
            other.expires_at_text()
        );
    }
    let lost = Arc::new(AtomicBool::new(false));
    let renewer = tokio::spawn(renew(
        aws.locks.clone(),
        environment.to_owned(),
        holder.lock_id.clone(),
        ttl,
        lost.clone(),
    ));
    Ok(EnvironmentLock {
        locks: aws.locks.clone(),
        environment: environment.to_owned(),
        lock_id: holder.lock_id,
        renewer,
        lost,
    })
}

/// Pushes the expiry forward every third of the lock's life, so a long apply keeps it.
async fn renew(locks: Locks, environment: String, lock_id: String, ttl: Duration, lost: Arc<AtomicBool>) {
    loop {
        tokio::time::sleep(ttl / 3).await;
        match locks.renew(&environment, &lock_id, ttl).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!("the lock on {environment} was broken by someone else; finishing the steps under way");
                lost.store(true, Ordering::Relaxed);
                return;
            }
            // A renewal that fails is retried at the next tick, well before expiry.
            Err(error) => tracing::warn!("could not renew the lock on {environment}: {error}"),
        }
    }
}

impl EnvironmentLock {
    /// Gives the lock back, unless someone broke it meanwhile; says so in that case.
    pub async fn release(self) -> Result<()> {
        self.renewer.abort();
        let released = self.locks.release(&self.environment, &self.lock_id).await?;
        if !released || self.lost.load(Ordering::Relaxed) {
            bail!(
                "the lock on {} was broken while this run held it (`deployer unlock`): another run may have changed the environment meanwhile\n  help: run `deployer plan {}` to see where it stands",
                self.environment,
                self.environment
            );
        }
        Ok(())
    }
}

/// Who holds `environment`'s lock, for `unlock` to show before it asks.
pub async fn lock_holder(session: &Session) -> Result<Option<LockHolder>> {
    Ok(session.aws.locks.holder(session.name()).await?)
}

/// Breaks the lock `holder` describes, and only that one: a lock taken since is left alone.
pub async fn unlock(session: &Session, holder: &LockHolder) -> Result<bool> {
    Ok(session.aws.locks.release(session.name(), &holder.lock_id).await?)
}
