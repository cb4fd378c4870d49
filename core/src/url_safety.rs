//! Which destination URLs edgehook will call: HTTPS to a public host only, so a
//! destination can never be pointed at the network the worker runs in.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use url::{Host, Url};

/// Longest destination URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// Why a URL was refused; the message is written for the API caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlRefused {
    pub msg: String,
    pub kind: &'static str,
}

fn refused(msg: impl Into<String>, kind: &'static str) -> UrlRefused {
    UrlRefused {
        msg: msg.into(),
        kind,
    }
}

/// Checks a destination URL. `allow_loopback` (local runs and tests only) admits
/// `http` or `https` to a loopback IP literal such as `http://127.0.0.1:9000`.
/// Returns the URL as it will be stored and called.
pub fn check_destination_url(raw: &str, allow_loopback: bool) -> Result<String, UrlRefused> {
    if raw.is_empty() {
        return Err(refused("URL must not be empty", "string_too_short"));
    }
    if raw.len() > MAX_URL_LEN {
        return Err(refused(
            format!("URL must be at most {MAX_URL_LEN} characters"),
            "string_too_long",
        ));
    }
    let url =
        Url::parse(raw).map_err(|e| refused(format!("not a valid URL: {e}"), "url_parsing"))?;
    let host = url
        .host()
        .ok_or_else(|| refused("URL must have a host", "url_host"))?;
    let loopback_ok = allow_loopback && is_loopback_literal(&host);
    match url.scheme() {
        "https" => {}
        "http" if loopback_ok => {}
        _ => return Err(refused("URL must use https", "url_scheme")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refused(
            "URL must not carry credentials; authenticate with the webhook signature",
            "url_credentials",
        ));
    }
    if loopback_ok {
        return Ok(url.to_string());
    }
    match host {
        Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            if d == "localhost"
                || d.ends_with(".localhost")
                || d == "metadata.google.internal"
                || d == "metadata"
            {
                return Err(refused(
                    format!("host {d} is not allowed: it names a local or metadata service"),
                    "url_host",
                ));
            }
        }
        Host::Ipv4(ip) => check_ip(IpAddr::V4(ip))?,
        Host::Ipv6(ip) => check_ip(IpAddr::V6(ip))?,
    }
    Ok(url.to_string())
}

fn is_loopback_literal(host: &Host<&str>) -> bool {
    match host {
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
        Host::Domain(_) => false,
    }
}

fn check_ip(ip: IpAddr) -> Result<(), UrlRefused> {
    if let Some(range) = non_public_range(ip) {
        return Err(refused(
            format!("address {ip} is in a {range} range and cannot be a destination"),
            "url_host",
        ));
    }
    Ok(())
}

/// Names the non-public range an address falls in, or `None` when it is public.
pub fn non_public_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_range(v4),
        IpAddr::V6(v6) => v6_range(v6),
    }
}

fn v4_range(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "unspecified",
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => "private",
        (100, 64..=127, _) => "CGNAT",
        (127, _, _) => "loopback",
        (169, 254, _) => "link-local or metadata",
        (192, 0, 0) => "IETF protocol",
        (198, 18..=19, _) => "benchmarking",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved",
        _ => return None,
    })
}

fn v6_range(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_range(v4);
    }
    let s = ip.segments();
    Some(match s[0] {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        0xfc00..=0xfdff => "private (unique local)",
        0xfe80..=0xfebf => "link-local",
        0xff00..=0xffff => "multicast",
        // NAT64 and IPv4-compatible forms embed an IPv4 address: judge that one.
        0x0064 if s[1] == 0xff9b => {
            let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
            return v4_range(v4);
        }
        0 if s[1..6] == [0, 0, 0, 0, 0] => {
            let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
            return v4_range(v4).or(Some("IPv4-compatible"));
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_https_is_accepted() {
        for ok in [
            "https://example.com/hook",
            "https://93.184.216.34/x",
            "https://[2606:4700::1111]/",
            "https://api.example.com:8443/a?b=c",
        ] {
            assert!(check_destination_url(ok, false).is_ok(), "{ok}");
        }
    }

    #[test]
    fn non_https_is_refused() {
        for bad in [
            "http://example.com",
            "ftp://example.com",
            "example.com",
            "https://",
        ] {
            assert!(check_destination_url(bad, false).is_err(), "{bad}");
        }
        assert_eq!(
            check_destination_url("http://example.com", false)
                .unwrap_err()
                .kind,
            "url_scheme"
        );
    }

    #[test]
    fn local_and_internal_hosts_are_refused() {
        for bad in [
            "https://localhost/",
            "https://LOCALHOST./",
            "https://a.localhost/",
            "https://127.0.0.1/",
            "https://127.1.2.3/",
            "https://10.0.0.1/",
            "https://172.16.5.4/",
            "https://172.31.255.255/",
            "https://192.168.1.1/",
            "https://100.64.0.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[::]/",
            "https://[fd00:ec2::254]/",
            "https://[fe80::1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://0x7f.1/",
            "https://2130706433/",
            "https://metadata.google.internal/",
            "https://224.0.0.1/",
        ] {
            let e = check_destination_url(bad, false).expect_err(bad);
            assert_eq!(e.kind, "url_host", "{bad}: {e:?}");
        }
        assert!(check_destination_url("https://172.32.0.1/", false).is_ok());
        assert!(check_destination_url("https://100.128.0.1/", false).is_ok());
    }

    #[test]
    fn loopback_setting_admits_only_loopback_literals() {
        assert!(check_destination_url("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(check_destination_url("http://[::1]:9000/hook", true).is_ok());
        assert!(check_destination_url("http://127.0.0.1:9000/hook", false).is_err());
        assert!(check_destination_url("http://10.0.0.1/", true).is_err());
        assert!(check_destination_url("http://localhost:9000/", true).is_err());
        assert!(check_destination_url("http://example.com/", true).is_err());
    }

    #[test]
    fn credentials_and_overlong_urls_are_refused() {
        assert_eq!(
            check_destination_url("https://u:p@example.com/", false)
                .unwrap_err()
                .kind,
            "url_credentials"
        );
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(
            check_destination_url(&long, false).unwrap_err().kind,
            "string_too_long"
        );
    }
}
