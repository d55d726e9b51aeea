//! Autoscaling between min and max: the ECS service through Application Auto Scaling, the EC2
//! group through its own policies; min, max and targets planned and changed in place, and a
//! desired count the autoscaler chose never drift and never reset.

use std::path::Path;

use crate::support::proxy::Proxy;
use crate::support::{Deployer, Moto, block_on, edit_environment, environments_copy, tagged_resources};

fn run(moto: &Moto, dir: &Path, args: &[&str], status: i32) -> String {
    Deployer::new(moto)
        .environments(dir)
        .args(args)
        .run()
        .expect_status(status)
        .stdout
}

/// (min, max) of the service's scalable target, and each policy's (name, metric, target, label).
type Scaling = ((i32, i32), Vec<(String, String, f64, String)>);

fn service_scaling(moto: &Moto, resource_id: &str) -> Scaling {
    use aws_sdk_applicationautoscaling::types::ServiceNamespace;
    block_on(async {
        let client = aws_sdk_applicationautoscaling::Client::new(&moto.sdk_config());
        let targets = client
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_ids(resource_id)
            .send()
            .await
            .unwrap();
        let target = &targets.scalable_targets()[0];
        let policies = client
            .describe_scaling_policies()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(resource_id)
            .send()
            .await
            .unwrap();
        let mut policies: Vec<_> = policies
            .scaling_policies()
            .iter()
            .map(|p| {
                let configuration = p.target_tracking_scaling_policy_configuration().unwrap();
                let metric = configuration.predefined_metric_specification().unwrap();
                (
                    p.policy_name().to_owned(),
                    metric.predefined_metric_type().as_str().to_owned(),
                    configuration.target_value(),
                    metric.resource_label().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        policies.sort_by(|a, b| a.0.cmp(&b.0));
        ((target.min_capacity(), target.max_capacity()), policies)
    })
}

fn set_service_desired(moto: &Moto, desired: i32) {
    block_on(async {
        let ecs = aws_sdk_ecs::Client::new(&moto.sdk_config());
        ecs.update_service()
            .cluster("staging")
            .service("api")
            .desired_count(desired)
            .send()
            .await
            .unwrap();
    });
}

#[test]
fn the_ecs_service_scales_between_min_and_max_and_apply_leaves_the_count_to_the_scaler() {
    let moto = Moto::start_with_tasks(2);
    let dir = environments_copy();
    let applied = run(&moto, dir.path(), &["apply", "staging", "--auto-approve"], 0);
    assert!(applied.contains("Apply complete! Resources: 38 added"), "{applied}");

    let ((min, max), policies) = service_scaling(&moto, "service/staging/api");
    assert_eq!((min, max), (2, 4));
    assert_eq!(policies.len(), 2, "{policies:?}");
    assert_eq!(
        (policies[0].0.as_str(), policies[0].1.as_str(), policies[0].2),
        ("deployer-cpu", "ECSServiceAverageCPUUtilization", 60.0)
    );
    let (name, metric, target, label) = &policies[1];
    assert_eq!(
        (name.as_str(), metric.as_str(), *target),
        ("deployer-requests", "ALBRequestCountPerTarget", 1000.0)
    );
    assert!(
        label.starts_with("app/staging-lb/") && label.contains("/targetgroup/staging-app-"),
        "{label}"
    );
    assert!(run(&moto, dir.path(), &["plan", "staging", "--detailed-exitcode"], 0).contains("No changes."));

    // The scaler moved the service to 3 tasks: not drift.
    set_service_desired(&moto, 3);
    assert!(run(&moto, dir.path(), &["plan", "staging", "--detailed-exitcode"], 0).contains("No changes."));

    // Max and the CPU target change in place; the service itself is left alone.
    edit_environment(
        dir.path(),
        "staging",
        "  max: 4\n",
        "  max: 5\n  scaling:\n    cpu_percent: 70\n",
    );
    let planned = run(&moto, dir.path(), &["plan", "staging", "--detailed-exitcode"], 2);
    assert!(planned.contains("~ service_scaling service-scaling"), "{planned}");
    assert!(planned.contains("max: 4 → 5"), "{planned}");
    assert!(planned.contains("cpu_percent: 60 → 70"), "{planned}");
    assert!(
        planned.contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{planned}"
    );
    set_service_desired(&moto, 2);
    run(&moto, dir.path(), &["apply", "staging", "--auto-approve"], 0);
    let ((min, max), policies) = service_scaling(&moto, "service/staging/api");
    assert_eq!((min, max), (2, 5));
    assert_eq!(policies[0].2, 70.0);
    assert!(run(&moto, dir.path(), &["plan", "staging", "--detailed-exitcode"], 0).contains("No changes."));

    // A rollout (a new image) never sends a desired count: the scaler's stands.
    let proxy = Proxy::start(&moto.endpoint, 0.0, 1);
    Deployer::new(&moto)
        .through(&proxy)
        .environments(dir.path())
        .args([
            "apply",
            "staging",
            "--auto-approve",
            "--image",
            "ghcr.io/acme/api:2.0.0",
        ])
        .run()
        .expect_status(0);
    let updates: Vec<_> = proxy
        .take_calls()
        .into_iter()
        .filter(|c| c.operation == "UpdateService")
        .collect();
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert!(
        updates[0].params.contains_key("taskDefinition"),
        "{:?}",
        updates[0].params
    );
    assert!(
        !updates[0].params.contains_key("desiredCount"),
        "{:?}",
        updates[0].params
    );

    run(&moto, dir.path(), &["destroy", "staging", "--auto-approve"], 0);
    assert_eq!(tagged_resources(&moto, "staging"), Vec::<String>::new());
    let targets = block_on(async {
        aws_sdk_applicationautoscaling::Client::new(&moto.sdk_config())
            .describe_scalable_targets()
            .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
            .send()
            .await
            .unwrap()
    });
    assert!(targets.scalable_targets().is_empty(), "{targets:?}");
}

/// The group's policies: (name, metric, target).
fn group_policies(moto: &Moto) -> Vec<(String, String, f64)> {
    block_on(async {
        let asg = aws_sdk_autoscaling::Client::new(&moto.sdk_config());
        let policies = asg
            .describe_policies()
            .auto_scaling_group_name("development-app")
            .send()
            .await
            .unwrap();
        policies
            .scaling_policies()
            .iter()
            .map(|p| {
                let configuration = p.target_tracking_configuration().unwrap();
                (
                    p.policy_name().unwrap().to_owned(),
                    configuration
                        .predefined_metric_specification()
                        .unwrap()
                        .predefined_metric_type()
                        .unwrap()
                        .as_str()
                        .to_owned(),
                    configuration.target_value().unwrap(),
                )
            })
            .collect()
    })
}

#[test]
fn an_ec2_group_with_room_to_grow_gets_a_cpu_policy_and_loses_it_when_the_room_goes() {
    let moto = Moto::start();
    let dir = environments_copy();
    run(&moto, dir.path(), &["apply", "development", "--auto-approve"], 0);
    assert!(group_policies(&moto).is_empty(), "min = max: nothing to scale");

    edit_environment(dir.path(), "development", "  max: 1\n", "  max: 3\n");
    let planned = run(&moto, dir.path(), &["plan", "development", "--detailed-exitcode"], 2);
    assert!(planned.contains("+ group_scaling group-scaling"), "{planned}");
    assert!(planned.contains("max: 1 → 3"), "{planned}");
    run(&moto, dir.path(), &["apply", "development", "--auto-approve"], 0);
    // A classic ELB counts no requests per target: CPU only.
    assert_eq!(
        group_policies(&moto),
        [("deployer-cpu".to_owned(), "ASGAverageCPUUtilization".to_owned(), 60.0)]
    );
    block_on(async {
        aws_sdk_autoscaling::Client::new(&moto.sdk_config())
            .set_desired_capacity()
            .auto_scaling_group_name("development-app")
            .desired_capacity(2)
            .send()
            .await
            .unwrap();
    });
    assert!(
        run(&moto, dir.path(), &["plan", "development", "--detailed-exitcode"], 0).contains("No changes."),
        "the scaler's capacity is not drift"
    );

    // No room left: the policy goes, and the file's count is the count again.
    edit_environment(dir.path(), "development", "  max: 3\n", "  max: 1\n");
    let planned = run(&moto, dir.path(), &["plan", "development", "--detailed-exitcode"], 2);
    assert!(planned.contains("- group_scaling group-scaling"), "{planned}");
    assert!(planned.contains("desired: 2 → 1"), "{planned}");
    run(&moto, dir.path(), &["apply", "development", "--auto-approve"], 0);
    assert!(group_policies(&moto).is_empty());
    assert!(run(&moto, dir.path(), &["plan", "development", "--detailed-exitcode"], 0).contains("No changes."));
}
