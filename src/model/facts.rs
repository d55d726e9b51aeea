//! What the model needs to know about the target account besides the environment file, read
//! by discovery (or from a saved plan, which is why each fact is checked).

use super::ModelError;

/// What the model needs to know about the target account, read by discovery.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Facts {
    /// The region's usable availability zones, sorted by name.
    pub availability_zones: Vec<String>,
    pub region: String,
    /// The AWS account, for ARNs of secrets.
    pub account_id: String,
    /// The AMI EC2 compute boots when the file names none (latest Amazon Linux 2023).
    pub default_image_id: Option<String>,
    /// The image most recently pushed to the environment's repository, by digest
    /// (`<registry>/<repository>@sha256:...`); what runs when the file names no `app.image`.
    pub pushed_image: Option<String>,
}

impl Facts {
    /// Each fact has the shape AWS gives it. Facts come from AWS or from a saved plan, which is
    /// a file anyone with write access to it may have edited: they go into names, ARNs, user
    /// data and task definitions, so nothing else gets in.
    pub fn check(&self) -> Result<(), ModelError> {
        let fact = |field, value: &str, expected| ModelError::Fact {
            field,
            value: crate::printable::printable_line(value).into_owned(),
            expected,
        };
        if !crate::config::is_region_name(&self.region) {
            return Err(fact("facts.region", &self.region, "a region name such as us-east-1"));
        }
        if !crate::config::is_account_id(&self.account_id) {
            return Err(fact("facts.account_id", &self.account_id, "a 12-digit account id"));
        }
        for zone in &self.availability_zones {
            let zone_ok = zone.strip_prefix(self.region.as_str()).is_some_and(|rest| {
                !rest.is_empty()
                    && rest
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            });
            if !zone_ok {
                return Err(fact(
                    "facts.availability_zones",
                    zone,
                    "a zone of the region, such as us-east-1a",
                ));
            }
        }
        if let Some(ami) = &self.default_image_id {
            let hex = ami.strip_prefix("ami-").unwrap_or_default();
            if !matches!(hex.len(), 8 | 17) || !hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')) {
                return Err(fact(
                    "facts.default_image_id",
                    ami,
                    "an AMI id (ami- and 8 or 17 hex digits)",
                ));
            }
        }
        if let Some(image) = &self.pushed_image
            && !self.is_ecr_digest(image)
        {
            return Err(fact(
                "facts.pushed_image",
                image,
                "an image of an ECR repository of the account and region, by digest",
            ));
        }
        Ok(())
    }

    /// `<account>.dkr.ecr.<region>.<domain>/<path>@sha256:<hex>`.
    pub fn is_ecr_digest(&self, image: &str) -> bool {
        crate::config::ImageReference::parse(image).is_ok_and(|reference| {
            let registry = format!("{}.dkr.ecr.{}.", self.account_id, self.region);
            reference.host().is_some_and(|host| host.starts_with(&registry))
                && crate::config::is_digest_in(image, reference.name)
        })
    }
}
