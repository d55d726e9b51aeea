//! Development tasks: `cargo xtask setup | moto | demo | test | fuzz | bench` (`USAGE` says
//! what each does).
//!
//! Everything a fresh machine needs beyond the Rust toolchain and python3 is installed here,
//! into the project (`.venv/`), idempotently.
//! A developer tool: it talks to the developer on the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  setup       install the local AWS emulator (moto) and linters into .venv/, and buildah and
              docker-registry (Debian packages) for the push tests (idempotent)
  moto [PORT] run the emulator in the foreground on 127.0.0.1 (default port 5000)
  demo        start the emulator, apply the development environment, print its outputs
  test        set up, lint the Dockerfile, run the whole test suite (what CI runs)
  fuzz [SECONDS] [SEED]
              mutate the environment files at random through parse, validate and model; no input
              may panic (default 60 s; not part of test)
  bench [api|deployer]
              api: load the API with wrk at 12 and 256 connections; print req/s, p50/p99, AWS calls;
              then the API against a bare axum handler on the same cores, and the ratio
              deployer: apply, no-op plan and destroy of each environment against the emulator,
              then at 40 ms per call with real AWS's pending times / 50, against the critical
              path (BENCH_RUNS=3, BENCH_ONLY=emulator|realistic); both when neither is named";

/// moto needs a moment to import its services; on a loaded 2-core machine it can take a while.
const MOTO_START_TIMEOUT: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup().and_then(|_| system_tools()),
        Some("moto") => run_moto(args.get(1).map(String::as_str)),
        Some("demo") => demo(),
        Some("test") => test(),
        Some("bench") => match args.get(1).map(String::as_str) {
            Some("api") => bench(),
            Some("deployer") => bench_deployer(),
            None => bench().and_then(|()| bench_deployer()),
            Some(other) => Err(anyhow::anyhow!("no bench called `{other}`: api or deployer")),
        },
        Some("fuzz") => fuzz(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    // `cargo run` says where the manifest is at run time; the path compiled in is only the
    // fallback, since two checkouts sharing one target directory share one uplifted binary.
    let manifest =
        std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest.parent().expect("xtask lives in the workspace").to_owned()
}

/// Creates `.venv` with the pinned emulator unless it is already there; returns moto_server's path.
fn setup() -> Result<PathBuf> {
    let root = root();
    let venv = root.join(".venv");
    let requirements = root.join("tests/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).context("reading tests/requirements.txt")?;
    let marker = venv.join(".deployer-requirements");
    let server = venv.join("bin/moto_server");
    if server.exists() && std::fs::read_to_string(&marker).is_ok_and(|have| have == wanted) {
        return Ok(server);
    }
    eprintln!("xtask: installing the AWS emulator into {} (once)", venv.display());
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    if !venv.join("bin/python").exists() {
        status(Command::new(&python).args(["-m", "venv"]).arg(&venv))
            .context("creating the virtualenv (is python3 with venv installed?)")?;
    }
    let pip = venv.join("bin/pip");
    status(
        Command::new(&pip)
            // Every package pinned with its hashes (tests/requirements.txt, compiled from
            // tests/requirements.in): a fresh machine installs exactly what was tested.
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--require-hashes",
                "-r",
            ])
            .arg(&requirements),
    )
    .context("installing moto[server] with pip")?;
    std::fs::write(&marker, wanted)?;
    Ok(server)
}

/// What the push tests drive: a daemonless container engine and a registry on loopback.
const SYSTEM_TOOLS: [(&str, &str); 2] = [("buildah", "buildah"), ("docker-registry", "docker-registry")];

/// Installs buildah and Debian's docker-registry (the CNCF distribution registry) with apt,
/// unless they are there already.
fn system_tools() -> Result<()> {
    let missing: Vec<&str> = SYSTEM_TOOLS
        .iter()
        .filter(|(program, _)| !on_path(program))
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !on_path("apt-get") {
        bail!(
            "{} not installed and there is no apt-get here: install them by hand",
            missing.join(" and ")
        );
    }
    eprintln!("xtask: installing {} with apt-get (once)", missing.join(" "));
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let apt = |args: &[&str]| {
        let mut command = if root {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.args(["-n", "apt-get"]);
            sudo
        };
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        status(&mut command)
    };
    let mut install = vec!["install", "-y", "--no-install-recommends"];
    install.extend(&missing);
    // A fresh machine may have no package lists yet.
    apt(&install)
        .or_else(|_| apt(&["update"]).and_then(|()| apt(&install)))
        .with_context(|| {
            format!(
                "installing {} with apt-get (as root, or with passwordless sudo)",
                missing.join(" ")
            )
        })
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

fn status(command: &mut Command) -> Result<()> {
    let status = command.status().with_context(|| format!("running {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}

fn run_moto(port: Option<&str>) -> Result<()> {
    let server = setup()?;
    let port = port.unwrap_or("5000");
    eprintln!("xtask: AWS emulator on http://127.0.0.1:{port} (Ctrl-C stops it)");
    status(moto_command(&server).args(["-H", "127.0.0.1", "-p", port]))
}

fn moto_command(server: &Path) -> Command {
    let mut command = Command::new(server);
    // New ECS services otherwise never reach their desired count (see shared/MOTO.md).
    command
        // The emulator reports this many running tasks per new ECS service, and deployer waits
        // (as on real AWS) until running equals desired: match the environment you apply,
        // e.g. MOTO_ECS_SERVICE_RUNNING=2 cargo xtask moto for staging.
        .env(
            "MOTO_ECS_SERVICE_RUNNING",
            std::env::var("MOTO_ECS_SERVICE_RUNNING").unwrap_or_else(|_| "1".to_owned()),
        )
        .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true");
    command
}

/// The API binary starts in well under a second; allow for a loaded machine.
const API_START_TIMEOUT: Duration = Duration::from_secs(30);

/// Waits until something listens on 127.0.0.1:`port`.
fn wait_for_port(port: u16, what: &str, timeout: Duration) -> Result<()> {
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > timeout {
            bail!("{what} did not listen on port {port} within {}s", timeout.as_secs());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// A background emulator, stopped when dropped.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    fn start(server: &Path) -> Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = moto_command(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting moto_server")?;
        let moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > MOTO_START_TIMEOUT {
                bail!(
                    "moto_server did not listen on port {port} within {}s",
                    MOTO_START_TIMEOUT.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(moto)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    command.current_dir(root());
    command
}

/// What the demo's instances would run; the emulator pulls nothing.
const DEMO_IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/deployer/development/api:demo";

/// Demo credentials for the local API: user `demo`, password `demo-password`.
const DEMO_USER: &str = "demo";
const DEMO_PASSWORD: &str = "demo-password";

fn demo() -> Result<()> {
    let server = setup()?;
    status(cargo().args([
        "build",
        "--quiet",
        "--package",
        "deployer",
        "--package",
        "app",
        "--bin",
        "deployer",
        "--bin",
        "api",
    ]))?;
    let moto = Moto::start(&server)?;
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(|_| root().join("target"), PathBuf::from);
    let deployer = target.join("debug/deployer");
    let run = |args: &[&str]| -> Result<()> {
        eprintln!("\n$ deployer {}", args.join(" "));
        status(
            Command::new(&deployer)
                .args(args)
                .current_dir(root())
                .env("AWS_ENDPOINT_URL", &moto.endpoint)
                .env("AWS_ACCESS_KEY_ID", "demo")
                .env("AWS_SECRET_ACCESS_KEY", "demo")
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .env_remove("AWS_PROFILE"),
        )
    };
    eprintln!("xtask: local AWS emulator at {}", moto.endpoint);
    // The emulator runs no containers, and a fresh machine may have no container engine: the
    // demo deploys a stand-in image reference. With an engine, `deployer apply development
    // --build` builds the bundled API, pushes it to the environment's repository and deploys it.
    eprintln!("xtask: deploying the stand-in image {DEMO_IMAGE} (see README: shipping the API)");
    run(&["validate"])?;
    run(&["plan", "development", "--image", DEMO_IMAGE])?;
    run(&["apply", "development", "--auto-approve", "--image", DEMO_IMAGE])?;
    run(&["plan", "development", "--image", DEMO_IMAGE])?;
    run(&["output", "development"])?;
    run(&["status", "development"])?;

    // The API, as the instances run it, pointed at the emulator; then the call users make.
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let metrics_port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let api = Command::new(target.join("debug/api"))
        .env("PORT", port.to_string())
        .env("METRICS_PORT", metrics_port.to_string())
        .env("API_USER", DEMO_USER)
        .env("API_PASSWORD", DEMO_PASSWORD)
        // As deployer sets it on the instances: the API answers for its own environment only.
        .env("API_ENVIRONMENT", "development")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_ACCESS_KEY_ID", "demo")
        .env("AWS_SECRET_ACCESS_KEY", "demo")
        .spawn()
        .context("starting the api binary")?;
    let api = Guard(api);
    wait_for_port(port, "the API", API_START_TIMEOUT)?;
    let url = format!("http://127.0.0.1:{port}/elb/development-lb");
    eprintln!("\n$ curl -s -u {DEMO_USER}:{DEMO_PASSWORD} {url}");
    // Anything but a 2xx fails the demo (curl exits 22), its body still shown.
    status(Command::new("curl").args([
        "-s",
        "--fail-with-body",
        "-u",
        &format!("{DEMO_USER}:{DEMO_PASSWORD}"),
        &url,
    ]))
    .context("calling the API with curl (is curl installed?)")?;
    println!();
    drop(api);
    eprintln!("\nxtask: demo done; the emulator stops now and takes the environment with it.");
    Ok(())
}

/// A child process stopped when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn test() -> Result<()> {
    // The test tools download and install (pip, apt) while cargo compiles: one waits on the
    // network, the other on the CPU. On a fresh machine this hides most of the install.
    let tools = std::thread::spawn(|| {
        let server = setup();
        // The push tests fail with this reason rather than being skipped.
        let problem = system_tools().err().map(|error| format!("{error:#}"));
        (server, problem)
    });
    // `cargo test` does not link other packages' binaries; the tests run `api` itself.
    let built = linting(cargo().args(["build", "--workspace", "--bins", "--examples"])).and_then(status);
    let (server, tools_problem) = tools.join().expect("the tool installer does not panic");
    built?;
    let server = server?;
    if let Some(problem) = &tools_problem {
        eprintln!("xtask: warning: {problem}; the push tests will fail");
    }
    lint_workflows(&server)?;
    // There is no Docker engine here: the Dockerfile is linted, and the tests run the same
    // binary the way the image does (environment-only configuration, `api healthcheck`).
    let hadolint = server.with_file_name("hadolint");
    status(Command::new(&hadolint).arg(root().join("Dockerfile")))
        .context("hadolint found problems in the Dockerfile")?;
    let mut tests = cargo();
    linting(&mut tests)?
        // The library unit tests and the integration tests: the only targets with tests.
        // Not --all-targets: it would build a test harness of every binary and example (each
        // linking the whole AWS SDK) to run nothing; the build above lints those. The
        // deployer benchmark is built (and linted) too, so it cannot rot; run this way it
        // only says how to run it.
        .args(["test", "--workspace", "--lib", "--test", "*", "--bench", "deployer"])
        // The integration tests mostly wait (emulator answers, retry backoff under injected
        // faults): on two cores a third thread measured 79 s against 101 s, and with 75 tests
        // a fourth 144 s against 156 s (a fifth, 146 s: no better).
        .args(["--", "--test-threads", "4"])
        .env("MOTO_SERVER", &server);
    if let Some(problem) = tools_problem {
        tests.env("DEPLOYER_TEST_TOOLS_PROBLEM", problem);
    }
    status(&mut tests)
}

/// The GitHub Actions workflows users copy: valid against the workflow schema, and free of
/// what zizmor flags (script injection, unpinned actions, persisted credentials, ...).
fn lint_workflows(server: &Path) -> Result<()> {
    let workflows: Vec<PathBuf> = std::fs::read_dir(root().join(".github/workflows"))
        .context("reading .github/workflows")?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    status(
        Command::new(server.with_file_name("check-jsonschema"))
            .args(["--builtin-schema", "vendor.github-workflows"])
            .args(&workflows),
    )
    .context("a workflow in .github/workflows does not match GitHub's workflow schema")?;
    status(
        Command::new(server.with_file_name("zizmor"))
            .args(["--offline", "--format", "plain", "--quiet"])
            .args(&workflows),
    )
    .context("zizmor found problems in .github/workflows")
}

/// Clippy's lints, denied, on the workspace's own crates while cargo builds them: clippy-driver
/// as the workspace's rustc wrapper, as `cargo clippy` runs it, but producing the real build.
/// A separate `cargo clippy` would compile every dependency a second time in check mode
/// (measured: 2.5 of CI's 10 minutes, and running both side by side was slower still).
fn linting(command: &mut Command) -> Result<&mut Command> {
    let driver = std::env::var_os("CLIPPY_DRIVER").unwrap_or_else(|| "clippy-driver".into());
    let works = Command::new(&driver)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !works {
        bail!("clippy-driver is not installed (the tests lint while they build)\n  help: rustup component add clippy");
    }
    Ok(command
        .env("RUSTC_WORKSPACE_WRAPPER", driver)
        .env("CLIPPY_ARGS", "-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"))
}

fn fuzz(args: &[String]) -> Result<()> {
    status(
        cargo()
            .args(["run", "--quiet", "--example", "fuzz_config", "--"])
            .args(args),
    )
    .context("the config fuzzer found inputs that panic")
}

/// How long each load run lasts; long enough for a stable rate, short enough to iterate.
const BENCH_SECONDS: u32 = 10;

fn bench() -> Result<()> {
    if Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        bail!("wrk is not installed: apt-get install wrk (Debian's package)");
    }
    let server = setup()?;
    status(cargo().args(["build", "--quiet", "--package", "deployer", "--bin", "deployer"]))?;
    status(cargo().args([
        "build",
        "--quiet",
        "--release",
        "--package",
        "app",
        "--bin",
        "api",
        "--example",
        "bare_api",
    ]))?;
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(|_| root().join("target"), PathBuf::from);
    let moto = Moto::start(&server)?;
    let aws_env = |command: &mut Command| {
        command
            .env("AWS_ENDPOINT_URL", &moto.endpoint)
            .env("AWS_ACCESS_KEY_ID", "bench")
            .env("AWS_SECRET_ACCESS_KEY", "bench")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE");
    };
    let mut apply = Command::new(target.join("debug/deployer"));
    apply
        // The emulator runs no containers: the demo's stand-in image, as `demo` deploys it.
        .args(["apply", "development", "--auto-approve", "--image", DEMO_IMAGE])
        .current_dir(root())
        .stdout(Stdio::null());
    aws_env(&mut apply);
    let started = Instant::now();
    status(&mut apply)?;
    println!(
        "deployer apply development (27 resources, emulator): {:.2}s",
        started.elapsed().as_secs_f64()
    );

    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let metrics_port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut api = Command::new(target.join("release/api"));
    api.env("PORT", port.to_string())
        .env("METRICS_PORT", metrics_port.to_string())
        .env("API_USER", DEMO_USER)
        .env("API_PASSWORD", DEMO_PASSWORD)
        .env("API_ENVIRONMENT", "development")
        // As deployer runs it (both templates set it).
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::null());
    aws_env(&mut api);
    let _api = Guard(api.spawn().context("starting the api binary")?);
    wait_for_port(port, "the API", API_START_TIMEOUT)?;
    let url = format!("http://127.0.0.1:{port}/elb/development-lb");
    let authorization = "Authorization: Basic ZGVtbzpkZW1vLXBhc3N3b3Jk"; // demo:demo-password
    // Warm the cache, as a live service would be.
    status(Command::new("curl").args(["-sf", "-o", "/dev/null", "-H", authorization, &url]))?;
    println!("\nGET /elb/development-lb, cache TTL 5s, {BENCH_SECONDS}s per run, wrk sharing the 2 cores:");
    for connections in [12, 256] {
        let before = aws_calls(metrics_port)?;
        let report = wrk(connections, BENCH_SECONDS, authorization, &url)?;
        let after = aws_calls(metrics_port)?;
        println!(
            "  {connections:>3} connections: {} req/s, p50 {}, p99 {}, AWS calls during the run: {}, {}",
            report.field("Requests/sec:"),
            report.field("50%"),
            report.field("99%"),
            after - before,
            report.errors()
        );
    }

    // The yardstick: a bare axum handler answering the same body, with no authentication,
    // cache, metrics, log, limit or timeout, loaded the same way, in turns with the API so
    // that both see the same machine.
    let body = target.join("bench-api-body.json");
    status(
        Command::new("curl")
            .args(["-sf", "-o"])
            .arg(&body)
            .args(["-H", authorization, &url]),
    )?;
    let bare_port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let _bare = Guard(
        Command::new(target.join("release/examples/bare_api"))
            .env("PORT", bare_port.to_string())
            .env("BODY_FILE", &body)
            .spawn()
            .context("starting the bare handler")?,
    );
    wait_for_port(bare_port, "the bare handler", API_START_TIMEOUT)?;
    let bare_url = format!("http://127.0.0.1:{bare_port}/elb/development-lb");
    let (mut ours, mut bare) = (Vec::new(), Vec::new());
    for turn in 0..RATIO_ROUNDS {
        // Each server first in every other turn: the second run of a pair is measurably slower
        // on this machine (the same binary against itself gave 0.92 that way).
        let mut pair = [(&url, &mut ours), (&bare_url, &mut bare)];
        if turn % 2 == 1 {
            pair.reverse();
        }
        for (url, rates) in pair {
            let report = wrk(RATIO_CONNECTIONS, RATIO_SECONDS, authorization, url)?;
            if report.errors() != "no errors" {
                bail!("wrk saw errors from {url}: {}", report.errors());
            }
            rates.push(report.rate()?);
        }
    }
    let range = |rates: &[f64]| {
        let (low, high) = rates
            .iter()
            .fold((f64::MAX, 0.0f64), |(low, high), r| (low.min(*r), high.max(*r)));
        format!("{low:.0}–{high:.0}")
    };
    // Medians: on a shared machine one turn now and then runs at half speed, whichever server
    // it falls on, and a mean would make that turn decide.
    let median = |values: &[f64]| {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let middle = sorted.len() / 2;
        if sorted.len().is_multiple_of(2) {
            (sorted[middle - 1] + sorted[middle]) / 2.0
        } else {
            sorted[middle]
        }
    };
    let ratios: Vec<f64> = ours.iter().zip(&bare).map(|(a, b)| a / b).collect();
    let ratio = median(&ratios);
    println!(
        "\nThe API (LOG_FORMAT=json, as deployed) against a bare axum handler with the same body, wrk -t2 -c{RATIO_CONNECTIONS} -d{RATIO_SECONDS}s, {RATIO_ROUNDS} turns each, in alternation (each first in every other turn):"
    );
    println!("  API:  {} req/s (median {:.0})", range(&ours), median(&ours));
    println!("  bare: {} req/s (median {:.0})", range(&bare), median(&bare));
    println!(
        "  API/bare: median {ratio:.2} (per turn {}){}",
        ratios.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(", "),
        if ratio < RATIO_FLOOR {
            format!(" -- below the {RATIO_FLOOR} the API should keep")
        } else {
            String::new()
        }
    );
    Ok(())
}

/// The API against the bare handler: turns of each, at the load of issue 26's measure.
const RATIO_ROUNDS: usize = 7;
const RATIO_CONNECTIONS: u32 = 12;
const RATIO_SECONDS: u32 = 4;
/// What the hardening may cost at most, as a share of the bare handler's throughput.
const RATIO_FLOOR: f64 = 0.9;

/// What wrk printed.
struct WrkReport(String);

impl WrkReport {
    fn field(&self, prefix: &str) -> String {
        self.0
            .lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("?")
            .to_owned()
    }

    fn rate(&self) -> Result<f64> {
        let field = self.field("Requests/sec:");
        field
            .parse()
            .with_context(|| format!("wrk printed no rate ({field}):\n{}", self.0))
    }

    fn errors(&self) -> String {
        self.0
            .lines()
            .find(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
            .unwrap_or("no errors")
            .trim()
            .to_owned()
    }
}

/// `wrk -t2` (wrk shares the 2 cores with the server) with basic auth on `url`.
fn wrk(connections: u32, seconds: u32, authorization: &str, url: &str) -> Result<WrkReport> {
    let output = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
            "-H",
            authorization,
            url,
        ])
        .output()
        .context("running wrk")?;
    Ok(WrkReport(String::from_utf8_lossy(&output.stdout).into_owned()))
}

/// `benches/deployer.rs`, built like the tests (dev profile: the calls it times wait on the
/// emulator and the injected latency, not on deployer's CPU).
fn bench_deployer() -> Result<()> {
    let server = setup()?;
    status(
        cargo()
            .args([
                "bench",
                "--profile",
                "dev",
                "--package",
                "deployer",
                "--bench",
                "deployer",
            ])
            .env("MOTO_SERVER", &server),
    )
    .context("the deployer benchmark failed")
}

/// The API's own count of AWS calls, from /metrics on the metrics port.
fn aws_calls(port: u16) -> Result<u64> {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    Ok(text
        .lines()
        .filter(|l| l.starts_with("aws_calls_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64)
}
