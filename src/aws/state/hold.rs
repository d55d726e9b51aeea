//! Rollback holds, beside the locks in the same table: `<env>#hold` names the image an
//! environment is held at until `rollback --release` or an apply of a named image.

use std::collections::HashMap;

use super::*;

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

impl Locks {
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
}
