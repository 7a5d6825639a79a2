//! The address a request comes from: its peer, or, when the peer is a trusted proxy
//! (`KEYWARD_TRUSTED_PROXIES`), the client it forwarded for (`Forwarded` or `X-Forwarded-For`).
//! Only then are those headers believed: anyone else could write them.

use std::net::IpAddr;
use std::str::FromStr;

use axum::http::HeaderMap;

/// One network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    fn contains(&self, ip: IpAddr) -> bool {
        let bits = |ip: IpAddr| match ip {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32u8),
            IpAddr::V6(v6) => (u128::from(v6), 128u8),
        };
        let (net, width) = bits(self.addr);
        let (ip, ip_width) = bits(ip.to_canonical());
        if width != ip_width {
            return false;
        }
        let shift = u32::from(width - self.prefix.min(width));
        net.checked_shr(shift) == ip.checked_shr(shift) || shift >= 128
    }
}

/// The proxies whose forwarding headers are believed. Empty by default: none is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Network>);

impl FromStr for TrustedProxies {
    type Err = String;

    /// A comma-separated list of networks (`10.0.0.0/8`) or addresses (`127.0.0.1`).
    fn from_str(s: &str) -> Result<Self, String> {
        let mut networks = Vec::new();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (addr, prefix) = item.split_once('/').map_or((item, None), |(a, p)| (a, Some(p)));
            let addr: IpAddr = addr.parse().map_err(|_| format!("`{item}` is not an address or a network"))?;
            let width = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                None => width,
                Some(p) => p
                    .parse::<u8>()
                    .ok()
                    .filter(|p| *p <= width)
                    .ok_or_else(|| format!("`{item}` has a bad prefix length"))?,
            };
            networks.push(Network { addr, prefix });
        }
        Ok(Self(networks))
    }
}

impl TrustedProxies {
    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    /// The client's address: the peer's, unless the peer is trusted, in which case the nearest
    /// address in the forwarding chain that is not itself a trusted proxy.
    pub fn client(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?;
        if !self.trusts(peer) {
            return Some(peer);
        }
        let chain = forwarded_chain(headers);
        Some(
            chain.iter().rev().copied().find(|ip| !self.trusts(*ip)).or_else(|| chain.first().copied()).unwrap_or(peer),
        )
    }
}

/// The addresses a request was forwarded for, first client first: from `Forwarded` (RFC 7239),
/// else from `X-Forwarded-For`. Entries that are not addresses (`unknown`, obfuscated) are skipped.
fn forwarded_chain(headers: &HeaderMap) -> Vec<IpAddr> {
    let values = |name: &str| headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>();
    let forwarded: Vec<IpAddr> = values("forwarded")
        .iter()
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                k.eq_ignore_ascii_case("for").then(|| parse_node(v))?
            })
        })
        .collect();
    if !forwarded.is_empty() {
        return forwarded;
    }
    values("x-forwarded-for").iter().flat_map(|v| v.split(',')).filter_map(parse_node).collect()
}

/// An address as forwarding headers write it: bare, quoted, `[v6]`, with or without a port.
fn parse_node(raw: &str) -> Option<IpAddr> {
    let s = raw.trim().trim_matches('"');
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    s.parse().ok().or_else(|| s.rsplit_once(':').and_then(|(host, _)| host.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap_or_else(|_| panic!("{v}")));
        }
        h
    }

    #[test]
    fn only_trusted_peers_are_believed() {
        let trusted: TrustedProxies = "10.0.0.0/8, ::1".parse().unwrap();
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        let h = headers(&[("x-forwarded-for", "198.51.100.7, 10.0.0.5")]);
        assert_eq!(trusted.client(Some(proxy), &h), Some("198.51.100.7".parse().unwrap()));
        assert_eq!(trusted.client(Some(stranger), &h), Some(stranger), "an untrusted peer's header is ignored");
        assert_eq!(TrustedProxies::default().client(Some(proxy), &h), Some(proxy));
        let spoofed = headers(&[("x-forwarded-for", "1.1.1.1, 198.51.100.7")]);
        assert_eq!(
            trusted.client(Some(proxy), &spoofed),
            Some("198.51.100.7".parse().unwrap()),
            "the nearest untrusted hop"
        );
    }

    #[test]
    fn forwarded_takes_precedence_and_every_notation_parses() {
        let trusted: TrustedProxies = "127.0.0.1".parse().unwrap();
        let h = headers(&[
            ("forwarded", r#"for="[2001:db8::1]:4711";proto=https, for=192.0.2.60:80"#),
            ("x-forwarded-for", "9.9.9.9"),
        ]);
        assert_eq!(trusted.client(Some("127.0.0.1".parse().unwrap()), &h), Some("192.0.2.60".parse().unwrap()));
        assert_eq!(parse_node("\"[2001:db8::1]:4711\""), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(parse_node("unknown"), None);
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("nonsense".parse::<TrustedProxies>().is_err());
    }
}
