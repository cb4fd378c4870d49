//! Which addresses a portal session may name: the origins whose pages may
//! frame the portal, and the page a customer goes back to when a session
//! ends. Either is `https://` with a DNS host name (letters, digits and
//! hyphens, labels of at most 63 characters, 253 in all), or a loopback
//! `http://` address in local runs. Nothing else reaches a
//! Content-Security-Policy or a link.

use url::{Host, Url};

/// The longest DNS host name.
pub const MAX_HOST_CHARS: usize = 253;
/// The longest label of a DNS host name.
pub const MAX_LABEL_CHARS: usize = 63;
/// The longest origin read at all: a scheme, the longest host and a port.
const MAX_ORIGIN_CHARS: usize = 300;
/// The longest return URL read at all.
pub const MAX_RETURN_URL_CHARS: usize = 2048;

/// What an origin must look like, said to the caller.
pub const ORIGIN_RULE: &str = "Input should be an origin https://host[:port] (loopback http:// in \
     local runs), without a path, whose host is a DNS name: letters, digits and hyphens, labels \
     of at most 63 characters, 253 in all";

/// What a return URL must look like, said to the caller.
pub const RETURN_URL_RULE: &str = "Input should be an https:// URL (loopback http:// in local runs) \
     of at most 2048 characters, without credentials, whose host is a DNS name";

/// `https://App.Example.com:443/` → `https://app.example.com`; `None` for
/// anything that is not such an origin (a path, a query, credentials, `*`,
/// `,`, `;`, `'`, an IP address, an over-long name). `allow_loopback` admits
/// `http://127.0.0.1[:port]` and `http://localhost[:port]` (local runs).
pub fn parse_origin(raw: &str, allow_loopback: bool) -> Option<String> {
    if raw.len() > MAX_ORIGIN_CHARS {
        return None;
    }
    let url = Url::parse(raw).ok()?;
    let bare = raw.trim_end_matches('/');
    let only_an_origin = url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.fragment().is_none()
        && url.path() == "/"
        && bare.len() + 1 >= raw.len();
    (only_an_origin && host_allowed(&url, allow_loopback))
        .then(|| url.origin().ascii_serialization())
}

/// A session's `return_url`, as it will be linked to: an `https://` URL with a
/// DNS host name and no credentials (or loopback `http://` in local runs).
pub fn parse_return_url(raw: &str, allow_loopback: bool) -> Option<String> {
    if raw.len() > MAX_RETURN_URL_CHARS {
        return None;
    }
    let url = Url::parse(raw).ok()?;
    let no_credentials = url.username().is_empty() && url.password().is_none();
    (no_credentials && host_allowed(&url, allow_loopback)).then(|| url.to_string())
}

/// `https` with a DNS host name, or `http` on loopback when allowed.
fn host_allowed(url: &Url, allow_loopback: bool) -> bool {
    match (url.scheme(), url.host()) {
        ("https", Some(Host::Domain(name))) => is_dns_name(name),
        ("http", Some(Host::Domain("localhost"))) => allow_loopback,
        ("http", Some(Host::Ipv4(ip))) => allow_loopback && ip.is_loopback(),
        _ => false,
    }
}

/// Letters, digits and hyphens in labels of 1 to 63 characters that neither
/// start nor end with a hyphen, 253 characters in all.
pub fn is_dns_name(name: &str) -> bool {
    name.len() <= MAX_HOST_CHARS
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= MAX_LABEL_CHARS
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(n: usize) -> String {
        "a".repeat(n)
    }

    #[test]
    fn origins_are_normalized() {
        assert_eq!(
            parse_origin("https://App.Example.com:443/", false).as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            parse_origin("https://app.example.com:8443", false).as_deref(),
            Some("https://app.example.com:8443")
        );
        assert_eq!(
            parse_origin("https://xn--bcher-kva.example", false).as_deref(),
            Some("https://xn--bcher-kva.example")
        );
        assert_eq!(
            parse_origin("https://bücher.example", false).as_deref(),
            Some("https://xn--bcher-kva.example")
        );
    }

    #[test]
    fn what_the_security_review_sent_is_refused() {
        for bad in [
            "https://a.com,script-src",
            "https://*.evil.com",
            "https://a.com;script-src",
            "https://a'b.com",
            "https://a b.com",
            "https://a_b.com",
            "*",
            "https://a%2Cb.com",
        ] {
            assert_eq!(parse_origin(bad, true), None, "{bad}");
        }
    }

    #[test]
    fn only_an_origin_is_an_origin() {
        for bad in [
            "https://x.example/path",
            "https://x.example/?q",
            "https://x.example?q",
            "https://x.example#f",
            "https://x.example//",
            "https://u@x.example",
            "https://:p@x.example",
            "https://u:p@x.example",
            "ftp://x.example",
            "x.example",
            "",
        ] {
            assert_eq!(parse_origin(bad, true), None, "{bad}");
        }
    }

    #[test]
    fn host_names_follow_dns() {
        let longest_label = format!("https://{}.example", label(63));
        assert!(parse_origin(&longest_label, false).is_some());
        let too_long_label = format!("https://{}.example", label(64));
        assert_eq!(parse_origin(&too_long_label, false), None);
        // 4 labels of 63 and one of 1: 253 characters with the dots.
        let longest = [label(63), label(63), label(63), label(61)].join(".");
        assert_eq!(longest.len(), 253);
        assert!(parse_origin(&format!("https://{longest}"), false).is_some());
        let too_long = format!("{longest}a");
        assert_eq!(parse_origin(&format!("https://{too_long}"), false), None);
        for bad in [
            "https://-a.example",
            "https://a-.example",
            "https://a..example",
        ] {
            assert_eq!(parse_origin(bad, false), None, "{bad}");
        }
        assert!(parse_origin("https://a-b.example", false).is_some());
        // A 61 KB host is refused before it is parsed.
        let huge = format!("https://{}.example", label(61_000));
        assert_eq!(parse_origin(&huge, true), None);
        assert!(is_dns_name("a"));
        assert!(!is_dns_name(""));
    }

    #[test]
    fn the_longest_origin_still_fits_what_is_read() {
        let host = [label(63), label(63), label(63), label(61)].join(".");
        let raw = format!("https://{host}:65535/");
        assert!(raw.len() <= MAX_ORIGIN_CHARS);
        assert!(parse_origin(&raw, false).is_some());
    }

    #[test]
    fn nothing_past_the_read_limit_is_parsed() {
        // A port may carry leading zeros, so an origin can be long and still
        // valid: exactly the limit is read, one more character is not.
        let padded = |len: usize| {
            let head = "https://app.example.com:";
            format!("{head}{}443", "0".repeat(len - head.len() - 3))
        };
        assert_eq!(padded(MAX_ORIGIN_CHARS).len(), MAX_ORIGIN_CHARS);
        assert_eq!(
            parse_origin(&padded(MAX_ORIGIN_CHARS), false).as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(parse_origin(&padded(MAX_ORIGIN_CHARS + 1), false), None);
    }

    #[test]
    fn loopback_http_only_in_local_runs() {
        for local in ["http://127.0.0.1:8080", "http://localhost:3000"] {
            assert!(parse_origin(local, true).is_some(), "{local}");
            assert_eq!(parse_origin(local, false), None, "{local}");
        }
        for never in [
            "http://app.example.com",
            "http://10.0.0.1",
            "http://[::1]:80",
            "https://127.0.0.1",
            "https://[2001:4860::1]",
        ] {
            assert_eq!(parse_origin(never, true), None, "{never}");
        }
    }

    #[test]
    fn return_urls_keep_their_path_and_need_https() {
        assert_eq!(
            parse_return_url("https://app.example.com/settings/webhooks?tab=2", false).as_deref(),
            Some("https://app.example.com/settings/webhooks?tab=2")
        );
        assert!(parse_return_url("http://127.0.0.1:9000/back", true).is_some());
        for bad in [
            "http://app.example.com/",
            "javascript:alert(1)",
            "https://u:p@app.example.com/",
            "https://u@app.example.com/",
            "https://*.example.com/",
            "/relative",
            "http://127.0.0.1:9000/back",
        ] {
            assert_eq!(parse_return_url(bad, false), None, "{bad}");
        }
        let long = format!(
            "https://app.example.com/{}",
            "a".repeat(MAX_RETURN_URL_CHARS)
        );
        assert_eq!(parse_return_url(&long, false), None);
        let fits = format!(
            "https://a.example/{}",
            "a".repeat(MAX_RETURN_URL_CHARS - 18)
        );
        assert_eq!(fits.len(), MAX_RETURN_URL_CHARS);
        assert!(parse_return_url(&fits, false).is_some());
    }
}
