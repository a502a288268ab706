//! Client networks for rate limits. An IPv4 address is its own network; an IPv6 address counts as its /64, since
//! one subscriber usually holds a whole /64 and a limit per IPv6 address would be free to dodge.

use std::net::IpAddr;

/// The rate-limit bucket of a client address as Cloudflare reports it (`CF-Connecting-IP`): the IPv4 address, or
/// the IPv6 /64 as `2001:db8:1:2::/64`. An IPv4-mapped IPv6 address is its IPv4 address; anything unparsable is
/// `unknown` (one shared bucket).
pub fn bucket(ip: &str) -> String {
    match ip.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Err(_) => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_counts_per_64() {
        assert_eq!(bucket("203.0.113.9"), "203.0.113.9");
        assert_eq!(bucket("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(bucket("2001:0db8:0001:0002:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_ne!(bucket("2001:db8:1:3::1"), bucket("2001:db8:1:2::1"));
        assert_eq!(bucket("::ffff:203.0.113.9"), "203.0.113.9");
        assert_eq!(bucket("not an address"), "unknown");
        assert_eq!(bucket(""), "unknown");
    }
}
