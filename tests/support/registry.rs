//! A real container registry on loopback (Debian's docker-registry, the CNCF distribution
//! registry) with htpasswd authentication, for the push tests. The emulator implements the ECR
//! API but not the registry protocol, so images go here and the tests tell ECR what a push
//! would have recorded.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{root, wait_for_port};

/// The programs the push tests drive; installed by `cargo xtask setup`.
pub(crate) fn require_tools() {
    for program in ["buildah", "docker-registry"] {
        let found = std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()));
        let reason = std::env::var("DEPLOYER_TEST_TOOLS_PROBLEM")
            .unwrap_or_else(|_| "run `cargo xtask setup` (it installs buildah and docker-registry with apt)".into());
        assert!(found, "{program} is not installed: {reason}");
    }
}

pub(crate) struct Registry {
    child: Child,
    pub(crate) port: u16,
    user: String,
    password: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// A registry that accepts `user`/`password` only.
    pub(crate) fn start(user: &str, password: &str) -> Self {
        require_tools();
        let dir = tempfile::tempdir().unwrap();
        let htpasswd = dir.path().join("htpasswd");
        std::fs::write(&htpasswd, format!("{user}:{}\n", bcrypt_hash(password))).unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\nauth:\n  htpasswd:\n    realm: tests\n    path: {}\n",
                dir.path().join("data").display(),
                htpasswd.display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry");
        wait_for_port(port, "docker-registry", Duration::from_secs(30));
        Self {
            child,
            port,
            user: user.into(),
            password: password.into(),
            _dir: dir,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The manifest stored for `repository:reference`, and the digest the registry gives it.
    pub(crate) fn manifest(&self, repository: &str, reference: &str) -> (String, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let credentials = base64(&format!("{}:{}", self.user, self.password));
        write!(
            stream,
            "GET /v2/{repository}/manifests/{reference} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Basic {credentials}\r\nAccept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json\r\n\r\n"
        )
        .unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let digest = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("docker-content-digest: ")
                    .map(str::to_owned)
            })
            .expect("the registry names the digest");
        (body.to_owned(), digest)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The registry checks passwords against bcrypt hashes; the test virtualenv has bcrypt.
fn bcrypt_hash(password: &str) -> String {
    let python = std::env::var_os("MOTO_SERVER")
        .map_or_else(|| root().join(".venv/bin/moto_server"), PathBuf::from)
        .with_file_name("python");
    let output = Command::new(&python)
        .args([
            "-c",
            "import sys, bcrypt; print(bcrypt.hashpw(sys.argv[1].encode(), bcrypt.gensalt(rounds=5)).decode())",
            password,
        ])
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}; run `cargo xtask setup`", python.display()));
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn base64(text: &str) -> String {
    aws_smithy_types::base64::encode(text.as_bytes())
}
