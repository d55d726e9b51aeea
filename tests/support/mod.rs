//! Test harness: a private moto server per test on a free loopback port, the real `deployer`
//! binary run against it, and an independent look at what is left in the emulator.

pub(crate) mod api_model;
pub(crate) mod aws_rules;
pub(crate) mod iam_evaluator;
pub(crate) mod proxy;
pub(crate) mod registry;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// moto imports every service on start; on a loaded 2-core CI machine that takes seconds.
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// Runs `future` to completion: the tests are synchronous, the SDK is not.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// Waits until something listens on 127.0.0.1:`port`.
#[track_caller]
pub(crate) fn wait_for_port(port: u16, what: &str, timeout: Duration) {
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < timeout, "{what} did not start within {timeout:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A moto server owned by one test while it runs. When the test ends (pass or panic) it is
/// reset to empty and kept for a later test with the same settings: a fresh server spends
/// seconds of CPU loading each service on first use, and the suite is CPU-bound.
pub(crate) struct Moto {
    server: Option<Server>,
    /// Where deployer, the API and the tests' own SDK clients call: the strict proxy in
    /// front of the emulator, which refuses what AWS refuses (`proxy::Proxy::strict`).
    pub endpoint: String,
    pub(crate) strict: proxy::Proxy,
    /// What `Deployer::new` reads (see `prepare_environments`).
    environments: tempfile::TempDir,
    /// The access keys the harness's own clients sign with, and deployer's: moto's defaults
    /// until `enforce`, then an administrator's and a least-privileged operator's.
    admin: Keys,
    deployer: Keys,
    enforcing: bool,
    /// The policies deployer's user holds, as `deployer permissions` printed them.
    deployer_policies: Vec<serde_json::Value>,
}

/// An IAM user's access key.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    pub id: String,
    pub secret: String,
}

impl Default for Keys {
    fn default() -> Self {
        Self {
            id: "test".to_owned(),
            secret: "test".to_owned(),
        }
    }
}

/// The certificate production.yaml names until its owner puts theirs.
const PLACEHOLDER_CERTIFICATE: &str =
    "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-4000-8000-000000000000";

impl Moto {
    pub(crate) fn start() -> Self {
        Self::start_with_tasks(1)
    }

    /// The emulator reports this many running tasks for every new ECS service (see
    /// shared/MOTO.md); the deployer waits, as on real AWS, until running equals desired.
    pub(crate) fn start_with_tasks(ecs_tasks: u32) -> Self {
        Self::start_with_settings(ecs_tasks, &[])
    }

    /// With more of the emulator's settings (environment variables of moto_server).
    pub(crate) fn start_with_settings(ecs_tasks: u32, settings: &[(&str, &str)]) -> Self {
        let key = format!("{ecs_tasks} {settings:?}");
        let reused = {
            let mut idle = IDLE.lock().unwrap_or_else(|e| e.into_inner());
            idle.iter().position(|s| s.key == key).map(|at| idle.swap_remove(at))
        };
        let server = reused.unwrap_or_else(|| Server::start(key, ecs_tasks, settings));
        let strict = proxy::Proxy::strict(&format!("http://127.0.0.1:{}", server.port));
        let mut moto = Self {
            endpoint: strict.endpoint.clone(),
            strict,
            server: Some(server),
            environments: tempfile::tempdir().unwrap(),
            admin: Keys::default(),
            deployer: Keys::default(),
            enforcing: false,
            deployer_policies: Vec::new(),
        };
        moto.prepare_environments();
        moto
    }

    /// Requests an ACM certificate for `domain` (issued after MOTO_ACM_VALIDATION_WAIT
    /// seconds, 0 unless the test set it); its ARN.
    pub(crate) fn request_certificate(&self, domain: &str) -> String {
        block_on(async {
            aws_sdk_acm::Client::new(&self.sdk_config())
                .request_certificate()
                .domain_name(domain)
                .send()
                .await
                .unwrap()
                .certificate_arn()
                .unwrap()
                .to_owned()
        })
    }

    /// The repository's environments, with production's placeholder certificate replaced by
    /// one this emulator issued (production serves HTTPS, and deployer checks its certificate).
    fn prepare_environments(&mut self) {
        let certificate = self.request_certificate("api.example.com");
        for entry in std::fs::read_dir(root().join("environments")).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let text = text.replace(PLACEHOLDER_CERTIFICATE, &certificate);
            std::fs::write(self.environments.path().join(path.file_name().unwrap()), text).unwrap();
        }
    }

    /// A copy of the environments this emulator's deployer runs read, to edit.
    pub(crate) fn environments_copy(&self) -> tempfile::TempDir {
        copy_of(self.environments.path())
    }

    /// SDK configuration for checking the emulator independently of deployer's own code.
    pub(crate) fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .http_client(app::https_client())
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_ec2::config::SharedCredentialsProvider::new(
                aws_sdk_ec2::config::Credentials::new(&self.admin.id, &self.admin.secret, None, None, "tests"),
            ))
            .build()
    }

    /// From now on the emulator checks every call against its caller's IAM policies
    /// (shared/MOTO.md: it checks the action, not resources or conditions): the harness's own
    /// clients sign as an administrator, and deployer as a user holding exactly what
    /// `deployer permissions ENVIRONMENT --for deploy` prints.
    pub(crate) fn enforce_least_privilege(&mut self, environment: &str) {
        self.enforce();
        let (keys, policies) = self.operator_holding(environment, "deploy");
        self.deployer = keys;
        self.deployer_policies = policies;
    }

    /// Every call deployer made so far, read as the authorizations IAM makes for it
    /// (`iam_evaluator`: resources and conditions, which the emulator does not check), is
    /// allowed by the policies it holds; and each one that names `environment`'s resources is
    /// refused when aimed at another environment's. Needs `enforce_least_privilege`.
    pub(crate) fn assert_calls_scoped_to(&self, environment: &str) {
        use iam_evaluator::{Account, authorizations};
        let calls = self.strict.calls_so_far();
        let ours: Vec<&proxy::Call> = calls
            .iter()
            .filter(|c| c.key_id.as_deref() == Some(self.deployer.id.as_str()))
            .collect();
        assert!(ours.len() > 50, "only {} calls recorded as deployer's", ours.len());
        // Role and profile ARNs, from the calls that made them (their paths).
        let mut iam_arns = std::collections::BTreeMap::new();
        for call in &ours {
            let (key, kind) = match call.operation.as_str() {
                "CreateRole" => ("RoleName", "role"),
                "CreateInstanceProfile" => ("InstanceProfileName", "instance-profile"),
                _ => continue,
            };
            if let (Some(name), Some(path)) = (call.params.get(key), call.params.get("Path")) {
                iam_arns.insert(
                    format!("{kind}/{name}"),
                    format!("arn:aws:iam::123456789012:{kind}{path}{name}"),
                );
            }
        }
        let account = Account {
            account: "123456789012",
            region: "us-east-1",
            iam_arns: &iam_arns,
        };
        let other = if environment == "production" {
            "staging"
        } else {
            "production"
        };
        let (mut refused, mut leaks, mut checked) = (Vec::new(), Vec::new(), 0);
        for call in ours {
            let needed = authorizations(call, &account);
            for authorization in &needed {
                checked += 1;
                if !authorization.allowed(&self.deployer_policies) {
                    refused.push(format!("{authorization:?}"));
                }
            }
            // Aimed at the other environment, the call is refused when any authorization it
            // needs is. Calls AWS lets no policy scope (on `*`: lists, describes) read every
            // environment's, by design.
            let scoped = needed
                .iter()
                .any(|a| a.names(environment) && !a.unscoped(&self.deployer_policies));
            let theirs: Vec<_> = needed.iter().map(|a| a.aimed_at(environment, other)).collect();
            if scoped && theirs.iter().all(|a| a.allowed(&self.deployer_policies)) {
                leaks.push(format!("{} {theirs:?}", call.operation));
            }
        }
        assert!(
            refused.is_empty(),
            "{} of {checked} authorizations deployer needed are not in its policy:\n  {}",
            refused.len(),
            refused.join("\n  ")
        );
        assert!(
            leaks.is_empty(),
            "{} calls aimed at {other} are allowed by {environment}'s policy:\n  {}",
            leaks.len(),
            leaks.join("\n  ")
        );
    }

    /// Turns IAM enforcement on, with an administrator for the harness.
    pub(crate) fn enforce(&mut self) {
        if self.enforcing {
            return;
        }
        let everything = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{ "Effect": "Allow", "Action": "*", "Resource": "*" }],
        });
        self.admin = self.user_with("harness-admin", &[("everything".to_owned(), everything)]);
        self.strict.sign_own_calls_as(&self.admin.id, &self.admin.secret);
        self.set_auth("0");
        self.enforcing = true;
    }

    /// A new IAM user holding exactly the policies `deployer permissions ENVIRONMENT --for
    /// ROLE` prints (each a managed policy attached to the user), and its access key.
    pub(crate) fn operator(&self, environment: &str, role: &str) -> Keys {
        self.operator_holding(environment, role).0
    }

    /// `operator`, and the policies as printed.
    fn operator_holding(&self, environment: &str, role: &str) -> (Keys, Vec<serde_json::Value>) {
        let printed = Deployer::new(self)
            .signed_by(&self.admin)
            .args(["permissions", environment, "--for", role, "--json"])
            .run()
            .expect_status(0);
        let permissions: serde_json::Value = serde_json::from_str(&printed.stdout).unwrap();
        let printed: Vec<serde_json::Value> = permissions["policies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["document"].clone())
            .collect();
        let policies: Vec<(String, serde_json::Value)> = permissions["policies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["name"].as_str().unwrap().to_owned(), as_moto_checks(&p["document"])))
            .collect();
        (self.user_with(&format!("{environment}-{role}"), &policies), printed)
    }

    /// A new IAM user holding exactly `documents` (as moto can check them), and its key.
    pub(crate) fn user_holding(&self, name: &str, documents: &[serde_json::Value]) -> Keys {
        let policies: Vec<(String, serde_json::Value)> = documents
            .iter()
            .enumerate()
            .map(|(at, d)| (format!("policy-{at}"), as_moto_checks(d)))
            .collect();
        self.user_with(name, &policies)
    }

    /// SDK configuration signing as `keys`' user.
    pub(crate) fn sdk_config_as(&self, keys: &Keys) -> aws_config::SdkConfig {
        self.sdk_config()
            .into_builder()
            .credentials_provider(aws_sdk_ec2::config::SharedCredentialsProvider::new(
                aws_sdk_ec2::config::Credentials::new(&keys.id, &keys.secret, None, None, "tests"),
            ))
            .build()
    }

    /// Creates an IAM user with `policies` (managed, attached) and an access key.
    fn user_with(&self, name: &str, policies: &[(String, serde_json::Value)]) -> Keys {
        block_on(async {
            let iam = aws_sdk_iam::Client::new(&self.sdk_config());
            iam.create_user().user_name(name).send().await.unwrap();
            for (policy, document) in policies {
                let arn = iam
                    .create_policy()
                    .policy_name(format!("{name}-{policy}"))
                    .policy_document(document.to_string())
                    .send()
                    .await
                    .unwrap()
                    .policy()
                    .and_then(|p| p.arn())
                    .unwrap()
                    .to_owned();
                iam.attach_user_policy()
                    .user_name(name)
                    .policy_arn(arn)
                    .send()
                    .await
                    .unwrap();
            }
            let key = iam.create_access_key().user_name(name).send().await.unwrap();
            let key = key.access_key().unwrap();
            self.strict.know_key(key.access_key_id(), key.secret_access_key());
            Keys {
                id: key.access_key_id().to_owned(),
                secret: key.secret_access_key().to_owned(),
            }
        })
    }

    /// moto's switch for credential checks: `0` checks every later call, `inf` none.
    fn set_auth(&self, after: &str) {
        let port = self.server.as_ref().expect("a running server").port;
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let request = format!(
            "POST /moto-api/reset-auth HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{after}",
            after.len()
        );
        let mut answer = String::new();
        stream.write_all(request.as_bytes()).unwrap();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "reset-auth: {answer}");
    }

    pub(crate) fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.sdk_config())
    }
}

/// Servers whose test ended, emptied, waiting for a test with the same settings.
static IDLE: Mutex<Vec<Server>> = Mutex::new(Vec::new());

/// moto's server, ended by its own process when its stdin closes: when the test binary exits,
/// however it exits, its idle servers go with it.
const WATCHED_MOTO: &str = "import os, sys, threading\n\
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()\n\
from moto.server import main\n\
main(sys.argv[1:])\n";

/// One moto server; see `WATCHED_MOTO`.
struct Server {
    key: String,
    port: u16,
    child: Child,
    _lifeline: ChildStdin,
}

impl Server {
    fn start(key: String, ecs_tasks: u32, settings: &[(&str, &str)]) -> Self {
        let server =
            std::env::var_os("MOTO_SERVER").map_or_else(|| root().join(".venv/bin/moto_server"), PathBuf::from);
        assert!(
            server.exists(),
            "the AWS emulator is not installed at {}: run `cargo xtask setup` (or the whole suite with `cargo xtask test`)",
            server.display()
        );
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // moto_server's own Python, with a thread that ends the process when stdin closes.
        let mut child = Command::new(server.with_file_name("python3"))
            .args(["-c", WATCHED_MOTO, "-H", "127.0.0.1", "-p", &port.to_string()])
            // New ECS services otherwise never reach their desired count, and the ECS task
            // execution policy would not exist (see shared/MOTO.md).
            .env("MOTO_ECS_SERVICE_RUNNING", ecs_tasks.to_string())
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            // Requested certificates are issued at once unless a test says otherwise.
            .env("MOTO_ACM_VALIDATION_WAIT", "0")
            .envs(settings.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let lifeline = child.stdin.take().expect("a piped stdin");
        wait_for_port(port, "moto_server", START_TIMEOUT);
        Self {
            key,
            port,
            child,
            _lifeline: lifeline,
        }
    }

    /// Empties every service (moto's own reset API); false if the server did not answer.
    fn reset(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let request = format!(
            "POST /moto-api/reset HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        let mut answer = String::new();
        stream.write_all(request.as_bytes()).is_ok()
            && stream.read_to_string(&mut answer).is_ok()
            && answer.starts_with("HTTP/1.1 200")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let violations = self.strict.violations();
        if self.enforcing {
            self.set_auth("inf");
        }
        let Some(server) = self.server.take() else { return };
        if server.reset() {
            IDLE.lock().unwrap_or_else(|e| e.into_inner()).push(server);
        } else {
            let Server { mut child, .. } = server;
            let _ = child.kill();
            let _ = child.wait();
        }
        // A request AWS's API model refuses fails the test that made it, even when what
        // was sent it then survived the refusal.
        if !violations.is_empty() && !std::thread::panicking() {
            panic!(
                "requests that break AWS's API model (botocore), or that the test proxy failed on:\n  {}",
                violations.join("\n  ")
            );
        }
    }
}

/// The image tests run when they are not about pushing one.
pub(crate) const TEST_IMAGE: &str = "ghcr.io/deployer/api:1.0.0";

/// What one run of the binary did.
#[derive(Debug)]
pub(crate) struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub(crate) fn expect_status(self, status: i32) -> Self {
        assert_eq!(
            self.status, status,
            "unexpected exit status\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        assert!(
            !self.stderr.contains("panicked"),
            "the binary panicked:\n{}",
            self.stderr
        );
        self
    }
}

/// Builds one `deployer` invocation.
#[must_use]
pub(crate) struct Deployer {
    command: Command,
}

impl Deployer {
    /// Against `moto`, with dummy credentials, from the repository root, running
    /// `TEST_IMAGE` as an image built elsewhere (DEPLOYER_IMAGE, as a CI job would pass it);
    /// tests of the push path drop it with `without_image`.
    pub(crate) fn new(moto: &Moto) -> Self {
        let mut deployer = Self::offline();
        deployer
            .command
            .env("AWS_ENDPOINT_URL", &moto.endpoint)
            .env("AWS_ACCESS_KEY_ID", &moto.deployer.id)
            .env("AWS_SECRET_ACCESS_KEY", &moto.deployer.secret)
            .env("DEPLOYER_IMAGE", TEST_IMAGE)
            .env("DEPLOYER_ENVIRONMENTS", moto.environments.path());
        deployer
    }

    /// Signing as `keys`' user instead of the test's operator.
    pub(crate) fn signed_by(mut self, keys: &Keys) -> Self {
        self.command
            .env("AWS_ACCESS_KEY_ID", &keys.id)
            .env("AWS_SECRET_ACCESS_KEY", &keys.secret);
        self
    }

    /// Through `proxy` (faults, call records) instead of straight to the emulator.
    pub(crate) fn through(mut self, proxy: &proxy::Proxy) -> Self {
        self.command.env("AWS_ENDPOINT_URL", &proxy.endpoint);
        self
    }

    /// Starts the binary without waiting for it, output discarded: for tests that kill it.
    pub(crate) fn spawn(mut self) -> Child {
        self.command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start deployer")
    }

    /// Starts the binary with its stdout piped to the test (stderr discarded).
    pub(crate) fn spawn_with_stdout(mut self) -> Child {
        self.command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start deployer")
    }

    /// No image named: the environment runs what was pushed to its repository.
    pub(crate) fn without_image(mut self) -> Self {
        self.command.env_remove("DEPLOYER_IMAGE");
        self
    }

    /// No endpoint, no credentials: for commands that must not need AWS, or tests of their absence.
    pub(crate) fn offline() -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_deployer"));
        command.current_dir(root()).stdin(Stdio::null());
        for var in [
            "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "DEPLOYER_ENVIRONMENTS",
            "DEPLOYER_IMAGE",
            "DEPLOYER_REGISTRY_URL",
            "DEPLOYER_CONTAINER_ENGINE",
            "DEPLOYER_TIMEOUTS",
            "DEPLOYER_PLAN_KEY",
            "DEPLOYER_LOG_SECRETS",
        ] {
            command.env_remove(var);
        }
        // Never probe the EC2 metadata service or read the developer's ~/.aws.
        command
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
            .env("NO_COLOR", "1");
        Self { command }
    }

    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.command.args(args);
        self
    }

    pub(crate) fn env(mut self, key: &str, value: &str) -> Self {
        self.command.env(key, value);
        self
    }

    pub(crate) fn environments(self, dir: &Path) -> Self {
        self.args([std::ffi::OsStr::new("--environments"), dir.as_os_str()])
    }

    pub(crate) fn run(mut self) -> Run {
        let output = self.command.output().expect("run deployer");
        Run {
            status: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Everything in the emulator tagged `deployer:environment=<environment>` that still exists,
/// across every service deployer uses, found with the SDK directly (not through deployer).
/// NAT gateways in state `deleted` linger on real AWS too, and do not count.
pub(crate) fn tagged_resources(moto: &Moto, environment: &str) -> Vec<String> {
    block_on(async {
        let config = moto.sdk_config();
        let mut left = Vec::new();
        left.extend(ec2_leftovers(&aws_sdk_ec2::Client::new(&config), environment).await);
        left.extend(load_balancer_leftovers(&config, environment).await);
        left.extend(compute_leftovers(&config, environment).await);
        left.extend(database_leftovers(&aws_sdk_rds::Client::new(&config), environment).await);
        left.extend(repository_leftovers(&aws_sdk_ecr::Client::new(&config), environment).await);
        left.extend(log_group_leftovers(&aws_sdk_cloudwatchlogs::Client::new(&config), environment).await);
        left.extend(bucket_leftovers(&s3_client(&config), environment).await);
        left
    })
}

/// Replaces the first `from` in `<dir>/<environment>.yaml` with `to` (and fails the test when
/// the file has no `from`: a silently missed edit would test nothing).
/// The container definitions of the task definition `cluster`'s service `api` runs, as ECS
/// registered them.
pub(crate) fn running_containers(moto: &Moto, cluster: &str) -> Vec<aws_sdk_ecs::types::ContainerDefinition> {
    let config = moto.sdk_config();
    block_on(async {
        let ecs = aws_sdk_ecs::Client::new(&config);
        let services = ecs
            .describe_services()
            .cluster(cluster)
            .services("api")
            .send()
            .await
            .unwrap();
        let definition = services.services()[0].task_definition().unwrap().to_owned();
        let described = ecs
            .describe_task_definition()
            .task_definition(definition)
            .send()
            .await
            .unwrap();
        described.task_definition().unwrap().container_definitions().to_vec()
    })
}

/// Puts a one-layer image manifest into the emulator's ECR repository `repository`, tagged
/// `tag`, as a push would; returns its reference by digest (`<uri>@sha256:...`).
pub(crate) fn put_image(moto: &Moto, repository: &str, tag: &str) -> String {
    let config = moto.sdk_config();
    block_on(async {
        let ecr = aws_sdk_ecr::Client::new(&config);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023, "digest": format!("sha256:{}", "c".repeat(64))},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 32654, "digest": format!("sha256:{:0>64}", tag.replace('.', ""))}]
        });
        let put = ecr
            .put_image()
            .repository_name(repository)
            .image_manifest(manifest.to_string())
            .image_tag(tag)
            .send()
            .await
            .expect("PutImage");
        let digest = put
            .image()
            .and_then(|i| i.image_id())
            .and_then(|i| i.image_digest())
            .unwrap()
            .to_owned();
        let described = ecr
            .describe_repositories()
            .repository_names(repository)
            .send()
            .await
            .unwrap();
        let uri = described.repositories()[0].repository_uri().unwrap().to_owned();
        format!("{uri}@{digest}")
    })
}

pub(crate) fn edit_environment(dir: &Path, environment: &str, from: &str, to: &str) {
    let path = dir.join(format!("{environment}.yaml"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{environment}.yaml has no `{from}`");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// A policy document as IAM answers it (URL-encoded JSON), parsed.
pub(crate) fn iam_document(encoded: &str) -> serde_json::Value {
    let text = percent_encoding::percent_decode_str(encoded).decode_utf8_lossy();
    serde_json::from_str(&text).unwrap()
}

/// deployer's inline policy (named `deployer`) on `role`, read back from IAM.
pub(crate) fn deployer_policy(moto: &Moto, role: &str) -> serde_json::Value {
    block_on(async {
        let iam = aws_sdk_iam::Client::new(&moto.sdk_config());
        let output = iam
            .get_role_policy()
            .role_name(role)
            .policy_name("deployer")
            .send()
            .await
            .unwrap();
        iam_document(output.policy_document())
    })
}

/// S3 against the emulator: path-style, as deployer itself addresses it there.
pub(crate) fn s3_client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(config).force_path_style(true).build())
}

async fn bucket_leftovers(s3: &aws_sdk_s3::Client, environment: &str) -> Vec<String> {
    let mut left = Vec::new();
    for bucket in s3.list_buckets().send().await.unwrap().buckets() {
        let name = bucket.name().unwrap_or_default();
        let Ok(tags) = s3.get_bucket_tagging().bucket(name).send().await else {
            continue;
        };
        if tags
            .tag_set()
            .iter()
            .any(|t| t.key() == "deployer:environment" && t.value() == environment)
        {
            left.push(format!("bucket {name}"));
        }
    }
    left
}

async fn log_group_leftovers(logs: &aws_sdk_cloudwatchlogs::Client, environment: &str) -> Vec<String> {
    let mut left = Vec::new();
    for group in logs.describe_log_groups().send().await.unwrap().log_groups() {
        let Some(arn) = group.log_group_arn() else { continue };
        let tags = logs.list_tags_for_resource().resource_arn(arn).send().await.unwrap();
        if tags
            .tags()
            .and_then(|t| t.get("deployer:environment"))
            .is_some_and(|e| e == environment)
        {
            left.push(format!("log group {}", group.log_group_name().unwrap_or_default()));
        }
    }
    left
}

async fn repository_leftovers(ecr: &aws_sdk_ecr::Client, environment: &str) -> Vec<String> {
    let mut left = Vec::new();
    for repository in ecr.describe_repositories().send().await.unwrap().repositories() {
        let arn = repository.repository_arn().unwrap();
        let tags = ecr.list_tags_for_resource().resource_arn(arn).send().await.unwrap();
        if tags
            .tags()
            .iter()
            .any(|t| t.key() == "deployer:environment" && t.value() == environment)
        {
            left.push(repository.repository_name().unwrap().to_owned());
        }
    }
    left
}

fn tagged_ec2(tags: &[aws_sdk_ec2::types::Tag], environment: &str) -> bool {
    tags.iter()
        .any(|t| t.key() == Some("deployer:environment") && t.value() == Some(environment))
}

async fn ec2_leftovers(ec2: &aws_sdk_ec2::Client, environment: &str) -> Vec<String> {
    let ours = |tags: &[aws_sdk_ec2::types::Tag]| tagged_ec2(tags, environment);
    let mut left = Vec::new();
    let vpcs = ec2.describe_vpcs().send().await.unwrap();
    left.extend(
        vpcs.vpcs()
            .iter()
            .filter(|v| ours(v.tags()))
            .filter_map(|v| v.vpc_id().map(str::to_owned)),
    );
    let subnets = ec2.describe_subnets().send().await.unwrap();
    left.extend(
        subnets
            .subnets()
            .iter()
            .filter(|s| ours(s.tags()))
            .filter_map(|s| s.subnet_id().map(str::to_owned)),
    );
    let gateways = ec2.describe_internet_gateways().send().await.unwrap();
    left.extend(
        gateways
            .internet_gateways()
            .iter()
            .filter(|g| ours(g.tags()))
            .filter_map(|g| g.internet_gateway_id().map(str::to_owned)),
    );
    let addresses = ec2.describe_addresses().send().await.unwrap();
    left.extend(
        addresses
            .addresses()
            .iter()
            .filter(|a| ours(a.tags()))
            .filter_map(|a| a.allocation_id().map(str::to_owned)),
    );
    let nats = ec2.describe_nat_gateways().send().await.unwrap();
    left.extend(
        nats.nat_gateways()
            .iter()
            .filter(|n| ours(n.tags()) && n.state().is_none_or(|s| s.as_str() != "deleted"))
            .filter_map(|n| n.nat_gateway_id().map(str::to_owned)),
    );
    let tables = ec2.describe_route_tables().send().await.unwrap();
    left.extend(
        tables
            .route_tables()
            .iter()
            .filter(|t| ours(t.tags()))
            .filter_map(|t| t.route_table_id().map(str::to_owned)),
    );
    let groups = ec2.describe_security_groups().send().await.unwrap();
    left.extend(
        groups
            .security_groups()
            .iter()
            .filter(|g| ours(g.tags()))
            .filter_map(|g| g.group_id().map(str::to_owned)),
    );
    let templates = ec2.describe_launch_templates().send().await.unwrap();
    left.extend(
        templates
            .launch_templates()
            .iter()
            .filter(|t| ours(t.tags()))
            .filter_map(|t| t.launch_template_id().map(str::to_owned)),
    );
    let reservations = ec2.describe_instances().send().await.unwrap();
    left.extend(
        reservations
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter(|i| {
                ours(i.tags())
                    && i.state()
                        .and_then(|s| s.name())
                        .is_none_or(|s| s.as_str() != "terminated")
            })
            .filter_map(|i| i.instance_id().map(str::to_owned)),
    );
    left
}

async fn load_balancer_leftovers(config: &aws_config::SdkConfig, environment: &str) -> Vec<String> {
    let mut left = Vec::new();
    let elb = aws_sdk_elasticloadbalancing::Client::new(config);
    for balancer in elb
        .describe_load_balancers()
        .send()
        .await
        .unwrap()
        .load_balancer_descriptions()
    {
        let name = balancer.load_balancer_name().unwrap().to_owned();
        let tags = elb.describe_tags().load_balancer_names(&name).send().await.unwrap();
        let ours = tags
            .tag_descriptions()
            .iter()
            .flat_map(|d| d.tags())
            .any(|t| t.key() == "deployer:environment" && t.value() == Some(environment));
        if ours {
            left.push(name);
        }
    }
    let elbv2 = aws_sdk_elasticloadbalancingv2::Client::new(config);
    let mut arns: Vec<String> = elbv2
        .describe_load_balancers()
        .send()
        .await
        .unwrap()
        .load_balancers()
        .iter()
        .filter_map(|b| b.load_balancer_arn().map(str::to_owned))
        .collect();
    arns.extend(
        elbv2
            .describe_target_groups()
            .send()
            .await
            .unwrap()
            .target_groups()
            .iter()
            .filter_map(|g| g.target_group_arn().map(str::to_owned)),
    );
    for arn in arns {
        let tags = elbv2.describe_tags().resource_arns(&arn).send().await.unwrap();
        let ours = tags
            .tag_descriptions()
            .iter()
            .flat_map(|d| d.tags())
            .any(|t| t.key() == Some("deployer:environment") && t.value() == Some(environment));
        if ours {
            left.push(arn);
        }
    }
    left
}

async fn compute_leftovers(config: &aws_config::SdkConfig, environment: &str) -> Vec<String> {
    let mut left = Vec::new();
    let asg = aws_sdk_autoscaling::Client::new(config);
    for group in asg
        .describe_auto_scaling_groups()
        .send()
        .await
        .unwrap()
        .auto_scaling_groups()
    {
        if group
            .tags()
            .iter()
            .any(|t| t.key() == Some("deployer:environment") && t.value() == Some(environment))
        {
            left.push(group.auto_scaling_group_name().unwrap_or_default().to_owned());
        }
    }
    let ecs = aws_sdk_ecs::Client::new(config);
    let clusters = ecs.list_clusters().send().await.unwrap().cluster_arns().to_vec();
    if !clusters.is_empty() {
        let described = ecs
            .describe_clusters()
            .set_clusters(Some(clusters.clone()))
            .include(aws_sdk_ecs::types::ClusterField::Tags)
            .send()
            .await
            .unwrap();
        for cluster in described.clusters() {
            let ours = cluster
                .tags()
                .iter()
                .any(|t| t.key() == Some("deployer:environment") && t.value() == Some(environment));
            if ours && cluster.status() != Some("INACTIVE") {
                left.push(cluster.cluster_arn().unwrap_or_default().to_owned());
            }
        }
        for cluster in clusters {
            let services = ecs
                .list_services()
                .cluster(&cluster)
                .send()
                .await
                .unwrap()
                .service_arns()
                .to_vec();
            if services.is_empty() {
                continue;
            }
            let described = ecs
                .describe_services()
                .cluster(&cluster)
                .set_services(Some(services))
                .send()
                .await
                .unwrap();
            left.extend(
                described
                    .services()
                    .iter()
                    .filter(|s| {
                        s.status() != Some("INACTIVE")
                            && s.service_arn()
                                .unwrap_or_default()
                                .contains(&format!("/{environment}/"))
                    })
                    .filter_map(|s| s.service_arn().map(str::to_owned)),
            );
        }
    }
    let definitions = ecs
        .list_task_definitions()
        .family_prefix(format!("{environment}-api"))
        .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
        .send()
        .await
        .unwrap();
    left.extend(definitions.task_definition_arns().iter().cloned());
    let iam = aws_sdk_iam::Client::new(config);
    let path = format!("/deployer/{environment}/");
    left.extend(
        iam.list_roles()
            .path_prefix(&path)
            .send()
            .await
            .unwrap()
            .roles()
            .iter()
            .map(|r| r.arn().to_owned()),
    );
    left.extend(
        iam.list_instance_profiles()
            .path_prefix(&path)
            .send()
            .await
            .unwrap()
            .instance_profiles()
            .iter()
            .map(|p| p.arn().to_owned()),
    );
    left
}

async fn database_leftovers(rds: &aws_sdk_rds::Client, environment: &str) -> Vec<String> {
    let ours = |tags: &[aws_sdk_rds::types::Tag]| {
        tags.iter()
            .any(|t| t.key() == Some("deployer:environment") && t.value() == Some(environment))
    };
    let mut left = Vec::new();
    let clusters = rds.describe_db_clusters().send().await.unwrap();
    left.extend(
        clusters
            .db_clusters()
            .iter()
            .filter(|c| ours(c.tag_list()))
            .filter_map(|c| c.db_cluster_identifier().map(str::to_owned)),
    );
    let instances = rds.describe_db_instances().send().await.unwrap();
    left.extend(
        instances
            .db_instances()
            .iter()
            .filter(|i| ours(i.tag_list()))
            .filter_map(|i| i.db_instance_identifier().map(str::to_owned)),
    );
    let groups = rds.describe_db_subnet_groups().send().await.unwrap();
    left.extend(
        groups
            .db_subnet_groups()
            .iter()
            .filter_map(|g| g.db_subnet_group_name())
            .filter(|name| name.starts_with(&format!("{environment}-")))
            .map(str::to_owned),
    );
    left
}

/// Copies the repository's environment files into a temporary directory tests may edit.
pub(crate) fn environments_copy() -> tempfile::TempDir {
    copy_of(&root().join("environments"))
}

/// Every file of `dir`, copied into a new temporary directory.
fn copy_of(dir: &Path) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, copy.path().join(path.file_name().unwrap())).unwrap();
    }
    copy
}

/// The ARN of `environment`'s target group (`<env>-app-<hash>`: the hash changes with what
/// forces a replacement), found through the SDK directly.
pub(crate) async fn target_group_arn(elbv2: &aws_sdk_elasticloadbalancingv2::Client, environment: &str) -> String {
    let groups = elbv2.describe_target_groups().send().await.unwrap();
    let ours: Vec<&str> = groups
        .target_groups()
        .iter()
        .filter(|g| {
            g.target_group_name()
                .is_some_and(|n| n.starts_with(&format!("{environment}-app-")))
        })
        .filter_map(|g| g.target_group_arn())
        .collect();
    assert_eq!(ours.len(), 1, "one target group for {environment}: {ours:?}");
    ours[0].to_owned()
}

/// A policy as moto can check it, which is by action alone (what deployer prints stays AWS's
/// own; its scoping is checked by `permission_scope`'s evaluator instead):
/// - moto matches a statement's `Resource` against `*` (it knows no request's resource but
///   S3's), so a scoped statement would never match: every statement is on `*`;
/// - it evaluates conditions with no request context, so any condition fails, and a failed
///   condition refuses the whole request even in an Allow: conditions are dropped;
/// - it names CloudWatch's actions after the signing name, `monitoring:<Action>`
///   (shared/MOTO.md), so each `cloudwatch:` action is granted under that name too;
/// - it checks S3 calls whose sub-resource its table misspells (`public_access_block` for
///   `?publicAccessBlock`, no `encryption`) as the method's default, `s3:ListBucket` for a GET
///   and `s3:CreateBucket` for a PUT: granted with the actions IAM names for them.
fn as_moto_checks(document: &serde_json::Value) -> serde_json::Value {
    let mut document = document.clone();
    for statement in document["Statement"].as_array_mut().unwrap() {
        let statement = statement.as_object_mut().unwrap();
        statement.insert("Resource".to_owned(), "*".into());
        statement.remove("Condition");
        let actions = statement.get_mut("Action").unwrap().as_array_mut().unwrap();
        let renamed: Vec<serde_json::Value> = actions
            .iter()
            .filter_map(|a| {
                let a = a.as_str()?;
                if let Some(rest) = a.strip_prefix("cloudwatch:") {
                    return Some(format!("monitoring:{rest}").into());
                }
                match a {
                    "s3:GetBucketPublicAccessBlock" | "s3:GetEncryptionConfiguration" => Some("s3:ListBucket".into()),
                    _ => None,
                }
            })
            .collect();
        actions.extend(renamed);
    }
    document
}
