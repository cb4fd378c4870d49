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
        Host::Domain(name) => check_host_name(name)?,
        Host::Ipv4(ip) => check_ip(IpAddr::V4(ip))?,
        Host::Ipv6(ip) => check_ip(IpAddr::V6(ip))?,
    }
    Ok(url.to_string())
}

/// Name suffixes reserved for local networks, private use or special purposes
/// (RFC 6761, RFC 6762, RFC 7686, RFC 8375, and the `.internal`, `.intranet`,
/// `.lan`, `.corp` names that private DNS zones use): such a name never leads to
/// a public destination, and inside a data centre it may lead to its hosts.
pub const PRIVATE_NAME_SUFFIXES: [&str; 11] = [
    "localhost",
    "local",
    "localdomain",
    "internal",
    "intranet",
    "lan",
    "home.arpa",
    "corp",
    "test",
    "invalid",
    "onion",
];

/// Refuses host names that resolve only inside a network: single-label names
/// (`vm`, `instance-data`, searched in the resolver's local domains) and names
/// under a [`PRIVATE_NAME_SUFFIXES`] suffix. Case and a trailing dot do not matter.
fn check_host_name(name: &str) -> Result<(), UrlRefused> {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    // `127.0.0.1..` parses as a name, not an address: no empty label passes.
    if name.split('.').any(str::is_empty) {
        return Err(refused(
            format!("host {name} is not a valid host name: it has an empty label"),
            "url_host",
        ));
    }
    if !name.contains('.') {
        return Err(refused(
            format!(
                "host {name} is not allowed: a single-label name resolves only inside a local \
                 network; use a fully qualified public name"
            ),
            "url_host",
        ));
    }
    let reserved = PRIVATE_NAME_SUFFIXES.iter().find(|suffix| {
        name.strip_suffix(**suffix)
            .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
    });
    if let Some(suffix) = reserved {
        return Err(refused(
            format!(
                "host {name} is not allowed: names under .{suffix} are reserved for local, \
                 private or special use"
            ),
            "url_host",
        ));
    }
    Ok(())
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

/// IPv6 literals: forms that embed an IPv4 address (IPv4-mapped `::ffff:0:0/96`,
/// IPv4-translated `::ffff:0:0:0/96`, NAT64 `64:ff9b::/96` and `64:ff9b:1::/48`)
/// are judged by that address. Anything else must be global unicast
/// (`2000::/3`) and neither Teredo (`2001::/32`), documentation (`2001:db8::/32`)
/// nor 6to4 (`2002::/16`) of a non-public IPv4.
fn v6_range(ip: Ipv6Addr) -> Option<&'static str> {
    let bits = ip.to_bits();
    let s = ip.segments();
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0xffff, 0, _, _] => {
            return v4_range(Ipv4Addr::from_bits(bits as u32));
        }
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => return v4_range(Ipv4Addr::from_bits(bits as u32)),
        [0x64, 0xff9b, 1, ..] => {
            return local_nat64_readings(bits)
                .into_iter()
                .flatten()
                .find_map(v4_range);
        }
        _ => {}
    }
    Some(match s[0] {
        0x2001 if s[1] == 0 => "Teredo",
        0x2001 if s[1] == 0x0db8 => "documentation",
        0x2002 => return v4_range(Ipv4Addr::from_bits(field(bits, 16, 48) as u32)),
        0x2000..=0x3fff => return None,
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        0xfc00..=0xfdff => "private (unique local)",
        0xfe80..=0xfebf => "link-local",
        0xfec0..=0xfeff => "site-local",
        0xff00..=0xffff => "multicast",
        _ => "reserved (not global unicast)",
    })
}

/// Bits `from..to` of an IPv6 address, counted from the most significant.
fn field(bits: u128, from: u32, to: u32) -> u128 {
    (bits >> (128 - to)) & ((1 << (to - from)) - 1)
}

/// The IPv4 addresses that an address of the local-use NAT64 prefix
/// `64:ff9b:1::/48` can stand for: its operator may use a /48, /56, /64 or /96
/// translation prefix inside it (RFC 6052 §2.2, RFC 8215), so every layout the
/// address is consistent with is read (bits 64..72 and the suffix are zero in
/// all but the /96 layout, which always applies).
fn local_nat64_readings(bits: u128) -> [Option<Ipv4Addr>; 4] {
    let layout = |v4: u128, suffix_from: u32| {
        (field(bits, 64, 72) == 0 && field(bits, suffix_from, 128) == 0)
            .then(|| Ipv4Addr::from_bits(v4 as u32))
    };
    [
        layout(field(bits, 48, 64) << 16 | field(bits, 72, 88), 88),
        layout(field(bits, 56, 64) << 24 | field(bits, 72, 96), 96),
        layout(field(bits, 72, 104), 104),
        Some(Ipv4Addr::from_bits(bits as u32)),
    ]
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

    fn refused_kind(url: &str) -> &'static str {
        check_destination_url(url, false)
            .map(|stored| panic!("{url} was accepted as {stored}"))
            .unwrap_or_else(|e| e.kind)
    }

    #[test]
    fn names_that_resolve_only_inside_a_network_are_refused() {
        for bad in [
            "https://vm:8891/",
            "https://runsc/",
            "https://instance-data/",
            "https://metadata/computeMetadata/v1/",
            "https://VM./",
            "https://localhost.localdomain/",
            "https://foo.internal/",
            "https://metadata.google.internal/",
            "https://FOO.Internal./hook",
            "https://a.localhost/",
            "https://printer.local/",
            "https://db.intranet/",
            "https://nas.lan/",
            "https://router.home.arpa/",
            "https://home.arpa/",
            "https://git.corp/",
            "https://example.test/",
            "https://example.invalid/",
            "https://expyuzz4wqqyqhjn.onion/",
            "https://a.b.c.internal/",
            // empty labels: not host names (and `127.0.0.1..` would read as an address)
            "https://127.0.0.1../",
            "https://a..example.com/",
            "https://.example.com/",
        ] {
            assert_eq!(refused_kind(bad), "url_host", "{bad}");
        }
        let e = check_destination_url("https://vm:8891/", false).unwrap_err();
        assert!(e.msg.contains("single-label"), "{e:?}");
        let e = check_destination_url("https://Foo.Internal./", false).unwrap_err();
        assert!(
            e.msg.contains("foo.internal") && e.msg.contains(".internal"),
            "{e:?}"
        );
        let e = check_destination_url("https://x.home.arpa/", false).unwrap_err();
        assert!(e.msg.contains(".home.arpa"), "{e:?}");
        let e = check_destination_url("https://127.0.0.1../", false).unwrap_err();
        assert!(e.msg.contains("empty label"), "{e:?}");
    }

    #[test]
    fn public_names_that_merely_resemble_private_ones_are_accepted() {
        for ok in [
            "https://internal.example.com/",
            "https://mylocal.com/",
            "https://notlocalhost.com/",
            "https://example.local.com/",
            "https://home.arpa.example/",
            "https://corp.example.org/",
            "https://testing.io/",
            "https://local-events.org/",
            "https://vm.example./",
        ] {
            assert!(check_destination_url(ok, false).is_ok(), "{ok}");
        }
        assert_eq!(
            check_destination_url("https://Hooks.Example.COM./x", false).unwrap(),
            "https://hooks.example.com./x"
        );
    }

    #[test]
    fn ipv6_forms_are_judged_as_the_issue_lists() {
        for bad in [
            // 6to4 of loopback and of the metadata address
            "https://[2002:7f00:1::]/",
            "https://[2002:a9fe:a9fe::]/",
            // IPv4-translated loopback, site-local, Teredo, discard, documentation
            "https://[::ffff:0:7f00:1]/",
            "https://[fec0::1]/",
            "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
            "https://[100::1]/",
            "https://[2001:db8::1]/",
            // IPv4-compatible (deprecated) and other non-global space
            "https://[::8.8.8.8]/",
            "https://[4000::1]/",
            "https://[1fff:ffff::1]/",
            // NAT64: well-known and local-use prefixes
            "https://[64:ff9b::7f00:1]/",
            "https://[64:ff9b:1::a00:1]/",
            "https://[64:ff9b:1:7f00:0:100::]/",
        ] {
            assert_eq!(refused_kind(bad), "url_host", "{bad}");
        }
        for ok in [
            "https://[2002:808:808::1]/",
            "https://[::ffff:8.8.8.8]/",
            "https://[::ffff:0:808:808]/",
            "https://[64:ff9b::808:808]/",
            "https://[64:ff9b:1::808:808]/",
            "https://[64:ff9b:1:ffff::808:808]/",
            "https://[2000::1]/",
            "https://[3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]/",
            "https://[2001:1::1]/",
            "https://[2001:db9::1]/",
            "https://[2003::1]/",
        ] {
            assert!(check_destination_url(ok, false).is_ok(), "{ok}");
        }
    }

    #[test]
    fn every_range_is_named() {
        let v4 = |s: &str| non_public_range(IpAddr::V4(s.parse().unwrap()));
        let v6 = |s: &str| non_public_range(IpAddr::V6(s.parse().unwrap()));
        for (ip, name) in [
            ("0.1.2.3", "unspecified"),
            ("10.1.2.3", "private"),
            ("172.20.0.1", "private"),
            ("192.168.3.4", "private"),
            ("100.100.0.1", "CGNAT"),
            ("127.3.2.1", "loopback"),
            ("169.254.169.254", "link-local or metadata"),
            ("192.0.0.170", "IETF protocol"),
            ("198.19.255.255", "benchmarking"),
            ("239.255.255.250", "multicast"),
            ("255.255.255.255", "reserved"),
        ] {
            assert_eq!(v4(ip), Some(name), "{ip}");
        }
        for (ip, name) in [
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("fd12::1", "private (unique local)"),
            ("fe80::1", "link-local"),
            ("fec0::1", "site-local"),
            ("ff02::1", "multicast"),
            ("100::1", "reserved (not global unicast)"),
            ("2001::1", "Teredo"),
            ("2001:db8::1", "documentation"),
            ("::ffff:10.0.0.1", "private"),
            ("::ffff:0:127.0.0.1", "loopback"),
            ("64:ff9b::169.254.169.254", "link-local or metadata"),
            ("64:ff9b:1::100.64.0.1", "CGNAT"),
            ("2002:c612:1::", "benchmarking"),
        ] {
            assert_eq!(v6(ip), Some(name), "{ip}");
        }
    }

    #[test]
    fn local_use_nat64_is_read_in_every_layout_it_fits() {
        let readings = |s: &str| {
            let ip: Ipv6Addr = s.parse().unwrap();
            local_nat64_readings(ip.to_bits()).map(|r| r.map(|v4| v4.to_string()))
        };
        let s = |v: &str| Some(v.to_string());
        // 10.20.30.40 in the /48, /56 and /64 layouts of RFC 6052 section 2.2
        assert_eq!(
            readings("64:ff9b:1:a14:1e:2800::"),
            [
                s("10.20.30.40"),
                s("20.30.40.0"),
                s("30.40.0.0"),
                s("0.0.0.0")
            ]
        );
        assert_eq!(
            readings("64:ff9b:1:a:14:1e28::"),
            [None, s("10.20.30.40"), s("20.30.40.0"), s("0.0.0.0")]
        );
        assert_eq!(
            readings("64:ff9b:1:0:a:141e:2800::"),
            [None, None, s("10.20.30.40"), s("40.0.0.0")]
        );
        // a non-zero u octet (bits 64..72) rules out all but the /96 layout
        assert_eq!(
            readings("64:ff9b:1:0:100::808:808"),
            [None, None, None, s("8.8.8.8")]
        );
        assert_eq!(
            readings("64:ff9b:1::808:808"),
            [None, None, None, s("8.8.8.8")]
        );
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

    #[test]
    fn any_credentials_and_only_overlong_urls_are_refused() {
        for bad in ["https://user@example.com/", "https://:secret@example.com/"] {
            assert_eq!(refused_kind(bad), "url_credentials", "{bad}");
        }
        let prefix = "https://example.com/";
        let longest = format!("{prefix}{}", "a".repeat(MAX_URL_LEN - prefix.len()));
        assert_eq!(longest.len(), MAX_URL_LEN);
        assert_eq!(check_destination_url(&longest, false), Ok(longest.clone()));
    }
}

/// Properties: every address of each non-public range is refused however the
/// URL parser lets it be spelled, and public addresses are accepted. The ranges
/// are restated here as plain (first address, prefix length) tables, from the
/// rules in the design and in issue 9, so the code is held to an independent oracle.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::{Index, select};

    const V4_NON_PUBLIC: [(u32, u32); 11] = [
        (0x0000_0000, 8),  // 0.0.0.0/8
        (0x0a00_0000, 8),  // 10.0.0.0/8
        (0x6440_0000, 10), // 100.64.0.0/10
        (0x7f00_0000, 8),  // 127.0.0.0/8
        (0xa9fe_0000, 16), // 169.254.0.0/16
        (0xac10_0000, 12), // 172.16.0.0/12
        (0xc000_0000, 24), // 192.0.0.0/24
        (0xc0a8_0000, 16), // 192.168.0.0/16
        (0xc612_0000, 15), // 198.18.0.0/15
        (0xe000_0000, 4),  // 224.0.0.0/4
        (0xf000_0000, 4),  // 240.0.0.0/4
    ];

    /// IPv6 space that is refused whatever follows the prefix (beside every
    /// prefix outside 2000::/3 that does not embed an IPv4 address).
    const V6_NEVER: [(u128, u32); 10] = [
        (0, 128),                // ::
        (1, 128),                // ::1
        (0, 96),                 // ::/96, IPv4-compatible
        (0x0100 << 112, 64),     // 100::/64, discard
        (0xfc00 << 112, 7),      // unique local
        (0xfe80 << 112, 10),     // link-local
        (0xfec0 << 112, 10),     // site-local
        (0xff00 << 112, 8),      // multicast
        (0x2001_0000 << 96, 32), // Teredo
        (0x2001_0db8 << 96, 32), // documentation
    ];

    const MAPPED: u128 = 0xffff << 32;
    const TRANSLATED: u128 = 0xffff << 48;
    const NAT64: u128 = 0x0064_ff9b << 96;
    const LOCAL_NAT64: u128 = 0x0064_ff9b_0001 << 80;
    const SIX_TO_FOUR: u128 = 0x2002 << 112;

    /// The mask of the bits after a prefix of `len` bits in a `width`-bit address.
    fn host_bits(len: u32, width: u32) -> u128 {
        (u128::MAX >> (128 - width)).checked_shr(len).unwrap_or(0)
    }

    fn in_prefix(ip: u128, first: u128, len: u32, width: u32) -> bool {
        len == 0 || (ip >> (width - len)) == (first >> (width - len))
    }

    fn v4_is_public(ip: u32) -> bool {
        !V4_NON_PUBLIC
            .iter()
            .any(|&(first, len)| in_prefix(ip.into(), first.into(), len, 32))
    }

    fn embeds_v4(ip: u128) -> bool {
        [
            (MAPPED, 96),
            (TRANSLATED, 96),
            (NAT64, 96),
            (LOCAL_NAT64, 48),
        ]
        .iter()
        .any(|&(first, len)| in_prefix(ip, first, len, 128))
    }

    fn non_public_v4() -> impl Strategy<Value = u32> {
        (select(&V4_NON_PUBLIC[..]), any::<u32>())
            .prop_map(|((first, len), r)| first | (r & host_bits(len, 32) as u32))
    }

    fn public_v4() -> impl Strategy<Value = u32> {
        any::<u32>().prop_filter("a public address", |ip| v4_is_public(*ip))
    }

    /// Every IPv6 form whose embedded IPv4 is `v4`: mapped, translated, NAT64,
    /// and the local-use NAT64 prefix in its /96 (with free bits 48..96), /48,
    /// /56 and /64 layouts (RFC 6052 section 2.2).
    fn v6_embedding(v4: u32, form: u8, free: u64) -> u128 {
        let v4 = u128::from(v4);
        match form % 7 {
            0 => MAPPED | v4,
            1 => TRANSLATED | v4,
            2 => NAT64 | v4,
            3 => LOCAL_NAT64 | (u128::from(free) & 0xffff_ffff_ffff) << 32 | v4,
            4 => LOCAL_NAT64 | (v4 >> 16) << 64 | (v4 & 0xffff) << 40,
            5 => LOCAL_NAT64 | (v4 >> 24) << 64 | (v4 & 0xff_ffff) << 32,
            _ => LOCAL_NAT64 | v4 << 24,
        }
    }

    fn non_public_v6() -> impl Strategy<Value = u128> {
        prop_oneof![
            (select(&V6_NEVER[..]), any::<u128>())
                .prop_map(|((first, len), r)| first | (r & host_bits(len, 128))),
            any::<u128>().prop_filter("outside 2000::/3, no embedded IPv4", |ip| {
                ip >> 125 != 1 && !embeds_v4(*ip)
            }),
            (non_public_v4(), any::<u8>(), any::<u64>())
                .prop_map(|(v4, form, free)| v6_embedding(v4, form, free)),
            (non_public_v4(), any::<u128>())
                .prop_map(|(v4, r)| SIX_TO_FOUR | u128::from(v4) << 80 | (r & host_bits(48, 128))),
        ]
    }

    fn public_v6() -> impl Strategy<Value = u128> {
        prop_oneof![
            any::<u128>()
                .prop_map(|r| (1 << 125) | (r & host_bits(3, 128)))
                .prop_filter("not Teredo, documentation or 6to4", |ip| {
                    let top = ip >> 96;
                    top != 0x2001_0000 && top != 0x2001_0db8 && ip >> 112 != 0x2002
                }),
            (public_v4(), any::<u128>())
                .prop_map(|(v4, r)| SIX_TO_FOUR | u128::from(v4) << 80 | (r & host_bits(48, 128))),
            (public_v4(), 0u8..3).prop_map(|(v4, form)| v6_embedding(v4, form, 0)),
            // Local-use NAT64 with bits 64..72 set: the /96 layout is the only reading.
            (public_v4(), 1u128..=0xff, any::<u64>()).prop_map(|(v4, u, free)| {
                LOCAL_NAT64 | u << 56 | (u128::from(free) & 0xffff_ffff) << 32 | u128::from(v4)
            }),
        ]
    }

    /// One way of writing an IPv4 address that the WHATWG URL parser accepts:
    /// 1 to 4 parts, each decimal, octal (`0` prefix) or hex (`0x`/`0X`) with
    /// leading zeros, an optional trailing dot, and each character as is,
    /// percent-encoded, full-width (IDNA maps it back) or both.
    #[derive(Debug, Clone)]
    struct V4Spelling {
        parts: usize,
        radix: [u8; 4],
        pad: [usize; 4],
        upper: [bool; 4],
        trailing_dot: bool,
        /// How each character is written (as is when `None`).
        chars: Option<Vec<u8>>,
    }

    fn v4_spelling() -> impl Strategy<Value = V4Spelling> {
        (
            1usize..=4,
            any::<[u8; 4]>(),
            any::<[u8; 4]>(),
            any::<[bool; 4]>(),
            any::<bool>(),
            proptest::option::of(proptest::collection::vec(0u8..8, 64)),
        )
            .prop_map(
                |(parts, radix, pad, upper, trailing_dot, chars)| V4Spelling {
                    parts,
                    radix: radix.map(|r| r % 3),
                    pad: pad.map(|p| usize::from(p % 4)),
                    upper,
                    trailing_dot,
                    chars,
                },
            )
    }

    fn full_width(c: char) -> char {
        match c {
            '.' => '\u{3002}',
            '0'..='9' | 'a'..='z' | 'A'..='Z' => {
                char::from_u32(c as u32 - 0x21 + 0xff01).unwrap_or(c)
            }
            _ => c,
        }
    }

    fn percent(c: char) -> String {
        let mut buf = [0u8; 4];
        c.encode_utf8(&mut buf)
            .bytes()
            .map(|b| format!("%{b:02X}"))
            .collect()
    }

    fn spell_v4(ip: u32, s: &V4Spelling) -> String {
        let octets = ip.to_be_bytes();
        let mut values: Vec<u32> = octets[..s.parts - 1].iter().map(|&o| o.into()).collect();
        values.push(ip & (u32::MAX >> (8 * (s.parts - 1))));
        let parts: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let zeros = "0".repeat(s.pad[i]);
                match s.radix[i] {
                    0 => v.to_string(),
                    1 => format!("0{zeros}{v:o}"),
                    _ if s.upper[i] => format!("0X{zeros}{v:X}"),
                    _ => format!("0x{zeros}{v:x}"),
                }
            })
            .collect();
        let mut plain = parts.join(".");
        if s.trailing_dot {
            plain.push('.');
        }
        let Some(styles) = &s.chars else {
            return plain;
        };
        plain
            .chars()
            .zip(styles.iter().cycle())
            .map(|(c, style)| match style {
                4 => percent(c),
                5 => full_width(c).to_string(),
                6 => percent(full_width(c)),
                _ => c.to_string(),
            })
            .collect()
    }

    /// One way of writing an IPv6 address inside brackets: any run of zero
    /// groups (or none) as `::`, groups in either case with leading zeros, and
    /// optionally the last 32 bits as a dotted IPv4 address.
    #[derive(Debug, Clone)]
    struct V6Spelling {
        dotted_tail: bool,
        compress: Option<(Index, Index)>,
        pad: [usize; 8],
        upper: [bool; 8],
    }

    fn v6_spelling() -> impl Strategy<Value = V6Spelling> {
        (
            any::<bool>(),
            proptest::option::of(any::<(Index, Index)>()),
            any::<[u8; 8]>(),
            any::<[bool; 8]>(),
        )
            .prop_map(|(dotted_tail, compress, pad, upper)| V6Spelling {
                dotted_tail,
                compress,
                pad: pad.map(|p| usize::from(p % 4)),
                upper,
            })
    }

    fn spell_v6(ip: u128, s: &V6Spelling) -> String {
        let segments = Ipv6Addr::from_bits(ip).segments();
        let hex_groups = if s.dotted_tail { 6 } else { 8 };
        let mut elements: Vec<String> = segments[..hex_groups]
            .iter()
            .enumerate()
            .map(|(i, &g)| {
                let digits = if s.upper[i] {
                    format!("{g:X}")
                } else {
                    format!("{g:x}")
                };
                let width = (digits.len() + s.pad[i]).min(4);
                format!("{digits:0>width$}")
            })
            .collect();
        if s.dotted_tail {
            elements.push(Ipv4Addr::from_bits(ip as u32).to_string());
        }
        // `::` stands for a run of zero groups: pick one run, then a part of it.
        let runs: Vec<(usize, usize)> = (0..hex_groups)
            .filter(|&i| segments[i] == 0 && (i == 0 || segments[i - 1] != 0))
            .map(|i| {
                let end = (i..hex_groups)
                    .find(|&j| segments[j] != 0)
                    .unwrap_or(hex_groups);
                (i, end)
            })
            .collect();
        match (s.compress, runs.is_empty()) {
            (Some((which, span)), false) => {
                let (start, end) = runs[which.index(runs.len())];
                let len = 1 + span.index(end - start);
                let offset = which.index(end - start - len + 1);
                let (a, b) = (start + offset, start + offset + len);
                format!("{}::{}", elements[..a].join(":"), elements[b..].join(":"))
            }
            _ => elements.join(":"),
        }
    }

    fn parses_to_v4(url: &str, ip: u32) -> Result<(), TestCaseError> {
        let parsed = Url::parse(url).map_err(|e| TestCaseError::fail(format!("{url}: {e}")))?;
        prop_assert_eq!(
            parsed.host(),
            Some(Host::Ipv4(Ipv4Addr::from_bits(ip))),
            "{}",
            url
        );
        Ok(())
    }

    fn parses_to_v6(url: &str, ip: u128) -> Result<(), TestCaseError> {
        let parsed = Url::parse(url).map_err(|e| TestCaseError::fail(format!("{url}: {e}")))?;
        prop_assert_eq!(
            parsed.host(),
            Some(Host::Ipv6(Ipv6Addr::from_bits(ip))),
            "{}",
            url
        );
        Ok(())
    }

    fn refused_as_host(url: &str, allow_loopback: bool) -> Result<(), TestCaseError> {
        match check_destination_url(url, allow_loopback) {
            Err(e) => prop_assert_eq!(e.kind, "url_host", "{}: {:?}", url, e),
            Ok(stored) => prop_assert!(false, "{} was accepted as {}", url, stored),
        }
        Ok(())
    }

    /// A DNS label with no `--`, so never an `xn--` label that the URL parser
    /// would have to decode as punycode (and refuse when it is not).
    const LABEL: &str = "[a-z]([a-z0-9]|-[a-z0-9]){0,8}";

    proptest! {
        #[test]
        fn non_public_ipv4_is_refused_in_every_spelling(ip in non_public_v4(), s in v4_spelling()) {
            let url = format!("https://{}/hook", spell_v4(ip, &s));
            parses_to_v4(&url, ip)?;
            refused_as_host(&url, false)?;
            // The dev setting admits loopback literals and nothing else.
            if ip >> 24 == 127 {
                prop_assert!(check_destination_url(&url, true).is_ok(), "{}", url);
                let http = url.replacen("https", "http", 1);
                prop_assert!(check_destination_url(&http, true).is_ok(), "{}", http);
                prop_assert!(check_destination_url(&http, false).is_err(), "{}", http);
            } else {
                refused_as_host(&url, true)?;
            }
        }

        #[test]
        fn public_ipv4_is_accepted_in_every_spelling(ip in public_v4(), s in v4_spelling()) {
            let url = format!("https://{}/hook", spell_v4(ip, &s));
            parses_to_v4(&url, ip)?;
            let stored = check_destination_url(&url, false);
            prop_assert_eq!(stored, Ok(format!("https://{}/hook", Ipv4Addr::from_bits(ip))));
        }

        #[test]
        fn non_public_ipv6_is_refused_in_every_spelling(ip in non_public_v6(), s in v6_spelling()) {
            let url = format!("https://[{}]/hook", spell_v6(ip, &s));
            parses_to_v6(&url, ip)?;
            refused_as_host(&url, false)?;
            if ip == 1 {
                prop_assert!(check_destination_url(&url.replacen("https", "http", 1), true).is_ok());
            } else {
                refused_as_host(&url, true)?;
            }
        }

        #[test]
        fn public_ipv6_is_accepted_in_every_spelling(ip in public_v6(), s in v6_spelling()) {
            let url = format!("https://[{}]/hook", spell_v6(ip, &s));
            parses_to_v6(&url, ip)?;
            prop_assert!(check_destination_url(&url, false).is_ok(), "{}", url);
        }

        #[test]
        fn any_ipv4_is_refused_exactly_when_the_table_says(ip in any::<u32>()) {
            let refused = check_destination_url(&format!("https://{ip}/"), false).is_err();
            prop_assert_eq!(refused, !v4_is_public(ip), "{}", Ipv4Addr::from_bits(ip));
        }

        #[test]
        fn names_under_a_reserved_suffix_are_refused(
            labels in proptest::collection::vec(LABEL, 1..4),
            suffix in select(&PRIVATE_NAME_SUFFIXES[..]),
            upper in any::<bool>(),
            dot in any::<bool>(),
        ) {
            let mut host = format!("{}.{suffix}", labels.join("."));
            if upper { host = host.to_uppercase(); }
            if dot { host.push('.'); }
            refused_as_host(&format!("https://{host}/"), false)?;
            refused_as_host(&format!("https://{host}/"), true)?;
            let public = format!("https://{}.{suffix}x.com/", labels.join("."));
            prop_assert!(check_destination_url(&public, false).is_ok(), "{}", public);
        }

        #[test]
        fn single_label_names_are_refused(label in LABEL, dot in any::<bool>(), port in proptest::option::of(1u16..)) {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let url = format!("https://{label}{}{port}/", if dot { "." } else { "" });
            refused_as_host(&url, false)?;
            refused_as_host(&url, true)?;
        }
    }
}
