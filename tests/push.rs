//! Issue 9: build and push the API's image to the environment's own repository, and deploy
//! what was pushed, by digest. A real engine (buildah) and a real registry on loopback; the
//! emulator's ECR API for the repository, the login token and the image record.

use std::path::Path;

use crate::support::registry::Registry;
use crate::support::{Deployer, Moto, block_on, tagged_resources};

/// The emulator's ECR login for its default account (GetAuthorizationToken).
const ECR_USER: &str = "AWS";
const ECR_PASSWORD: &str = "123456789012-auth-token";
const REPOSITORY: &str = "deployer/staging/api";
const REPOSITORY_URI: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/deployer/staging/api";

/// A build context the base-image-less machine can build: one file on `scratch`.
fn fixture(content: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY hello.txt /hello.txt\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("hello.txt"), content).unwrap();
    dir
}

fn push_args<'a>(registry: &'a str, context: &'a Path) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = ["--engine", "buildah", "--registry-url", registry, "--context"]
        .iter()
        .map(Into::into)
        .collect();
    args.push(context.into());
    args.push("--dockerfile".into());
    args.push(context.join("Dockerfile").into());
    args
}

/// The image the staging task definition runs now.
fn task_definition_image(moto: &Moto) -> String {
    block_on(async {
        let ecs = aws_sdk_ecs::Client::new(&moto.sdk_config());
        let family = ecs
            .describe_task_definition()
            .task_definition("staging-api")
            .send()
            .await
            .unwrap();
        family.task_definition().unwrap().container_definitions()[0]
            .image()
            .unwrap()
            .to_owned()
    })
}

/// What a push to ECR records by itself, and the emulator cannot: the image, its tag and the
/// registry's digest, in the repository's image list.
fn record_push_in_ecr(moto: &Moto, registry: &Registry, tag: &str) -> String {
    let (manifest, digest) = registry.manifest(REPOSITORY, tag);
    block_on(async {
        let ecr = aws_sdk_ecr::Client::new(&moto.sdk_config());
        ecr.put_image()
            .repository_name(REPOSITORY)
            .image_manifest(manifest)
            .image_tag(tag)
            .image_digest(&digest)
            .send()
            .await
            .unwrap();
    });
    digest
}

/// `<registry>/<repository>@sha256:...` from push's output.
fn pushed_digest(stdout: &str, registry: &Registry) -> String {
    let prefix = format!("127.0.0.1:{}/{REPOSITORY}@", registry.port);
    let line = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no pushed reference in:\n{stdout}"));
    assert!(line.starts_with("sha256:") && line.len() == 71, "{line}");
    line.to_owned()
}

#[test]
fn push_then_apply_runs_the_pushed_digest_and_apply_build_rolls_a_new_one() {
    // As the least-privileged operator: push and apply --build need nothing beyond the deploy policy.
    let mut moto = Moto::start_with_tasks(2);
    moto.enforce_least_privilege("staging");
    let registry = Registry::start(ECR_USER, ECR_PASSWORD);
    let context = fixture(&format!("first build {:?}", std::time::SystemTime::now()));

    // Nothing pushed, no image named: plan says so and names the command.
    let nothing = Deployer::new(&moto)
        .without_image()
        .args(["plan", "staging"])
        .run()
        .expect_status(1);
    assert!(
        nothing
            .stderr
            .contains("nothing has been pushed to its repository deployer/staging/api"),
        "{}",
        nothing.stderr
    );
    assert!(
        nothing.stderr.contains("`deployer apply staging --build`"),
        "{}",
        nothing.stderr
    );

    // The first push creates the repository, logs in with ECR's token, and pushes.
    let push = Deployer::new(&moto)
        .without_image()
        .args(["push", "staging", "--tag", "first"])
        .args(push_args(&registry.url(), context.path()))
        .run()
        .expect_status(0);
    assert!(
        push.stdout.contains("Created the repository deployer/staging/api."),
        "{}",
        push.stdout
    );
    let digest = pushed_digest(&push.stdout, &registry);
    assert!(push.stdout.contains("tag first"), "{}", push.stdout);

    // Once the repository exists, a role holding only `permissions --for push` pushes.
    let pusher = moto.operator("staging", "push");
    let again = Deployer::new(&moto)
        .signed_by(&pusher)
        .without_image()
        .args(["push", "staging", "--tag", "by-the-push-role"])
        .args(push_args(&registry.url(), context.path()))
        .run()
        .expect_status(0);
    assert!(again.stdout.contains("tag by-the-push-role"), "{}", again.stdout);
    assert!(!format!("{}{}", push.stdout, push.stderr).contains(ECR_PASSWORD));
    // What the registry stored is what push printed.
    assert_eq!(registry.manifest(REPOSITORY, "first").1, digest);

    // The repository as the issue asks for it.
    block_on(async {
        let ecr = aws_sdk_ecr::Client::new(&moto.sdk_config());
        let repositories = ecr
            .describe_repositories()
            .repository_names(REPOSITORY)
            .send()
            .await
            .unwrap();
        let repository = &repositories.repositories()[0];
        assert_eq!(repository.image_tag_mutability().unwrap().as_str(), "IMMUTABLE");
        assert!(repository.image_scanning_configuration().unwrap().scan_on_push());
        assert_eq!(
            repository
                .encryption_configuration()
                .unwrap()
                .encryption_type()
                .as_str(),
            "AES256"
        );
        let policy = ecr
            .get_lifecycle_policy()
            .repository_name(REPOSITORY)
            .send()
            .await
            .unwrap();
        let policy: serde_json::Value = serde_json::from_str(policy.lifecycle_policy_text().unwrap()).unwrap();
        assert_eq!(policy["rules"][0]["selection"]["countNumber"], 30);
    });

    // Apply runs the last push, by digest.
    assert_eq!(record_push_in_ecr(&moto, &registry, "first"), digest);
    let apply = Deployer::new(&moto)
        .without_image()
        .args(["apply", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    let expected = format!("{REPOSITORY_URI}@{digest}");
    assert!(
        apply.stdout.contains(&format!("Image: {expected} (tag first")),
        "{}",
        apply.stdout
    );
    assert_eq!(task_definition_image(&moto), expected);
    let output = Deployer::new(&moto).args(["output", "staging"]).run().expect_status(0);
    assert!(
        output
            .stdout
            .contains(&format!("registry_url       = {REPOSITORY_URI}")),
        "{}",
        output.stdout
    );

    // apply --build: a changed source becomes a new digest, deployed without another lookup.
    std::fs::write(context.path().join("hello.txt"), "second build").unwrap();
    let build = Deployer::new(&moto)
        .without_image()
        .args(["apply", "staging", "--build", "--auto-approve", "--tag", "second"])
        .args(push_args(&registry.url(), context.path()))
        .run()
        .expect_status(0);
    let second = pushed_digest(&build.stdout, &registry);
    assert_ne!(second, digest);
    assert!(build.stdout.contains("1 changed"), "{}", build.stdout);
    assert_eq!(task_definition_image(&moto), format!("{REPOSITORY_URI}@{second}"));

    // Destroy takes the repository, images and all.
    Deployer::new(&moto)
        .args(["destroy", "staging", "--auto-approve"])
        .run()
        .expect_status(0);
    assert_eq!(tagged_resources(&moto, "staging"), Vec::<String>::new());
}

#[test]
fn a_refused_login_names_the_registry_and_never_shows_the_token() {
    let moto = Moto::start();
    let registry = Registry::start(ECR_USER, "not-the-token");
    let context = fixture("refused");
    let push = Deployer::new(&moto)
        .without_image()
        .args(["push", "staging", "--tag", "refused"])
        .args(push_args(&registry.url(), context.path()))
        .run()
        .expect_status(1);
    assert!(
        push.stderr
            .contains(&format!("the registry 127.0.0.1:{} refused the login", registry.port)),
        "{}",
        push.stderr
    );
    assert!(
        push.stderr.contains("help: check that your AWS identity may push"),
        "{}",
        push.stderr
    );
    assert!(!format!("{}{}", push.stdout, push.stderr).contains(ECR_PASSWORD));
}

#[test]
fn a_failed_build_shows_the_engines_last_lines() {
    let moto = Moto::start();
    let context = fixture("broken");
    std::fs::write(context.path().join("Dockerfile"), "FROM scratch\nCOPY missing.txt /\n").unwrap();
    let push = Deployer::new(&moto)
        .without_image()
        .args(["push", "staging", "--tag", "broken"])
        .args(push_args("http://127.0.0.1:9", context.path()))
        .run()
        .expect_status(1);
    assert!(push.stderr.contains("building the image: `"), "{}", push.stderr);
    assert!(push.stderr.contains("  | "), "the engine's own lines: {}", push.stderr);
    assert!(push.stderr.contains("missing.txt"), "{}", push.stderr);
    assert!(push.stderr.contains("nothing was pushed"), "{}", push.stderr);
}

#[test]
fn without_an_engine_push_names_each_one_it_looked_for() {
    let empty = tempfile::tempdir().unwrap();
    let context = fixture("no engine");
    let push = Deployer::offline()
        .env("PATH", empty.path().to_str().unwrap())
        .args(["push", "staging", "--tag", "x", "--context"])
        .args([context.path()])
        .args(["--dockerfile"])
        .args([context.path().join("Dockerfile")])
        .run()
        .expect_status(1);
    assert!(
        push.stderr.contains(
            "no usable container engine: docker is not installed; podman is not installed; buildah is not installed"
        ),
        "{}",
        push.stderr
    );
    assert!(
        push.stderr.contains("--engine or DEPLOYER_CONTAINER_ENGINE"),
        "{}",
        push.stderr
    );
}

#[test]
fn plain_http_to_another_machine_is_refused_before_anything_runs() {
    let context = fixture("remote");
    let push = Deployer::offline()
        .args([
            "push",
            "staging",
            "--tag",
            "x",
            "--registry-url",
            "http://10.1.2.3:5000",
            "--context",
        ])
        .args([context.path()])
        .run()
        .expect_status(1);
    assert!(
        push.stderr
            .contains("plain http is allowed only for a loopback address"),
        "{}",
        push.stderr
    );
}
