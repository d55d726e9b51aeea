//! Operator access without a bastion: EC2 instances carry the Systems Manager policy, and
//! `deployer shell` hands the terminal to `aws ssm start-session` on an instance in service.
//! The emulator has no Session Manager, so the AWS CLI here is a script that records how it
//! was called; without the CLI or its plugin, the error says what to install.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support::{Deployer, Moto, block_on};

fn fake_program(dir: &Path, name: &str, record: &Path) {
    let script = format!("#!/bin/sh\necho \"$@\" > '{}'\n", record.display());
    let path = dir.join(name);
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn an_operator_gets_a_systems_manager_session_on_an_instance_and_no_ssh_port_exists() {
    let moto = Moto::start();
    Deployer::new(&moto)
        .args(["apply", "development", "--auto-approve"])
        .run()
        .expect_status(0);
    // The agent's rights are inline and narrow: no managed policy (AWS's
    // AmazonSSMManagedInstanceCore would also read every SSM parameter of the account).
    let (attached, policy) = block_on(async {
        let iam = aws_sdk_iam::Client::new(&moto.sdk_config());
        let attached = iam
            .list_attached_role_policies()
            .role_name("development-us-east-1-instance")
            .send()
            .await
            .unwrap();
        let names = iam
            .list_role_policies()
            .role_name("development-us-east-1-instance")
            .send()
            .await
            .unwrap();
        let inline = iam
            .get_role_policy()
            .role_name("development-us-east-1-instance")
            .policy_name(names.policy_names()[0].clone())
            .send()
            .await
            .unwrap();
        (
            attached.attached_policies().len(),
            crate::support::iam_document(inline.policy_document()),
        )
    });
    assert_eq!(attached, 0);
    let statements = policy["Statement"].as_array().unwrap();
    let register = statements
        .iter()
        .find(|s| s["Action"][0] == "ssm:UpdateInstanceInformation")
        .expect("the agent may register the instance");
    assert_eq!(register["Resource"][0], "arn:aws:ec2:us-east-1:123456789012:instance/*");
    assert_eq!(
        register["Condition"]["StringEquals"]["aws:ResourceTag/deployer:environment"],
        "development"
    );
    assert!(
        statements.iter().any(|s| s["Action"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "ssmmessages:OpenDataChannel")),
        "{policy}"
    );
    assert!(
        !statements
            .iter()
            .any(|s| s["Action"].as_array().unwrap().iter().any(|a| a == "ssm:GetParameters")),
        "{policy}"
    );

    let tools = tempfile::tempdir().unwrap();
    let record = tools.path().join("called");
    // No AWS CLI on PATH: what to install.
    let missing = Deployer::new(&moto)
        .env("PATH", tools.path().to_str().unwrap())
        .args(["shell", "development"])
        .run()
        .expect_status(1);
    assert!(
        missing.stderr.contains("the AWS CLI (`aws`) is not installed"),
        "{}",
        missing.stderr
    );
    fake_program(tools.path(), "aws", &record);
    let no_plugin = Deployer::new(&moto)
        .env("PATH", tools.path().to_str().unwrap())
        .args(["shell", "development"])
        .run()
        .expect_status(1);
    assert!(
        no_plugin
            .stderr
            .contains("Session Manager plugin (`session-manager-plugin`) is not installed"),
        "{}",
        no_plugin.stderr
    );
    fake_program(tools.path(), "session-manager-plugin", &tools.path().join("plugin"));

    let instance = block_on(async {
        let asg = aws_sdk_autoscaling::Client::new(&moto.sdk_config());
        let groups = asg
            .describe_auto_scaling_groups()
            .auto_scaling_group_names("development-app")
            .send()
            .await
            .unwrap();
        groups.auto_scaling_groups()[0].instances()[0]
            .instance_id()
            .unwrap()
            .to_owned()
    });
    let session = Deployer::new(&moto)
        .env("PATH", tools.path().to_str().unwrap())
        .args(["shell", "development"])
        .run()
        .expect_status(0);
    assert!(
        session
            .stderr
            .contains(&format!("Opening a Systems Manager session on {instance}")),
        "{}",
        session.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&record).unwrap().trim(),
        format!("ssm start-session --target {instance} --region us-east-1")
    );
    let unknown = Deployer::new(&moto)
        .env("PATH", tools.path().to_str().unwrap())
        .args(["shell", "development", "--instance", "i-00000000000000000"])
        .run()
        .expect_status(1);
    assert!(
        unknown.stderr.contains(&format!("choose one of: {instance}")),
        "{}",
        unknown.stderr
    );

    // ECS tasks: the image has no shell to open; the error says where to look instead.
    let ecs = Deployer::new(&moto).args(["shell", "staging"]).run().expect_status(1);
    assert!(ecs.stderr.contains("staging runs ECS tasks"), "{}", ecs.stderr);
    assert!(ecs.stderr.contains("deployer logs staging"), "{}", ecs.stderr);
}
