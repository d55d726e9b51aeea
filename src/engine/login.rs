//! A private directory for one registry login. The engine writes the registry password there
//! (base64, which is clear text), so it lives in memory-backed storage when the machine has
//! one, is readable by the user alone, and is removed when the push ends, failed or not.

use std::path::{Path, PathBuf};

pub struct LoginDir {
    dir: tempfile::TempDir,
}

impl LoginDir {
    pub fn new() -> std::io::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let mut builder = tempfile::Builder::new();
        // Readable by this user alone: other users must not read the login.
        builder
            .prefix("deployer-login-")
            .permissions(std::fs::Permissions::from_mode(0o700));
        let dir = match memory_backed() {
            Some(base) => builder.tempdir_in(base)?,
            None => builder.tempdir()?,
        };
        Ok(Self { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The auth file Podman and Buildah write (`--authfile`).
    pub fn auth_file(&self) -> PathBuf {
        self.dir.path().join("auth.json")
    }

    /// Whether the login never touches a disk.
    pub fn in_memory(&self) -> bool {
        memory_backed().is_some_and(|base| self.dir.path().starts_with(base))
    }
}

/// The user's runtime directory (tmpfs on systemd machines), else /dev/shm.
fn memory_backed() -> Option<PathBuf> {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
    runtime
        .into_iter()
        .chain([PathBuf::from("/dev/shm")])
        .find(|dir| dir.is_dir() && tempfile::Builder::new().tempfile_in(dir).is_ok())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::LoginDir;

    #[test]
    fn private_and_gone_when_dropped() {
        let dir = LoginDir::new().unwrap();
        let path = dir.path().to_owned();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::write(dir.auth_file(), "secret").unwrap();
        drop(dir);
        assert!(!path.exists());
    }
}
