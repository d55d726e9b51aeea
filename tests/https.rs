//! HTTPS on the ALB: a certificate checked in ACM before anything is planned, a 443 listener
//! with a modern TLS policy, port 80 redirecting to it, 443 open in the load balancer's group,
//! and an https:// URL; and all of it undone when `https` goes.

use std::path::Path;

use crate::support::{Deployer, Moto, block_on, environments_copy};

fn run(moto: &Moto, dir: &Path, args: &[&str], status: i32) -> crate::support::Run {
    Deployer::new(moto)
        .environments(dir)
        .args(args)
        .run()
        .expect_status(status)
}

/// The load balancer's listeners: (port, protocol, certificate, TLS policy, action type).
fn listeners(moto: &Moto) -> Vec<(i32, String, String, String, String)> {
    block_on(async {
        let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(&moto.sdk_config());
        let balancers = elbv2
            .describe_load_balancers()
            .names("staging-lb")
            .send()
            .await
            .unwrap();
        let arn = balancers.load_balancers()[0].load_balancer_arn().unwrap();
        let listeners = elbv2.describe_listeners().load_balancer_arn(arn).send().await.unwrap();
        let mut all: Vec<_> = listeners
            .listeners()
            .iter()
            .map(|l| {
                let action = &l.default_actions()[0];
                let described = match action.redirect_config() {
                    Some(r) => format!(
                        "redirect {}:{} {}",
                        r.protocol().unwrap_or_default(),
                        r.port().unwrap_or_default(),
                        r.status_code().map_or("", |s| s.as_str())
                    ),
                    None => "forward".to_owned(),
                };
                let https = l.protocol().unwrap().as_str() == "HTTPS";
                (
                    l.port().unwrap(),
                    l.protocol().unwrap().as_str().to_owned(),
                    l.certificates()
                        .first()
                        .and_then(|c| c.certificate_arn())
                        .unwrap_or_default()
                        .to_owned(),
                    // The emulator reports a policy on HTTP listeners too; AWS has none there.
                    l.ssl_policy().filter(|_| https).unwrap_or_default().to_owned(),
                    described,
                )
            })
            .collect();
        all.sort();
        all
    })
}

#[test]
fn https_needs_an_issued_certificate_then_serves_443_and_redirects_80() {
    // The emulator validates a requested certificate after this many seconds.
    let moto = Moto::start_with_settings(2, &[("MOTO_ACM_VALIDATION_WAIT", "2")]);
    let dir = environments_copy();
    run(&moto, dir.path(), &["apply", "staging", "--auto-approve"], 0);

    let certificate = moto.request_certificate("api.staging.example.com");
    let path = dir.path().join("staging.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen(
            "  kind: alb\n",
            &format!("  kind: alb\n  https:\n    certificate_arn: {certificate}\n"),
            1,
        ),
    )
    .unwrap();

    // Not validated yet: refused before anything is planned.
    let pending = run(&moto, dir.path(), &["plan", "staging"], 1);
    assert!(
        pending
            .stderr
            .contains(&format!("certificate {certificate} is PENDING_VALIDATION, not ISSUED")),
        "{}",
        pending.stderr
    );
    assert!(
        pending
            .stderr
            .contains("staging.yaml: load_balancer.https.certificate_arn"),
        "{}",
        pending.stderr
    );
    std::thread::sleep(std::time::Duration::from_millis(2500));

    let planned = run(&moto, dir.path(), &["plan", "staging", "--detailed-exitcode"], 2).stdout;
    assert!(planned.contains("+ listener listener-https"), "{planned}");
    assert!(
        planned.contains("action: forward to target-group → redirect (301) to HTTPS on 443"),
        "{planned}"
    );
    assert!(
        planned.contains("ingress: + tcp/443 0.0.0.0/0 (HTTPS from anywhere)"),
        "{planned}"
    );
    assert!(
        planned.contains("Plan: 1 to add, 2 to change, 0 to destroy."),
        "{planned}"
    );
    run(&moto, dir.path(), &["apply", "staging", "--auto-approve"], 0);
    assert_eq!(
        listeners(&moto),
        [
            (
                80,
                "HTTP".to_owned(),
                String::new(),
                String::new(),
                "redirect HTTPS:443 HTTP_301".to_owned()
            ),
            (
                443,
                "HTTPS".to_owned(),
                certificate.clone(),
                "ELBSecurityPolicy-TLS13-1-2-2021-06".to_owned(),
                "forward".to_owned()
            ),
        ]
    );
    assert!(
        run(&moto, dir.path(), &["plan", "staging", "--detailed-exitcode"], 0)
            .stdout
            .contains("No changes.")
    );
    let output = run(&moto, dir.path(), &["output", "staging", "--json"], 0).stdout;
    let outputs: serde_json::Value = serde_json::from_str(&output).unwrap();
    assert!(
        outputs["api_url"].as_str().unwrap().starts_with("https://staging-lb"),
        "{outputs}"
    );

    // Without https: back to plain forwarding on 80, 443 closed and its listener gone.
    std::fs::write(&path, &text).unwrap();
    let planned = run(&moto, dir.path(), &["plan", "staging", "--detailed-exitcode"], 2).stdout;
    assert!(planned.contains("- listener listener-https"), "{planned}");
    run(&moto, dir.path(), &["apply", "staging", "--auto-approve"], 0);
    assert_eq!(
        listeners(&moto),
        [(
            80,
            "HTTP".to_owned(),
            String::new(),
            String::new(),
            "forward".to_owned()
        )]
    );
    assert!(
        run(&moto, dir.path(), &["plan", "staging", "--detailed-exitcode"], 0)
            .stdout
            .contains("No changes.")
    );
}

#[test]
fn a_classic_load_balancer_serves_https_only_with_a_tls_1_2_policy() {
    let moto = Moto::start();
    let dir = moto.environments_copy();
    run(&moto, dir.path(), &["apply", "development", "--auto-approve"], 0);
    let certificate = moto.request_certificate("api.development.example.com");
    let path = dir.path().join("development.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen(
            "  kind: elb\n",
            &format!("  kind: elb\n  https:\n    certificate_arn: {certificate}\n"),
            1,
        ),
    )
    .unwrap();

    // A classic ELB cannot redirect: HTTPS replaces HTTP, and port 80 closes.
    let planned = run(&moto, dir.path(), &["plan", "development", "--detailed-exitcode"], 2).stdout;
    // A long value changes as a line diff.
    assert!(
        planned.contains("listener: changed\n          - HTTP 80 → 8000\n"),
        "{planned}"
    );
    assert!(
        planned.contains(&format!("          + HTTPS 443 → 8000 (certificate {certificate})\n")),
        "{planned}"
    );
    assert!(
        planned.contains("ssl_policy: (none) → ELBSecurityPolicy-TLS-1-2-2017-01"),
        "{planned}"
    );
    assert!(
        planned.contains("ingress: + tcp/443 0.0.0.0/0 (HTTPS from anywhere)"),
        "{planned}"
    );
    assert!(
        planned.contains("ingress: - tcp/80 0.0.0.0/0 (HTTP from anywhere)"),
        "{planned}"
    );
    run(&moto, dir.path(), &["apply", "development", "--auto-approve"], 0);

    let (listeners, policy) = block_on(async {
        let elb = aws_sdk_elasticloadbalancing::Client::new(&moto.sdk_config());
        let balancers = elb
            .describe_load_balancers()
            .load_balancer_names("development-lb")
            .send()
            .await
            .unwrap();
        let descriptions = balancers.load_balancer_descriptions()[0]
            .listener_descriptions()
            .to_vec();
        let policies = elb
            .describe_load_balancer_policies()
            .load_balancer_name("development-lb")
            .policy_names("deployer-ELBSecurityPolicy-TLS-1-2-2017-01")
            .send()
            .await
            .unwrap();
        let reference = policies.policy_descriptions()[0]
            .policy_attribute_descriptions()
            .iter()
            .find(|a| a.attribute_name() == Some("Reference-Security-Policy"))
            .and_then(|a| a.attribute_value())
            .unwrap_or_default()
            .to_owned();
        (descriptions, reference)
    });
    assert_eq!(listeners.len(), 1, "{listeners:?}");
    let listener = listeners[0].listener().unwrap();
    assert_eq!(
        (
            listener.protocol(),
            listener.load_balancer_port(),
            listener.ssl_certificate_id()
        ),
        ("HTTPS", 443, Some(certificate.as_str()))
    );
    assert_eq!(
        listeners[0].policy_names(),
        ["deployer-ELBSecurityPolicy-TLS-1-2-2017-01"]
    );
    assert_eq!(policy, "ELBSecurityPolicy-TLS-1-2-2017-01");
    assert!(
        run(&moto, dir.path(), &["plan", "development", "--detailed-exitcode"], 0)
            .stdout
            .contains("No changes.")
    );
    let output = run(&moto, dir.path(), &["output", "development", "--json"], 0).stdout;
    let outputs: serde_json::Value = serde_json::from_str(&output).unwrap();
    assert!(
        outputs["api_url"]
            .as_str()
            .unwrap()
            .starts_with("https://development-lb"),
        "{outputs}"
    );
}
