//! The `?frame=` parameter of a session's URL and the page's framing policy.
//!
//! The parameter names the origins that may frame the portal page, until the
//! session ends, signed by the worker. It is not a secret (it grants nothing
//! but being framed by those origins), and the page's own request carries it,
//! so the `frame-ancestors` of one page load is decided by the session whose
//! URL was opened, never by another session or another organization's.

use super::origin::parse_origin;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The longest parameter read at all: ten of the longest origins and a signature.
pub const MAX_PARAM_CHARS: usize = 6_000;

/// Separates this MAC from every other use of the same key.
const DOMAIN: &[u8] = b"edgehook portal frame v1\n";

#[derive(Serialize, Deserialize)]
struct Payload {
    /// The origins that may frame the page.
    o: Vec<String>,
    /// Unix seconds after which the parameter frames nothing.
    exp: i64,
}

fn mac(key: &[u8], payload: &str) -> Option<Hmac<Sha256>> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).ok()?;
    mac.update(DOMAIN);
    mac.update(payload.as_bytes());
    Some(mac)
}

/// The parameter for `origins` until `exp_s`; `None` when there is nothing to
/// allow (the page then cannot be framed).
pub fn sign(key: &[u8], origins: &[String], exp_s: i64) -> Option<String> {
    if origins.is_empty() {
        return None;
    }
    let json = serde_json::to_vec(&Payload {
        o: origins.to_vec(),
        exp: exp_s,
    })
    .ok()?;
    let payload = URL_SAFE_NO_PAD.encode(json);
    let tag = mac(key, &payload)?.finalize().into_bytes();
    Some(format!("{payload}.{}", URL_SAFE_NO_PAD.encode(tag)))
}

/// The origins a parameter allows at `now_s`: empty unless its signature
/// holds, it has not expired and every origin in it is still a valid one.
pub fn verify(key: &[u8], param: &str, now_s: i64) -> Vec<String> {
    check(key, param, now_s).unwrap_or_default()
}

fn check(key: &[u8], param: &str, now_s: i64) -> Option<Vec<String>> {
    if param.len() > MAX_PARAM_CHARS {
        return None;
    }
    let (payload, tag) = param.split_once('.')?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    mac(key, payload)?.verify_slice(&tag).ok()?;
    let p: Payload = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    if p.exp <= now_s {
        return None;
    }
    p.o.iter()
        .map(|o| parse_origin(o, true).filter(|n| n == o))
        .collect()
}

/// The portal page's Content-Security-Policy: framed by exactly `ancestors`,
/// or by nothing when there are none.
pub fn page_csp(ancestors: &[String]) -> String {
    let ancestors = if ancestors.is_empty() {
        "'none'".to_string()
    } else {
        ancestors.join(" ")
    };
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"jwt_0123456789abcdef0123456789abcdef";
    const NOW: i64 = 1_900_000_000;

    fn origins(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_signed_parameter_names_its_origins_until_it_expires() {
        let allowed = origins(&["https://app.example.com", "http://127.0.0.1:8080"]);
        let p = sign(KEY, &allowed, NOW + 60).unwrap();
        assert!(
            p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
            "{p}"
        );
        assert_eq!(verify(KEY, &p, NOW), allowed);
        assert_eq!(verify(KEY, &p, NOW + 59), allowed);
        assert!(verify(KEY, &p, NOW + 60).is_empty());
        assert!(verify(b"another-key-another-key-another", &p, NOW).is_empty());
        assert_eq!(sign(KEY, &[], NOW + 60), None);
    }

    #[test]
    fn anything_altered_frames_nothing() {
        let p = sign(KEY, &origins(&["https://app.example.com"]), NOW + 60).unwrap();
        let (payload, tag) = p.split_once('.').unwrap();
        // Another payload under the same signature.
        let forged = URL_SAFE_NO_PAD.encode(br#"{"o":["https://evil.example"],"exp":1900000060}"#);
        assert!(verify(KEY, &format!("{forged}.{tag}"), NOW).is_empty());
        for bad in [
            "",
            ".",
            payload,
            &format!("{payload}."),
            &format!("{payload}.{tag}x"),
            &format!("{payload}.!!"),
            &format!(".{tag}"),
        ] {
            assert!(verify(KEY, bad, NOW).is_empty(), "{bad}");
        }
        let long = format!("{payload}.{tag}{}", "A".repeat(MAX_PARAM_CHARS));
        assert!(verify(KEY, &long, NOW).is_empty());
    }

    #[test]
    fn a_parameter_is_read_up_to_its_limit() {
        // Origins whose signed parameter is exactly `len` characters long: `n`
        // long origins and one that grows by a character at a time. The
        // parameter never shrinks as that origin grows, so each `n` needs
        // only a binary search for the first size that reaches `len`.
        let origins = |n: usize, extra: usize| -> Vec<String> {
            let host: Vec<String> = "b"
                .repeat(extra)
                .as_bytes()
                .chunks(63)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect();
            let mut list: Vec<String> = (0..n)
                .map(|i| format!("https://{}{i:02}.example", "a".repeat(61)))
                .collect();
            list.push(format!("https://{}.example", host.join(".")));
            list
        };
        let signed = |list: &[String]| sign(KEY, list, NOW + 60).unwrap();
        let sized = |len: usize| -> (Vec<String>, String) {
            for n in 45..=60 {
                let (mut lo, mut hi) = (1, 200);
                while lo < hi {
                    let mid = (lo + hi) / 2;
                    if signed(&origins(n, mid)).len() < len {
                        lo = mid + 1;
                    } else {
                        hi = mid;
                    }
                }
                let list = origins(n, lo);
                let p = signed(&list);
                if p.len() == len {
                    return (list, p);
                }
            }
            panic!("no parameter of {len} characters")
        };
        let (list, at_limit) = sized(MAX_PARAM_CHARS);
        assert_eq!(verify(KEY, &at_limit, NOW), list);
        let (_, over) = sized(MAX_PARAM_CHARS + 3);
        assert!(verify(KEY, &over, NOW).is_empty());
    }

    #[test]
    fn a_signed_but_unfit_origin_frames_nothing() {
        // Signed by the key (as an older version might have), but a CSP source
        // list could be extended by it: refused whole.
        for odd in [
            "https://a.com,script-src",
            "https://*.evil.com",
            "https://App.example.com",
        ] {
            let p = sign(KEY, &origins(&["https://ok.example", odd]), NOW + 60).unwrap();
            assert!(verify(KEY, &p, NOW).is_empty(), "{odd}");
        }
        // A signed payload that is not the expected JSON.
        let payload = URL_SAFE_NO_PAD.encode(b"[1,2]");
        let tag = URL_SAFE_NO_PAD.encode(mac(KEY, &payload).unwrap().finalize().into_bytes());
        assert!(verify(KEY, &format!("{payload}.{tag}"), NOW).is_empty());
    }

    #[test]
    fn the_policy_names_exactly_the_allowed_origins() {
        assert!(page_csp(&[]).ends_with("frame-ancestors 'none'"));
        assert!(
            page_csp(&origins(&["https://a.example", "https://b.example:8443"]))
                .ends_with("frame-ancestors https://a.example https://b.example:8443")
        );
        assert!(page_csp(&[]).contains("script-src 'self';"));
    }
}
