//! Test harness: a private moto server per test on a free loopback port, the real `deployer`
//! binary run against it, and an independent look at what is left in the emulator.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// moto imports every service on start; on a loaded 2-core CI machine that takes seconds.
const START_TIMEOUT: Duration = Duration::from_secs(90);

pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A moto server owned by one test, killed when the test ends (pass or panic).
pub(crate) struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub(crate) fn start() -> Self {
        let server =
            std::env::var_os("MOTO_SERVER").map_or_else(|| root().join(".venv/bin/moto_server"), PathBuf::from);
        assert!(
            server.exists(),
            "the AWS emulator is not installed at {}: run `cargo xtask setup` (or the whole suite with `cargo xtask test`)",
            server.display()
        );
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            // New ECS services otherwise never reach their desired count, and the ECS task
            // execution policy would not exist (see shared/MOTO.md).
            .env("MOTO_ECS_SERVICE_RUNNING", "4")
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < START_TIMEOUT,
                "moto_server did not start within {START_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// An EC2 client for checking the emulator independently of deployer's own code.
    pub(crate) fn ec2(&self) -> aws_sdk_ec2::Client {
        let config = aws_sdk_ec2::Config::builder()
            .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
            .region(aws_sdk_ec2::config::Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                "test", "test", None, None, "tests",
            ))
            .build();
        aws_sdk_ec2::Client::from_conf(config)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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
    /// Against `moto`, with dummy credentials, from the repository root.
    pub(crate) fn new(moto: &Moto) -> Self {
        let mut deployer = Self::offline();
        deployer
            .command
            .env("AWS_ENDPOINT_URL", &moto.endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test");
        deployer
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

/// Every EC2 resource in the emulator tagged `deployer:environment=<environment>` that still
/// exists (NAT gateways in state `deleted` linger on real AWS too, and do not count).
pub(crate) fn tagged_resources(moto: &Moto, environment: &str) -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let ec2 = moto.ec2();
        let tagged = aws_sdk_ec2::types::Filter::builder()
            .name("tag:deployer:environment")
            .values(environment)
            .build();
        let is_ours = |tags: &[aws_sdk_ec2::types::Tag]| {
            tags.iter()
                .any(|t| t.key() == Some("deployer:environment") && t.value() == Some(environment))
        };
        let mut left = Vec::new();
        let vpcs = ec2.describe_vpcs().filters(tagged.clone()).send().await.unwrap();
        left.extend(
            vpcs.vpcs()
                .iter()
                .filter(|v| is_ours(v.tags()))
                .filter_map(|v| v.vpc_id().map(str::to_owned)),
        );
        let subnets = ec2.describe_subnets().filters(tagged.clone()).send().await.unwrap();
        left.extend(
            subnets
                .subnets()
                .iter()
                .filter(|s| is_ours(s.tags()))
                .filter_map(|s| s.subnet_id().map(str::to_owned)),
        );
        let gateways = ec2
            .describe_internet_gateways()
            .filters(tagged.clone())
            .send()
            .await
            .unwrap();
        left.extend(
            gateways
                .internet_gateways()
                .iter()
                .filter(|g| is_ours(g.tags()))
                .filter_map(|g| g.internet_gateway_id().map(str::to_owned)),
        );
        let addresses = ec2.describe_addresses().filters(tagged.clone()).send().await.unwrap();
        left.extend(
            addresses
                .addresses()
                .iter()
                .filter(|a| is_ours(a.tags()))
                .filter_map(|a| a.allocation_id().map(str::to_owned)),
        );
        let nats = ec2.describe_nat_gateways().send().await.unwrap();
        left.extend(
            nats.nat_gateways()
                .iter()
                .filter(|n| is_ours(n.tags()) && n.state().is_none_or(|s| s.as_str() != "deleted"))
                .filter_map(|n| n.nat_gateway_id().map(str::to_owned)),
        );
        let tables = ec2
            .describe_route_tables()
            .filters(tagged.clone())
            .send()
            .await
            .unwrap();
        left.extend(
            tables
                .route_tables()
                .iter()
                .filter(|t| is_ours(t.tags()))
                .filter_map(|t| t.route_table_id().map(str::to_owned)),
        );
        let groups = ec2.describe_security_groups().filters(tagged).send().await.unwrap();
        left.extend(
            groups
                .security_groups()
                .iter()
                .filter(|g| is_ours(g.tags()))
                .filter_map(|g| g.group_id().map(str::to_owned)),
        );
        left
    })
}

/// Copies the repository's environment files into a temporary directory tests may edit.
pub(crate) fn environments_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(root().join("environments")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    dir
}
