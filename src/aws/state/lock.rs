//! Environment locks, kept in AWS itself: one DynamoDB item per environment in the table
//! `deployer-locks`, written only with a condition, so two deployers can never both hold one.

use std::collections::HashMap;
use std::time::Duration;

use super::*;

/// Who holds a lock, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    /// Random, per acquisition: what renew, release and unlock compare.
    pub lock_id: String,
    /// `user@host`.
    pub holder: String,
    /// e.g. `apply staging`.
    pub command: String,
    /// Unix seconds.
    pub started_at: u64,
    pub expires_at: u64,
}

impl LockHolder {
    /// A lock for `command`, starting now and living `ttl` unless renewed.
    pub fn new(lock_id: String, holder: String, command: String, ttl: Duration) -> Self {
        let started_at = now();
        Self {
            lock_id,
            holder,
            command,
            started_at,
            expires_at: started_at + ttl.as_secs(),
        }
    }

    pub fn started_at_text(&self) -> String {
        rfc3339(self.started_at)
    }

    pub fn expires_at_text(&self) -> String {
        rfc3339(self.expires_at)
    }
}

/// Whether an acquisition got the lock.
pub enum Acquired {
    Yes,
    HeldBy(LockHolder),
}

impl Locks {
    /// Takes the lock on `environment` unless someone else holds it and it has not expired.
    pub async fn acquire(&self, environment: &str, holder: &LockHolder) -> Result<Acquired, AwsError> {
        self.ensure_table().await?;
        let item = HashMap::from([
            ("environment".to_owned(), string(environment)),
            ("lock_id".to_owned(), string(&holder.lock_id)),
            ("holder".to_owned(), string(&holder.holder)),
            ("command".to_owned(), string(&holder.command)),
            ("started_at".to_owned(), number(holder.started_at)),
            ("expires_at".to_owned(), number(holder.expires_at)),
        ]);
        let put = self
            .client
            .put_item()
            .table_name(LOCK_TABLE)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(environment) OR expires_at < :now")
            .expression_attribute_values(":now", number(now()))
            .send()
            .await
            .op("PutItem");
        match put {
            Ok(_) => Ok(Acquired::Yes),
            Err(error) if conditional_failed(&error) => match self.holder(environment).await? {
                Some(current) => Ok(Acquired::HeldBy(current)),
                // Released between our write and our read: try once more.
                None => Box::pin(self.acquire(environment, holder)).await,
            },
            Err(error) => Err(error),
        }
    }

    /// Makes our lock live `ttl` from now; false when it is no longer ours (broken or taken over).
    pub async fn renew(&self, environment: &str, lock_id: &str, ttl: Duration) -> Result<bool, AwsError> {
        let expires_at = now() + ttl.as_secs();
        let update = self
            .client
            .update_item()
            .table_name(LOCK_TABLE)
            .key("environment", string(environment))
            .update_expression("SET expires_at = :expires")
            .condition_expression("lock_id = :mine")
            .expression_attribute_values(":expires", number(expires_at))
            .expression_attribute_values(":mine", string(lock_id))
            .send()
            .await
            .op("UpdateItem");
        match update {
            Ok(_) => Ok(true),
            Err(error) if conditional_failed(&error) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Removes the lock if it is still `lock_id`'s; a lock someone else took is left alone.
    pub async fn release(&self, environment: &str, lock_id: &str) -> Result<bool, AwsError> {
        let delete = self
            .client
            .delete_item()
            .table_name(LOCK_TABLE)
            .key("environment", string(environment))
            .condition_expression("lock_id = :mine")
            .expression_attribute_values(":mine", string(lock_id))
            .send()
            .await
            .op("DeleteItem");
        match delete {
            Ok(_) => Ok(true),
            Err(error) if conditional_failed(&error) || error.code() == Some("ResourceNotFoundException") => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// The lock on `environment`, expired or not.
    pub async fn holder(&self, environment: &str) -> Result<Option<LockHolder>, AwsError> {
        Ok(self.item(environment).await?.map(|item| {
            let text = |key: &str| item.get(key).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            let number = |key: &str| {
                item.get(key)
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0)
            };
            LockHolder {
                lock_id: text("lock_id"),
                holder: text("holder"),
                command: text("command"),
                started_at: number("started_at"),
                expires_at: number("expires_at"),
            }
        }))
    }
}
