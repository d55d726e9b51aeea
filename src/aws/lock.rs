//! Environment locks, kept in AWS itself: one DynamoDB item per environment in the table
//! `deployer-locks`, written only with a condition, so two deployers can never both hold one.
//! The same table keeps rollback holds (`<env>#hold`): which image an environment is held at.
//! DynamoDB rather than an SSM parameter: a lock that expired must be taken over, and renewed
//! or released only by its holder, and DynamoDB's condition expressions do each of those in
//! one atomic write; SSM can only refuse to overwrite, so taking over a stale lock would race.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
};

use super::error::{AwsError, Classify};

/// The table, created on first use in each account and region (pay per request: a lock costs
/// nothing while unused).
pub const LOCK_TABLE: &str = "deployer-locks";

#[derive(Debug, Clone)]
pub struct Locks {
    client: Client,
}

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

fn rfc3339(seconds: u64) -> String {
    let time = aws_smithy_types::DateTime::from_secs(i64::try_from(seconds).unwrap_or(i64::MAX));
    time.fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_else(|_| seconds.to_string())
}

/// An environment held at an older image by `rollback`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Hold {
    pub image: String,
    /// The revision it came from (`staging-api:3`, a launch template version).
    pub revision: String,
    /// `user@host`.
    pub by: String,
    /// Unix seconds.
    pub since: u64,
}

impl Hold {
    pub fn new(image: String, revision: String, by: String) -> Self {
        Self {
            image,
            revision,
            by,
            since: now(),
        }
    }

    pub fn since_text(&self) -> String {
        rfc3339(self.since)
    }
}

/// The hold's item, beside the environment's lock item in the same table.
fn hold_key(environment: &str) -> String {
    format!("{environment}#hold")
}

/// Whether an acquisition got the lock.
pub enum Acquired {
    Yes,
    HeldBy(LockHolder),
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn string(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn conditional_failed(error: &AwsError) -> bool {
    error.code() == Some("ConditionalCheckFailedException")
}

impl Locks {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: crate::aws::classifier::client!(aws_sdk_dynamodb, config),
        }
    }

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

    /// Holds `environment` at `hold`'s image (what `rollback` went back to): apply keeps
    /// running it until the hold is released. Stored beside the lock, so a colleague's
    /// deployer sees it too.
    pub async fn set_hold(&self, environment: &str, hold: &Hold) -> Result<(), AwsError> {
        self.ensure_table().await?;
        let item = HashMap::from([
            ("environment".to_owned(), string(hold_key(environment))),
            ("image".to_owned(), string(&hold.image)),
            ("revision".to_owned(), string(&hold.revision)),
            ("holder".to_owned(), string(&hold.by)),
            ("started_at".to_owned(), number(hold.since)),
        ]);
        self.client
            .put_item()
            .table_name(LOCK_TABLE)
            .set_item(Some(item))
            .send()
            .await
            .op("PutItem")
            .map(drop)
    }

    /// The hold on `environment`, if there is one.
    pub async fn hold(&self, environment: &str) -> Result<Option<Hold>, AwsError> {
        Ok(self.item(&hold_key(environment)).await?.map(|item| {
            let text = |key: &str| item.get(key).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            Hold {
                image: text("image"),
                revision: text("revision"),
                by: text("holder"),
                since: item
                    .get("started_at")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0),
            }
        }))
    }

    /// Ends the hold on `environment`; true when there was one.
    pub async fn release_hold(&self, environment: &str) -> Result<bool, AwsError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(LOCK_TABLE)
            .key("environment", string(hold_key(environment)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .op("DeleteItem");
        match deleted {
            Ok(output) => Ok(output.attributes().is_some()),
            Err(error) if error.code() == Some("ResourceNotFoundException") => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// The item under `key`, read consistently; none when it or the table does not exist.
    async fn item(&self, key: &str) -> Result<Option<HashMap<String, AttributeValue>>, AwsError> {
        let got = self
            .client
            .get_item()
            .table_name(LOCK_TABLE)
            .key("environment", string(key))
            .consistent_read(true)
            .send()
            .await
            .op("GetItem");
        match got {
            Ok(output) => Ok(output.item),
            Err(error) if error.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Creates the table unless it exists, and waits until it takes writes.
    async fn ensure_table(&self) -> Result<(), AwsError> {
        let described = self
            .client
            .describe_table()
            .table_name(LOCK_TABLE)
            .send()
            .await
            .op("DescribeTable");
        match described {
            Ok(output) if output.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) => return Ok(()),
            Ok(_) => {}
            Err(error) if error.code() == Some("ResourceNotFoundException") => {
                let created = self
                    .client
                    .create_table()
                    .table_name(LOCK_TABLE)
                    .billing_mode(BillingMode::PayPerRequest)
                    .attribute_definitions(
                        AttributeDefinition::builder()
                            .attribute_name("environment")
                            .attribute_type(ScalarAttributeType::S)
                            .build()
                            .map_err(|e| AwsError::unbuilt("CreateTable", e))?,
                    )
                    .key_schema(
                        KeySchemaElement::builder()
                            .attribute_name("environment")
                            .key_type(KeyType::Hash)
                            .build()
                            .map_err(|e| AwsError::unbuilt("CreateTable", e))?,
                    )
                    .send()
                    .await
                    .op("CreateTable");
                match created {
                    // Another deployer created it at the same moment.
                    Err(error) if error.code() == Some("ResourceInUseException") => {}
                    other => drop(other?),
                }
            }
            Err(error) => return Err(error),
        }
        // Seconds on real AWS, once per account and region.
        let started = std::time::Instant::now();
        loop {
            let output = self
                .client
                .describe_table()
                .table_name(LOCK_TABLE)
                .send()
                .await
                .op("DescribeTable")?;
            if output.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                return Ok(());
            }
            if started.elapsed() > TABLE_TIMEOUT {
                return Err(AwsError::WaitTimeout {
                    what: format!("the lock table {LOCK_TABLE} to become active"),
                    last_seen: output
                        .table()
                        .and_then(|t| t.table_status())
                        .map_or_else(|| "absent".to_owned(), |s| s.as_str().to_owned()),
                    waited: TABLE_TIMEOUT,
                    kind: None,
                });
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

const TABLE_TIMEOUT: Duration = Duration::from_secs(120);
