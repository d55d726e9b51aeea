//! Load balancer access logs: an opt-in bucket of the environment's own, configured, kept in
//! line with the file, and emptied and deleted when access logs are turned off.

use std::path::Path;

use crate::support::{Deployer, Moto, block_on, edit_environment, environments_copy, s3_client, tagged_resources};

const STAGING_BUCKET: &str = "deployer-staging-logs-123456789012-us-east-1";

fn apply(moto: &Moto, dir: &Path, environment: &str) -> String {
    Deployer::new(moto)
        .environments(dir)
        .args(["apply", environment, "--auto-approve"])
        .run()
        .expect_status(0)
        .stdout
}

fn plan(moto: &Moto, dir: &Path, environment: &str, status: i32) -> String {
    Deployer::new(moto)
        .environments(dir)
        .args(["plan", environment, "--detailed-exitcode"])
        .run()
        .expect_status(status)
        .stdout
}

/// Puts a log file into `bucket` as ELB's delivery would. The bucket refuses any request
/// without TLS, and the emulator speaks plain HTTP: the refusal is checked, then the policy is
/// lifted around the write and put back as it was.
fn deliver_a_log(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) {
    block_on(async {
        let put = || {
            s3.put_object()
                .bucket(bucket)
                .key(key)
                .body(aws_sdk_s3::primitives::ByteStream::from_static(
                    b"h2 2026-11-25T08:00:00Z ...",
                ))
                .send()
        };
        let refused = put().await.unwrap_err();
        assert_eq!(refused.raw_response().map(|r| r.status().as_u16()), Some(403));
        let policy = s3.get_bucket_policy().bucket(bucket).send().await.unwrap();
        s3.delete_bucket_policy().bucket(bucket).send().await.unwrap();
        put().await.unwrap();
        s3.put_bucket_policy()
            .bucket(bucket)
            .policy(policy.policy().unwrap())
            .send()
            .await
            .unwrap();
    });
}

/// The ALB's access log attributes, as ELB reports them.
fn alb_access_logs(moto: &Moto, name: &str) -> (String, String) {
    block_on(async {
        let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&moto.sdk_config());
        let balancers = elbv2.describe_load_balancers().names(name).send().await.unwrap();
        let arn = balancers.load_balancers()[0].load_balancer_arn().unwrap().to_owned();
        let attributes = elbv2
            .describe_load_balancer_attributes()
            .load_balancer_arn(arn)
            .send()
            .await
            .unwrap();
        let value = |key: &str| {
            attributes
                .attributes()
                .iter()
                .find(|a| a.key() == Some(key))
                .and_then(|a| a.value())
                .unwrap_or_default()
                .to_owned()
        };
        (value("access_logs.s3.enabled"), value("access_logs.s3.bucket"))
    })
}

#[test]
fn access_logs_get_a_private_encrypted_expiring_bucket_and_go_with_it() {
    let moto = Moto::start_with_tasks(2);
    let dir = environments_copy();
    apply(&moto, dir.path(), "staging");
    assert_eq!(alb_access_logs(&moto, "staging-lb").0, "false");

    // Turned on: a new bucket, and the load balancer changed in place to write there.
    edit_environment(
        dir.path(),
        "staging",
        "  kind: alb\n",
        "  kind: alb\n  access_logs:\n    retention_days: 30\n",
    );
    let planned = plan(&moto, dir.path(), "staging", 2);
    assert!(planned.contains("+ log_bucket log-bucket"), "{planned}");
    assert!(planned.contains("~ load_balancer load-balancer"), "{planned}");
    assert!(planned.contains("access_logs: (none) → log-bucket"), "{planned}");
    assert!(
        planned.contains("Plan: 1 to add, 1 to change, 0 to destroy."),
        "{planned}"
    );
    apply(&moto, dir.path(), "staging");

    assert_eq!(
        alb_access_logs(&moto, "staging-lb"),
        ("true".to_owned(), STAGING_BUCKET.to_owned())
    );
    let s3 = s3_client(&moto.sdk_config());
    block_on(async {
        let access = s3
            .get_public_access_block()
            .bucket(STAGING_BUCKET)
            .send()
            .await
            .unwrap();
        let access = access.public_access_block_configuration().unwrap();
        assert_eq!(
            [
                access.block_public_acls(),
                access.ignore_public_acls(),
                access.block_public_policy(),
                access.restrict_public_buckets()
            ],
            [Some(true); 4]
        );
        let encryption = s3.get_bucket_encryption().bucket(STAGING_BUCKET).send().await.unwrap();
        let algorithm = encryption.server_side_encryption_configuration().unwrap().rules()[0]
            .apply_server_side_encryption_by_default()
            .unwrap()
            .sse_algorithm()
            .as_str()
            .to_owned();
        assert_eq!(algorithm, "AES256");
        let lifecycle = s3
            .get_bucket_lifecycle_configuration()
            .bucket(STAGING_BUCKET)
            .send()
            .await
            .unwrap();
        assert_eq!(lifecycle.rules()[0].expiration().unwrap().days(), Some(30));
        let policy = s3.get_bucket_policy().bucket(STAGING_BUCKET).send().await.unwrap();
        let policy: serde_json::Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
        let write = &policy["Statement"][0];
        // us-east-1's Elastic Load Balancing account, writing under this account's prefix only.
        assert_eq!(write["Principal"]["AWS"], "arn:aws:iam::127311923021:root");
        assert_eq!(
            write["Resource"],
            format!("arn:aws:s3:::{STAGING_BUCKET}/AWSLogs/123456789012/*")
        );
    });
    assert!(
        tagged_resources(&moto, "staging").contains(&format!("bucket {STAGING_BUCKET}")),
        "the bucket carries the environment's tags"
    );
    assert!(plan(&moto, dir.path(), "staging", 0).contains("No changes."));

    // Drift in the bucket and on the load balancer is planned and put back.
    block_on(async {
        use aws_sdk_s3::types::{
            BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
        };
        let rule = LifecycleRule::builder()
            .id("expire-access-logs")
            .filter(LifecycleRuleFilter::builder().prefix("").build())
            .status(ExpirationStatus::Enabled)
            .expiration(LifecycleExpiration::builder().days(1).build())
            .build()
            .unwrap();
        s3.put_bucket_lifecycle_configuration()
            .bucket(STAGING_BUCKET)
            .lifecycle_configuration(BucketLifecycleConfiguration::builder().rules(rule).build().unwrap())
            .send()
            .await
            .unwrap();
        let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&moto.sdk_config());
        let balancers = elbv2
            .describe_load_balancers()
            .names("staging-lb")
            .send()
            .await
            .unwrap();
        let off = aws_sdk_elasticloadbalancingv2::types::LoadBalancerAttribute::builder()
            .key("access_logs.s3.enabled")
            .value("false")
            .build();
        elbv2
            .modify_load_balancer_attributes()
            .load_balancer_arn(balancers.load_balancers()[0].load_balancer_arn().unwrap())
            .attributes(off)
            .send()
            .await
            .unwrap();
    });
    let drifted = plan(&moto, dir.path(), "staging", 2);
    assert!(drifted.contains("expiration_days: 1 → 30"), "{drifted}");
    assert!(drifted.contains("access_logs: (none) → log-bucket"), "{drifted}");
    apply(&moto, dir.path(), "staging");
    assert_eq!(alb_access_logs(&moto, "staging-lb").0, "true");
    assert!(plan(&moto, dir.path(), "staging", 0).contains("No changes."));

    // Turned off with logs in the bucket: the load balancer stops writing, then the bucket is
    // emptied and deleted.
    deliver_a_log(
        &s3,
        STAGING_BUCKET,
        "AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/11/25/log.gz",
    );
    edit_environment(dir.path(), "staging", "  access_logs:\n    retention_days: 30\n", "");
    let planned = plan(&moto, dir.path(), "staging", 2);
    assert!(planned.contains("- log_bucket log-bucket"), "{planned}");
    assert!(
        planned.contains("Plan: 0 to add, 1 to change, 1 to destroy."),
        "{planned}"
    );
    apply(&moto, dir.path(), "staging");
    assert_eq!(alb_access_logs(&moto, "staging-lb").0, "false");
    let buckets = block_on(async { s3.list_buckets().send().await.unwrap() });
    assert!(
        buckets.buckets().iter().all(|b| b.name() != Some(STAGING_BUCKET)),
        "{buckets:?}"
    );
    assert!(plan(&moto, dir.path(), "staging", 0).contains("No changes."));
}

#[test]
fn a_classic_load_balancer_writes_access_logs_too_and_destroy_takes_the_bucket() {
    let moto = Moto::start();
    let dir = environments_copy();
    edit_environment(
        dir.path(),
        "development",
        "  kind: elb\n",
        "  kind: elb\n  access_logs: {}\n",
    );
    let output = apply(&moto, dir.path(), "development");
    assert!(output.contains("Apply complete! Resources: 36 added"), "{output}");
    let bucket = "deployer-development-logs-123456789012-us-east-1";
    let access_log = block_on(async {
        let elb = aws_sdk_elasticloadbalancing::Client::new(&moto.sdk_config());
        let attributes = elb
            .describe_load_balancer_attributes()
            .load_balancer_name("development-lb")
            .send()
            .await
            .unwrap();
        attributes
            .load_balancer_attributes()
            .unwrap()
            .access_log()
            .cloned()
            .unwrap()
    });
    assert!(access_log.enabled());
    assert_eq!(access_log.s3_bucket_name(), Some(bucket));
    let s3 = s3_client(&moto.sdk_config());
    let lifecycle = block_on(async {
        s3.get_bucket_lifecycle_configuration()
            .bucket(bucket)
            .send()
            .await
            .unwrap()
    });
    assert_eq!(
        lifecycle.rules()[0].expiration().unwrap().days(),
        Some(90),
        "the default"
    );
    assert!(plan(&moto, dir.path(), "development", 0).contains("No changes."));

    deliver_a_log(
        &s3,
        bucket,
        "AWSLogs/123456789012/elasticloadbalancing/us-east-1/log.txt",
    );
    Deployer::new(&moto)
        .environments(dir.path())
        .args(["destroy", "development", "--auto-approve"])
        .run()
        .expect_status(0);
    assert_eq!(tagged_resources(&moto, "development"), Vec::<String>::new());
}
