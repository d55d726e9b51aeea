//! Saved plans: `plan --out`, `show`, and `apply FILE`, which carries out exactly what was
//! reviewed or refuses when the file, the account or the environment changed since.

use crate::support::{Deployer, Moto, block_on, edit_environment, environments_copy};

#[test]
fn a_saved_plan_is_shown_and_applied_exactly_once() {
    let moto = Moto::start_with_tasks(2);
    let dir = environments_copy();
    let plans = tempfile::tempdir().unwrap();
    let first = plans.path().join("staging.plan");
    let first_arg = first.to_str().unwrap();

    let planned = Deployer::new(&moto)
        .environments(dir.path())
        .args(["plan", "staging", "--out", first_arg])
        .run()
        .expect_status(0);
    assert!(planned.stdout.contains("Plan: 38 to add"), "{}", planned.stdout);
    assert!(
        planned
            .stdout
            .contains(&format!("To carry out exactly this plan: deployer apply {first_arg}")),
        "{}",
        planned.stdout
    );

    let shown = Deployer::new(&moto).args(["show", first_arg]).run().expect_status(0);
    assert!(
        shown.stdout.contains("Saved plan for staging, made "),
        "{}",
        shown.stdout
    );
    assert!(shown.stdout.contains("+ vpc vpc"), "{}", shown.stdout);
    assert!(
        shown.stdout.contains("Plan: 38 to add, 0 to change, 0 to destroy."),
        "{}",
        shown.stdout
    );
    assert!(!shown.stdout.contains('\u{1b}'), "no terminal colours in a file");
    let json = Deployer::new(&moto)
        .args(["show", first_arg, "--json"])
        .run()
        .expect_status(0);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["summary"]["add"], 38, "{json}");

    // Carried out without a question (the review was the question).
    let applied = Deployer::new(&moto)
        .environments(dir.path())
        .args(["apply", first_arg])
        .run()
        .expect_status(0);
    assert!(
        applied.stdout.contains("Apply complete! Resources: 38 added"),
        "{}",
        applied.stdout
    );
    Deployer::new(&moto)
        .environments(dir.path())
        .args(["plan", "staging", "--detailed-exitcode"])
        .run()
        .expect_status(0);

    // The environment it was made from no longer exists: applying it again is refused.
    let again = Deployer::new(&moto)
        .environments(dir.path())
        .args(["apply", first_arg])
        .run()
        .expect_status(1);
    assert!(
        again.stderr.contains("staging changed in AWS since the plan was made"),
        "{}",
        again.stderr
    );
    assert!(
        again.stderr.contains("vpc (vpc-"),
        "names what changed: {}",
        again.stderr
    );
    assert!(
        again
            .stderr
            .contains(&format!("run `deployer plan staging --out {first_arg}` again")),
        "{}",
        again.stderr
    );
}

#[test]
fn a_saved_plan_is_refused_when_its_file_or_the_environment_changed() {
    let moto = Moto::start_with_tasks(2);
    let dir = environments_copy();
    Deployer::new(&moto)
        .environments(dir.path())
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);

    let plans = tempfile::tempdir().unwrap();
    let file = plans.path().join("scale.plan");
    let file_arg = file.to_str().unwrap();
    edit_environment(dir.path(), "staging", "  max: 4\n", "  max: 5\n");
    Deployer::new(&moto)
        .environments(dir.path())
        .args(["plan", "staging", "--out", file_arg])
        .run()
        .expect_status(0);

    // The file changed after the review.
    edit_environment(dir.path(), "staging", "  max: 5\n", "  max: 6\n");
    let refused = Deployer::new(&moto)
        .environments(dir.path())
        .args(["apply", file_arg])
        .run()
        .expect_status(1);
    assert!(
        refused.stderr.contains("staging.yaml changed since the plan was made"),
        "{}",
        refused.stderr
    );
    edit_environment(dir.path(), "staging", "  max: 6\n", "  max: 5\n");

    // Someone changed the environment in AWS after the review.
    block_on(async {
        let ec2 = moto.ec2();
        let vpcs = ec2
            .describe_vpcs()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("tag:deployer:environment")
                    .values("staging")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let vpc = vpcs.vpcs()[0].vpc_id().unwrap().to_owned();
        ec2.create_tags()
            .resources(vpc)
            .tags(aws_sdk_ec2::types::Tag::builder().key("owner").value("someone").build())
            .send()
            .await
            .unwrap();
    });
    let refused = Deployer::new(&moto)
        .environments(dir.path())
        .args(["apply", file_arg])
        .run()
        .expect_status(1);
    assert!(
        refused
            .stderr
            .contains("staging changed in AWS since the plan was made"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("vpc (vpc-"), "{}", refused.stderr);
    assert!(refused.stderr.contains(") changed"), "{}", refused.stderr);

    // Made again and applied: the scaling's max and the VPC's tags, nothing else.
    Deployer::new(&moto)
        .environments(dir.path())
        .args(["plan", "staging", "--out", file_arg])
        .run()
        .expect_status(0);
    let applied = Deployer::new(&moto)
        .environments(dir.path())
        .args(["apply", file_arg])
        .run()
        .expect_status(0);
    assert!(
        applied.stdout.contains("Apply complete! Resources: 0 added, 2 changed"),
        "{}",
        applied.stdout
    );

    // Not a plan, and a plan with an image of its own, are refused with what to do.
    let bogus = plans.path().join("bogus.plan");
    std::fs::write(&bogus, "{\"hello\": 1}").unwrap();
    let refused = Deployer::new(&moto)
        .environments(dir.path())
        .args(["apply", bogus.to_str().unwrap()])
        .run()
        .expect_status(1);
    assert!(
        refused
            .stderr
            .contains("is not a plan written by `deployer plan ENV --out FILE`"),
        "{}",
        refused.stderr
    );
    let refused = Deployer::new(&moto)
        .environments(dir.path())
        .args(["apply", file_arg, "--image", "ghcr.io/x/api:1"])
        .run()
        .expect_status(1);
    assert!(
        refused
            .stderr
            .contains("a saved plan is applied with the image it was made with"),
        "{}",
        refused.stderr
    );
}
