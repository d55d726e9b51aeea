//! HTTP basic auth: the expected `user:password` compared in constant time.

use axum::http::HeaderValue;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use constant_time_eq::constant_time_eq;

#[derive(Clone)]
pub struct Credentials {
    /// `user:password`, as the client sends it base64-encoded.
    expected: Vec<u8>,
    /// `Basic <base64 of user:password>`, the header as clients write it: recognised without
    /// decoding anything.
    expected_header: Vec<u8>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(redacted)")
    }
}

impl Credentials {
    /// From `API_TOKEN`: base64 of `user:password`, as the original service took it.
    pub fn from_token(token: &str) -> Result<Self, String> {
        let decoded = STANDARD
            .decode(token.trim())
            .map_err(|_| "is not valid base64 (expected base64 of user:password)".to_owned())?;
        let text = String::from_utf8(decoded).map_err(|_| "does not decode to UTF-8 text".to_owned())?;
        let (user, password) = text
            .split_once(':')
            .ok_or_else(|| "does not decode to user:password".to_owned())?;
        Self::from_user_password(user, password)
    }

    pub fn from_user_password(user: &str, password: &str) -> Result<Self, String> {
        if user.is_empty() || user.contains(':') {
            return Err("the user name must be non-empty and contain no `:`".into());
        }
        if password.is_empty() {
            return Err("the password must not be empty".into());
        }
        let expected = format!("{user}:{password}").into_bytes();
        let expected_header = format!("Basic {}", STANDARD.encode(&expected)).into_bytes();
        Ok(Self {
            expected,
            expected_header,
        })
    }

    /// Whether an `Authorization` header carries these credentials. Missing, malformed, non-UTF-8
    /// or wrong: all simply false, so every failure looks the same to a client.
    pub fn accepts(&self, header: Option<&HeaderValue>) -> bool {
        // The usual spelling, compared whole in constant time; any other is decoded below.
        if header.is_some_and(|h| constant_time_eq(h.as_bytes(), &self.expected_header)) {
            return true;
        }
        let Some(value) = header.and_then(|h| h.to_str().ok()) else {
            return false;
        };
        let Some((scheme, encoded)) = value.trim().split_once(' ') else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return false;
        }
        let Ok(given) = STANDARD.decode(encoded.trim()) else {
            return false;
        };
        // Constant-time for equal lengths; a length mismatch reveals only the length.
        constant_time_eq(&given, &self.expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(value: &[u8]) -> HeaderValue {
        HeaderValue::from_bytes(value).unwrap()
    }

    #[test]
    fn accepts_only_the_right_credentials() {
        let credentials = Credentials::from_user_password("admin", "s3cret").unwrap();
        assert!(credentials.accepts(Some(&header(b"Basic YWRtaW46czNjcmV0"))));
        assert!(credentials.accepts(Some(&header(b"basic YWRtaW46czNjcmV0"))));
        assert!(!credentials.accepts(None));
        assert!(
            !credentials.accepts(Some(&header(b"Basic YWRtaW46d3Jvbmc="))),
            "admin:wrong"
        );
        assert!(!credentials.accepts(Some(&header(b"Bearer YWRtaW46czNjcmV0"))));
        assert!(!credentials.accepts(Some(&header(b"Basic not-base64!"))));
        assert!(!credentials.accepts(Some(&header(b"Basic"))));
        assert!(
            !credentials.accepts(Some(&header(b"Basic \xff\xfe"))),
            "non-UTF-8 header"
        );
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let credentials = Credentials::from_token("YWRtaW46czNjcmV0").unwrap();
        assert_eq!(format!("{credentials:?}"), "Credentials(redacted)");
    }
}
