//! The bucket a load balancer writes its access logs to, and who may write there.

use crate::config::EnvironmentConfig;
use crate::model::{Facts, LogBucketSpec, names};

/// S3 bucket names are global: the account and region make the environment's own unique.
/// At most 9 + 20 + 6 + 12 + 1 + 14 = 62 characters, inside S3's 63.
pub fn log_bucket_name(environment: &str, facts: &Facts) -> String {
    names::log_bucket(environment, &facts.account_id, &facts.region)
}

/// The environment's access log bucket, when the file asks for access logs.
pub(super) fn log_bucket(config: &EnvironmentConfig, facts: &Facts) -> Option<LogBucketSpec> {
    let access_logs = config.load_balancer.access_logs?;
    let name = log_bucket_name(&config.name, facts);
    let policy = bucket_policy(&name, facts);
    Some(LogBucketSpec {
        name,
        expiration_days: access_logs.retention_days,
        encryption: "AES256".into(),
        block_public_access: true,
        policy,
    })
}

/// Log delivery may put objects under `AWSLogs/<account>/` and nothing else; nobody may reach
/// the bucket without TLS.
fn bucket_policy(bucket: &str, facts: &Facts) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "LoadBalancerAccessLogs",
                "Effect": "Allow",
                "Principal": log_writer(&facts.region),
                "Action": "s3:PutObject",
                "Resource": format!("arn:aws:s3:::{bucket}/AWSLogs/{}/*", facts.account_id)
            },
            {
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}
            }
        ]
    })
    .to_string()
}

/// Who writes a region's load balancer logs. Regions opened before August 2022 deliver from
/// an Elastic Load Balancing account of their own (AWS's published list); newer ones from the
/// log delivery service principal, which those older regions do not accept.
fn log_writer(region: &str) -> serde_json::Value {
    match ELB_ACCOUNTS.iter().find(|(r, _)| *r == region) {
        Some((_, account)) => serde_json::json!({"AWS": format!("arn:aws:iam::{account}:root")}),
        None => serde_json::json!({"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}),
    }
}

const ELB_ACCOUNTS: [(&str, &str); 22] = [
    ("us-east-1", "127311923021"),
    ("us-east-2", "033677994240"),
    ("us-west-1", "027434742980"),
    ("us-west-2", "797873946194"),
    ("af-south-1", "098369216593"),
    ("ap-east-1", "754344448648"),
    ("ap-south-1", "718504428378"),
    ("ap-northeast-1", "582318560864"),
    ("ap-northeast-2", "600734575887"),
    ("ap-northeast-3", "383597477331"),
    ("ap-southeast-1", "114774131450"),
    ("ap-southeast-2", "783225319266"),
    ("ap-southeast-3", "589379963580"),
    ("ca-central-1", "985666609251"),
    ("eu-central-1", "054676820928"),
    ("eu-west-1", "156460612806"),
    ("eu-west-2", "652711504416"),
    ("eu-west-3", "009996457667"),
    ("eu-south-1", "635631232127"),
    ("eu-north-1", "897822967062"),
    ("me-south-1", "076674570225"),
    ("sa-east-1", "507241528517"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(region: &str) -> Facts {
        Facts {
            availability_zones: vec![format!("{region}a")],
            region: region.into(),
            account_id: "123456789012".into(),
            default_image_id: None,
            pushed_image: None,
        }
    }

    #[test]
    fn the_longest_name_fits_in_s3s_63_characters() {
        let name = log_bucket_name("abcdefghijklmnopqrst", &facts("ap-southeast-4"));
        assert_eq!(name.len(), 62, "{name}");
    }

    #[test]
    fn older_regions_grant_their_elb_account_and_newer_ones_the_delivery_service() {
        let policy: serde_json::Value = serde_json::from_str(&bucket_policy("b", &facts("us-east-1"))).unwrap();
        let write = &policy["Statement"][0];
        assert_eq!(write["Principal"]["AWS"], "arn:aws:iam::127311923021:root");
        assert_eq!(write["Action"], "s3:PutObject");
        assert_eq!(write["Resource"], "arn:aws:s3:::b/AWSLogs/123456789012/*");

        let policy: serde_json::Value = serde_json::from_str(&bucket_policy("b", &facts("ap-southeast-4"))).unwrap();
        assert_eq!(
            policy["Statement"][0]["Principal"]["Service"],
            "logdelivery.elasticloadbalancing.amazonaws.com"
        );
    }

    #[test]
    fn nothing_reaches_the_bucket_without_tls() {
        let policy: serde_json::Value = serde_json::from_str(&bucket_policy("b", &facts("eu-west-1"))).unwrap();
        let deny = &policy["Statement"][1];
        assert_eq!(deny["Effect"], "Deny");
        assert_eq!(deny["Principal"], "*");
        assert_eq!(deny["Condition"]["Bool"]["aws:SecureTransport"], "false");
    }
}
