//! deployer's own state in AWS, beside the service adapters: one DynamoDB table,
//! `deployer-locks`, holds each environment's lock (`lock.rs`) and its rollback hold
//! (`hold.rs`, item `<env>#hold`), each written only with a condition, so two deployers can
//! never both hold one lock. DynamoDB rather than an SSM parameter: a lock that expired must
//! be taken over, and renewed or released only by its holder, and DynamoDB's condition
//! expressions do each of those in one atomic write; SSM can only refuse to overwrite, so
//! taking over a stale lock would race.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
};

use super::error::{AwsError, Classify};
use super::permissions::{Arn, Call, On, read, write};

mod hold;
mod lock;

pub use hold::Hold;
pub use lock::{Acquired, LockHolder};

/// The table, created on first use in each account and region (pay per request: a lock costs
/// nothing while unused).
pub const LOCK_TABLE: &str = "deployer-locks";

#[derive(Debug, Clone)]
pub struct Locks {
    client: Client,
}

pub(super) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `seconds` since the epoch as RFC 3339, for people.
pub(super) fn rfc3339(seconds: u64) -> String {
    let time = aws_smithy_types::DateTime::from_secs(i64::try_from(seconds).unwrap_or(i64::MAX));
    time.fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_else(|_| seconds.to_string())
}

pub(super) fn string(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn conditional_failed(error: &AwsError) -> bool {
    error.code() == Some("ConditionalCheckFailedException")
}

impl Locks {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: crate::aws::classifier::client!(aws_sdk_dynamodb, config),
        }
    }

    /// The item under `key`, read consistently; none when it or the table does not exist.
    pub(super) async fn item(&self, key: &str) -> Result<Option<HashMap<String, AttributeValue>>, AwsError> {
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
    pub(super) async fn ensure_table(&self) -> Result<(), AwsError> {
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

/// What the lock and the hold call (see `aws::permissions`): the table is shared, its items
/// are each environment's own.
pub(crate) const CALLS: &[Call] = &[
    read("dynamodb:DescribeTable", On::Own(&[Arn::LockTable])),
    read("dynamodb:GetItem", On::LockItems),
    write("dynamodb:CreateTable", On::Own(&[Arn::LockTable])),
    write("dynamodb:PutItem", On::LockItems),
    write("dynamodb:UpdateItem", On::LockItems),
    write("dynamodb:DeleteItem", On::LockItems),
];
