//! Who is asking: the client address the throttle counts and the access log names.
//!
//! `X-Forwarded-For` is believed only from a connection whose peer is a trusted proxy
//! (`TRUSTED_PROXY_CIDRS`, the VPC's CIDR where deployer runs the API: the load balancer's
//! addresses). From any other peer the header is the client's own text and the peer's address
//! is the client. Behind a trusted peer the client is the right-most entry, across every
//! `X-Forwarded-For` header in order, that is not itself a trusted proxy: each proxy appends
//! the address it saw, so entries left of the first untrusted one were written by the client.
//! IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are read as the IPv4 address, everywhere.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

/// An address with a prefix length, `10.0.0.0/16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// `a.b.c.d/n`, `x::y/n`, or a bare address (one host). Host bits must be zero.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| format!("`{text}` is not a CIDR (an address and a prefix length, like 10.0.0.0/16)"))?;
        let width = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(prefix) => prefix
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(|| format!("`{text}`: the prefix length must be 0 to {width}"))?,
        };
        // ::ffff:10.0.0.0/112 is 10.0.0.0/16.
        let (network, prefix) = match address {
            IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => (IpAddr::V4(v4), prefix - 96),
                None => (address, prefix),
            },
            _ => (address, prefix),
        };
        if masked(network, prefix) != network {
            return Err(format!(
                "`{text}` has bits set past its prefix length (did you mean {}/{prefix}?)",
                masked(network, prefix)
            ));
        }
        Ok(Self { network, prefix })
    }

    /// Whether `address` (already canonical) is inside.
    fn contains_canonical(&self, address: IpAddr) -> bool {
        match (self.network, address) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                masked(address, self.prefix) == self.network
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

fn masked(address: IpAddr, prefix: u8) -> IpAddr {
    match address {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    }
}

/// `::ffff:a.b.c.d` as `a.b.c.d`; every other address as it is.
pub fn canonical(address: IpAddr) -> IpAddr {
    address.to_canonical()
}

/// The proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXY_CIDRS`); none by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    ranges: Vec<Cidr>,
}

impl TrustedProxies {
    /// Comma-separated CIDRs (`10.0.0.0/16,10.1.0.0/16`); blank means none.
    pub fn parse(text: &str) -> Result<Self, String> {
        let ranges = text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(Cidr::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { ranges })
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.ranges.iter().any(|range| range.contains_canonical(address))
    }

    /// The client of a request that arrived from `peer` with `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        let mut client = peer;
        let entries = headers
            .get_all("x-forwarded-for")
            .iter()
            .rev()
            .flat_map(|value| value.as_bytes().rsplit(|b| *b == b','));
        for entry in entries {
            // An entry a trusted proxy cannot have written: the nearest address known is the
            // proxy's that passed it on.
            let Some(address) = parse_entry(entry) else {
                return client;
            };
            client = address;
            if !self.contains(address) {
                return address;
            }
        }
        // Every hop was a trusted proxy: the furthest one is all there is to know.
        client
    }
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`[v6]:port`, `v4:port`).
fn parse_entry(entry: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(entry).ok()?.trim();
    let address = text
        .parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| text.strip_prefix('[')?.strip_suffix(']')?.parse().ok())?;
    Some(canonical(address))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append("x-forwarded-for", value.parse().unwrap());
        }
        map
    }

    #[test]
    fn cidrs_parse_or_say_why_not() {
        let proxies = TrustedProxies::parse(" 10.0.0.0/16, fd00::/8 ,,192.0.2.7").unwrap();
        assert!(proxies.contains(ip("10.0.255.1")));
        assert!(!proxies.contains(ip("10.1.0.1")));
        assert!(proxies.contains(ip("fd12::1")));
        assert!(proxies.contains(ip("192.0.2.7")));
        assert!(!proxies.contains(ip("192.0.2.8")));
        assert!(
            proxies.contains(ip("::ffff:10.0.3.4")),
            "a mapped address is its IPv4 one"
        );
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        assert!(TrustedProxies::parse("0.0.0.0/0").unwrap().contains(ip("203.0.113.1")));
        assert!(
            TrustedProxies::parse("::ffff:10.0.0.0/112")
                .unwrap()
                .contains(ip("10.0.9.9"))
        );
        for (bad, problem) in [
            ("10.0.0.0/33", "prefix length must be 0 to 32"),
            ("10.0.0/16", "is not a CIDR"),
            ("vpc", "is not a CIDR"),
            ("10.0.1.0/16", "did you mean 10.0.0.0/16?"),
            ("10.0.0.0/x", "prefix length"),
        ] {
            let error = TrustedProxies::parse(&format!("10.9.0.0/16,{bad}")).unwrap_err();
            assert!(error.contains(problem), "{bad}: {error}");
        }
    }

    #[test]
    fn the_header_is_believed_only_from_a_trusted_peer() {
        let proxies = TrustedProxies::parse("10.0.0.0/16").unwrap();
        let forged = headers(&["198.51.100.1"]);
        assert_eq!(proxies.client(ip("203.0.113.9"), &forged), ip("203.0.113.9"));
        assert_eq!(proxies.client(ip("10.0.1.5"), &forged), ip("198.51.100.1"));
        // Nothing trusted: never the header.
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("10.0.1.5"), &forged), ip("10.0.1.5"));
        assert_eq!(proxies.client(ip("10.0.1.5"), &HeaderMap::new()), ip("10.0.1.5"));
    }

    #[test]
    fn the_right_most_untrusted_entry_across_every_header() {
        let proxies = TrustedProxies::parse("10.0.0.0/16").unwrap();
        let peer = ip("10.0.1.5");
        // The client wrote the first entries; the load balancer appended the address it saw.
        let chain = headers(&["192.0.2.1, 198.51.100.7", "203.0.113.9"]);
        assert_eq!(proxies.client(peer, &chain), ip("203.0.113.9"));
        // A second header does not override the first: the entries are one list.
        let chain = headers(&["203.0.113.9", "10.0.2.2"]);
        assert_eq!(proxies.client(peer, &chain), ip("203.0.113.9"));
        // Trusted hops are skipped, from the right.
        let chain = headers(&["192.0.2.1, 203.0.113.9, 10.0.7.7 , 10.0.2.2"]);
        assert_eq!(proxies.client(peer, &chain), ip("203.0.113.9"));
        // All trusted: the furthest.
        let chain = headers(&["10.0.9.9, 10.0.2.2"]);
        assert_eq!(proxies.client(peer, &chain), ip("10.0.9.9"));
        // Garbage behind a trusted hop: that hop.
        let chain = headers(&["203.0.113.9, nonsense, 10.0.2.2"]);
        assert_eq!(proxies.client(peer, &chain), ip("10.0.2.2"));
        let chain = headers(&["garbage"]);
        assert_eq!(proxies.client(peer, &chain), peer);
        // Ports and brackets.
        let chain = headers(&["[2001:db8::1]:4711"]);
        assert_eq!(proxies.client(peer, &chain), ip("2001:db8::1"));
        let chain = headers(&["203.0.113.9:80"]);
        assert_eq!(proxies.client(peer, &chain), ip("203.0.113.9"));
    }

    #[test]
    fn mapped_addresses_are_their_ipv4_address() {
        let proxies = TrustedProxies::parse("10.0.0.0/16").unwrap();
        assert_eq!(
            proxies.client(ip("::ffff:203.0.113.9"), &HeaderMap::new()),
            ip("203.0.113.9")
        );
        let chain = headers(&["::ffff:203.0.113.9, ::ffff:10.0.2.2"]);
        assert_eq!(proxies.client(ip("::ffff:10.0.1.5"), &chain), ip("203.0.113.9"));
    }
}
