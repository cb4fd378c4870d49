//! Who is calling and what they may do: the credentials in the headers, the
//! permissions named as in the seed API, API keys (stored only as hashes) and
//! the JWTs the worker issues at sign-in.

use crate::error::ApiError;
use crate::portal::PageClaims;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const GET_DESTINATION: &str = "Webhook:GetWebhookDestination";
pub const CREATE_DESTINATION: &str = "Webhook:CreateWebhookDestination";
pub const UPDATE_DESTINATION: &str = "Webhook:UpdateWebhookDestination";
pub const DELETE_DESTINATION: &str = "Webhook:DeleteWebhookDestination";
pub const GET_DELIVERIES: &str = "Webhook:GetWebhookDeliveries";
/// edgehook's own: publish events for the organization's destinations.
pub const SEND_EVENT: &str = "Webhook:SendWebhookEvent";
/// edgehook's own: mint and revoke customer-portal sessions.
pub const CREATE_PORTAL_SESSION: &str = "Webhook:CreatePortalSession";

/// Every permission a user can hold.
pub const ALL_PERMISSIONS: [&str; 7] = [
    GET_DESTINATION,
    CREATE_DESTINATION,
    UPDATE_DESTINATION,
    DELETE_DESTINATION,
    GET_DELIVERIES,
    SEND_EVENT,
    CREATE_PORTAL_SESSION,
];

/// Checks an operator-supplied permission list: each must be a known name.
pub fn check_permissions(perms: &[String]) -> Result<(), ApiError> {
    for (i, p) in perms.iter().enumerate() {
        if !ALL_PERMISSIONS.contains(&p.as_str()) {
            return Err(ApiError::invalid(
                &["body", "permissions", &i.to_string()],
                format!(
                    "unknown permission {p:?}; known: {}",
                    ALL_PERMISSIONS.join(", ")
                ),
                "enum",
            ));
        }
    }
    Ok(())
}

/// What the `Authorization` header carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `Bearer <jwt>`.
    Bearer(String),
    /// `Basic base64("{org_id}_{user_id}:{jwt}")`: the username must match the token.
    Basic { username: String, token: String },
}

impl Credentials {
    pub fn token(&self) -> &str {
        match self {
            Credentials::Bearer(t) | Credentials::Basic { token: t, .. } => t,
        }
    }
}

/// Reads the `Authorization` header; any other scheme or a malformed value is a 401.
pub fn parse_authorization(header: Option<&str>) -> Result<Credentials, ApiError> {
    let header =
        header.ok_or_else(|| ApiError::Unauthorized("missing Authorization header".into()))?;
    let (scheme, rest) = header
        .trim()
        .split_once(' ')
        .ok_or_else(|| ApiError::Unauthorized("malformed Authorization header".into()))?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        return Ok(Credentials::Bearer(rest.to_string()));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD
            .decode(rest)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| ApiError::Unauthorized("malformed Basic credentials".into()))?;
        if let Some((username, token)) = decoded.split_once(':')
            && !token.is_empty()
        {
            return Ok(Credentials::Basic {
                username: username.to_string(),
                token: token.to_string(),
            });
        }
        return Err(ApiError::Unauthorized("malformed Basic credentials".into()));
    }
    Err(ApiError::Unauthorized(
        "unsupported Authorization scheme; use Bearer or Basic".into(),
    ))
}

/// The claims of an edgehook token. Permissions travel in the token so that a
/// request needs no lookup to authorize; tokens are short-lived for that reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The organization that issued the token.
    pub org: String,
    /// The API key it was exchanged for.
    pub kid: String,
    pub perms: Vec<String>,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    /// A portal session's token: who minted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
    /// A portal session's token: what the page shows (never read by the API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portal: Option<PageClaims>,
}

/// The user and API key that minted a portal session (the `act` claim, as
/// token exchange names the party acting): the session counts against that
/// user's rate limits and ends with that key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The minting user.
    pub sub: String,
    /// The minting user's API key.
    pub kid: String,
}

const ISSUER: &str = "edgehook";

/// A verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub org_id: String,
    pub user_id: String,
    /// The API key the token was signed in with: revoking it ends the token.
    pub key_id: String,
    pub permissions: Vec<String>,
    /// For a portal session: who minted it.
    pub minted_by: Option<Actor>,
}

impl Principal {
    /// Whose rate limits a call counts against: a session's minter, else the caller.
    pub fn rate_subject(&self) -> &str {
        self.minted_by.as_ref().map_or(&self.user_id, |a| &a.sub)
    }

    /// 403 unless the caller holds `permission`.
    pub fn require(&self, permission: &str) -> Result<(), ApiError> {
        if self.permissions.iter().any(|p| p == permission) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "missing permission {permission}"
            )))
        }
    }
}

/// The one JWT algorithm edgehook signs and accepts, as a `jsonwebtoken` crypto
/// provider: HMAC-SHA256 through the same `hmac`/`sha2` crates that sign webhooks.
mod hs256 {
    use hmac::{Hmac, KeyInit, Mac};
    use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
    use jsonwebtoken::errors::{ErrorKind, Result};
    use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, EncodingKey};
    use sha2::Sha256;

    pub struct Hs256(Hmac<Sha256>);

    fn key(bytes: &[u8]) -> Result<Hs256> {
        Ok(Hs256(
            Hmac::new_from_slice(bytes).map_err(|_| ErrorKind::InvalidKeyFormat)?,
        ))
    }

    impl signature::Signer<Vec<u8>> for Hs256 {
        fn try_sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
            let mut mac = self.0.clone();
            mac.update(msg);
            Ok(mac.finalize().into_bytes().to_vec())
        }
    }

    impl signature::Verifier<Vec<u8>> for Hs256 {
        fn verify(&self, msg: &[u8], sig: &Vec<u8>) -> std::result::Result<(), signature::Error> {
            let mut mac = self.0.clone();
            mac.update(msg);
            mac.verify_slice(sig).map_err(|_| signature::Error::new())
        }
    }

    impl JwtSigner for Hs256 {
        fn algorithm(&self) -> Algorithm {
            Algorithm::HS256
        }
    }

    impl JwtVerifier for Hs256 {
        fn algorithm(&self) -> Algorithm {
            Algorithm::HS256
        }
    }

    fn signer(alg: &Algorithm, k: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
        match alg {
            Algorithm::HS256 => Ok(Box::new(key(k.as_bytes())?)),
            _ => Err(ErrorKind::InvalidAlgorithm.into()),
        }
    }

    fn verifier(alg: &Algorithm, k: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
        match (alg, k.kind()) {
            (Algorithm::HS256, DecodingKeyKind::SecretOrDer(bytes)) => Ok(Box::new(key(bytes)?)),
            _ => Err(ErrorKind::InvalidAlgorithm.into()),
        }
    }

    static PROVIDER: CryptoProvider = CryptoProvider {
        signer_factory: signer,
        verifier_factory: verifier,
        key_utils: KeyUtils::new_unimplemented(),
    };

    /// Makes HS256 the provider; later calls find it installed and do nothing.
    pub fn install() {
        let _ = PROVIDER.install_default();
    }
}

/// Issues a token for a user; `signing_key` is the worker's secret.
pub fn issue_token(
    signing_key: &[u8],
    org_id: &str,
    user_id: &str,
    api_key_id: &str,
    perms: &[String],
    now_s: i64,
    ttl_s: i64,
) -> Result<(String, i64), ApiError> {
    let claims = Claims {
        sub: user_id.to_string(),
        org: org_id.to_string(),
        kid: api_key_id.to_string(),
        perms: perms.to_vec(),
        iat: now_s,
        exp: now_s + ttl_s,
        iss: ISSUER.to_string(),
        act: None,
        portal: None,
    };
    Ok((sign(signing_key, &claims)?, claims.exp))
}

/// What a portal session's token says besides its permissions.
pub struct SessionToken<'a> {
    pub org_id: &'a str,
    pub session_id: &'a str,
    pub minted_by: Actor,
    pub page: Option<PageClaims>,
}

/// Issues a portal session's token, valid until `exp_s`.
pub fn issue_session_token(
    signing_key: &[u8],
    t: SessionToken<'_>,
    perms: &[String],
    now_s: i64,
    exp_s: i64,
) -> Result<String, ApiError> {
    sign(
        signing_key,
        &Claims {
            sub: crate::portal::subject(t.session_id),
            org: t.org_id.to_string(),
            kid: t.session_id.to_string(),
            perms: perms.to_vec(),
            iat: now_s,
            exp: exp_s,
            iss: ISSUER.to_string(),
            act: Some(t.minted_by),
            portal: t.page,
        },
    )
}

fn sign(signing_key: &[u8], claims: &Claims) -> Result<String, ApiError> {
    hs256::install();
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(signing_key),
    )
    .map_err(|e| ApiError::Internal(format!("token encoding failed: {e}")))
}

/// Why a token was refused, in words of edgehook's own: the library's message
/// (which may quote decoder internals) is never answered.
fn token_problem(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::ExpiredSignature => "expired",
        ErrorKind::InvalidSignature => "its signature does not match",
        _ => "malformed, or not issued by edgehook",
    }
}

/// Verifies credentials and decides whose organization the call acts in.
/// The algorithm is fixed to HS256 (a token saying `none` or anything else is
/// refused), expiry is checked against `now_s`, and `x_org_id` (the optional
/// `X-ORG-ID` header) must name the organization that issued the token.
pub fn authenticate(
    signing_key: &[u8],
    creds: &Credentials,
    x_org_id: Option<&str>,
    now_s: i64,
) -> Result<Principal, ApiError> {
    hs256::install();
    let bad = |why: &str| ApiError::Unauthorized(format!("invalid token: {why}"));
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    validation.leeway = 0;
    let data = decode::<Claims>(
        creds.token(),
        &DecodingKey::from_secret(signing_key),
        &validation,
    )
    .map_err(|e| bad(token_problem(e.kind())))?;
    let claims = data.claims;
    if claims.exp <= now_s {
        return Err(bad("expired"));
    }
    if let Credentials::Basic { username, .. } = creds
        && *username != format!("{}_{}", claims.org, claims.sub)
    {
        return Err(ApiError::Unauthorized(
            "Basic username must be {org_id}_{user_id} of the token".into(),
        ));
    }
    if let Some(x) = x_org_id
        && !x.is_empty()
        && x != claims.org
    {
        return Err(ApiError::Unauthorized(
            "X-ORG-ID does not match the organization that issued the token".into(),
        ));
    }
    Ok(Principal {
        org_id: claims.org,
        user_id: claims.sub,
        key_id: claims.kid,
        permissions: claims.perms,
        minted_by: claims.act,
    })
}

/// A new API key from 32 random bytes: what the operator hands to the user once.
pub fn api_key_from_bytes(random: &[u8; 32]) -> String {
    format!("ehk_{}", URL_SAFE_NO_PAD.encode(random))
}

/// The only form in which an API key is stored.
pub fn hash_api_key(key: &str) -> String {
    crate::ids::hex(&Sha256::digest(key.as_bytes()))
}

/// Compares a presented key with a stored hash in constant time.
pub fn api_key_matches(key: &str, stored_hash: &str) -> bool {
    constant_time_eq(hash_api_key(key).as_bytes(), stored_hash.as_bytes())
}

/// Compares two secrets without an early exit that would time their common prefix.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"test-signing-key-0123456789abcdef";
    const NOW: i64 = 1_900_000_000;

    fn token(perms: &[&str], now: i64, ttl: i64) -> String {
        let perms: Vec<String> = perms.iter().map(|s| s.to_string()).collect();
        issue_token(KEY, "org1", "user1", "key1", &perms, now, ttl)
            .unwrap()
            .0
    }

    /// A well-formed token signed with another key.
    fn foreign_token() -> String {
        issue_token(
            b"another-key-another-key-another!",
            "org1",
            "user1",
            "k",
            &[],
            NOW,
            3600,
        )
        .unwrap()
        .0
    }

    #[test]
    fn bearer_round_trip() {
        let t = token(&[GET_DESTINATION], NOW, 3600);
        let p = authenticate(
            KEY,
            &parse_authorization(Some(&format!("Bearer {t}"))).unwrap(),
            None,
            NOW,
        )
        .unwrap();
        assert_eq!(
            (p.org_id.as_str(), p.user_id.as_str(), p.key_id.as_str()),
            ("org1", "user1", "key1")
        );
        assert!(p.require(GET_DESTINATION).is_ok());
        assert_eq!(
            p.require(CREATE_DESTINATION).unwrap_err().to_http().status,
            403
        );
    }

    #[test]
    fn basic_needs_matching_username() {
        let t = token(&[], NOW, 3600);
        let good = STANDARD.encode(format!("org1_user1:{t}"));
        assert!(
            authenticate(
                KEY,
                &parse_authorization(Some(&format!("Basic {good}"))).unwrap(),
                None,
                NOW
            )
            .is_ok()
        );
        let bad = STANDARD.encode(format!("org1_user2:{t}"));
        assert!(
            authenticate(
                KEY,
                &parse_authorization(Some(&format!("Basic {bad}"))).unwrap(),
                None,
                NOW
            )
            .is_err()
        );
    }

    #[test]
    fn refuses_expired_foreign_and_unsigned_tokens() {
        let expired = token(&[], NOW - 7200, 3600);
        assert!(authenticate(KEY, &Credentials::Bearer(expired), None, NOW).is_err());
        let foreign = foreign_token();
        assert!(authenticate(KEY, &Credentials::Bearer(foreign), None, NOW).is_err());
        // alg:none with the same claims
        let t = token(&[GET_DESTINATION], NOW, 3600);
        let payload = t.split('.').nth(1).unwrap();
        let none = format!(
            "{}.{payload}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#)
        );
        assert!(authenticate(KEY, &Credentials::Bearer(none), None, NOW).is_err());
        assert!(authenticate(KEY, &Credentials::Bearer("garbage".into()), None, NOW).is_err());
    }

    #[test]
    fn refusals_never_quote_the_decoder() {
        let detail =
            |token: &str| match authenticate(KEY, &Credentials::Bearer(token.into()), None, NOW) {
                Err(ApiError::Unauthorized(m)) => m,
                other => panic!("{other:?}"),
            };
        // A colon where base64 is expected: the decoder's own message names
        // the symbol and its offset.
        let t = token(&[], NOW, 3600);
        let (signed, sig) = t.rsplit_once('.').unwrap();
        let mangled = format!("{signed}.{}:{}", &sig[..4], &sig[5..]);
        assert_eq!(
            detail(&mangled),
            "invalid token: malformed, or not issued by edgehook"
        );
        assert_eq!(
            detail("garbage"),
            "invalid token: malformed, or not issued by edgehook"
        );
        assert_eq!(
            detail(&token(&[], NOW - 7200, 3600)),
            "invalid token: expired"
        );
        // Expired by the clock, too (the decoder's own check).
        assert_eq!(
            detail(&token(&[], 1_000_000_000, 60)),
            "invalid token: expired"
        );
        let mut forged = token(&[], NOW, 3600);
        forged.push('A');
        assert_eq!(
            detail(&forged),
            "invalid token: its signature does not match"
        );
        let other_key = foreign_token();
        assert_eq!(
            detail(&other_key),
            "invalid token: its signature does not match"
        );
        for d in [detail(&mangled), detail("a.b.c")] {
            assert!(
                !d.contains("Base64") && !d.contains("offset") && !d.contains("JSON"),
                "{d}"
            );
        }
    }

    #[test]
    fn a_session_token_names_its_minter_and_counts_against_them() {
        let page = PageClaims {
            theme: None,
            return_url: Some("https://app.example/back".into()),
        };
        let t = issue_session_token(
            KEY,
            SessionToken {
                org_id: "org1",
                session_id: "s1",
                minted_by: Actor {
                    sub: "ann".into(),
                    kid: "key9".into(),
                },
                page: Some(page.clone()),
            },
            &[GET_DESTINATION.to_string()],
            NOW,
            NOW + 60,
        )
        .unwrap();
        let p = authenticate(KEY, &Credentials::Bearer(t.clone()), None, NOW).unwrap();
        assert_eq!(
            (p.user_id.as_str(), p.key_id.as_str(), p.rate_subject()),
            ("portal:s1", "s1", "ann")
        );
        assert_eq!(p.minted_by.as_ref().map(|a| a.kid.as_str()), Some("key9"));
        assert!(p.require(GET_DESTINATION).is_ok());
        assert!(authenticate(KEY, &Credentials::Bearer(t.clone()), None, NOW + 60).is_err());
        // The page reads its claims from the token.
        let payload = t.split('.').nth(1).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(claims["portal"]["return_url"], "https://app.example/back");
        assert_eq!(claims["exp"], NOW + 60);
        // A sign-in token has neither claim, and counts against its own user.
        let plain = token(&[], NOW, 60);
        let claims: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(plain.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        assert!(claims.get("act").is_none() && claims.get("portal").is_none());
        let p = authenticate(KEY, &Credentials::Bearer(plain), None, NOW).unwrap();
        assert_eq!(p.rate_subject(), "user1");
        assert_eq!(p.minted_by, None);
    }

    #[test]
    fn x_org_id_must_name_the_issuer() {
        let t = Credentials::Bearer(token(&[], NOW, 3600));
        assert!(authenticate(KEY, &t, Some("org1"), NOW).is_ok());
        assert!(authenticate(KEY, &t, Some("org2"), NOW).is_err());
    }

    #[test]
    fn authorization_header_forms() {
        assert!(parse_authorization(None).is_err());
        assert!(parse_authorization(Some("Token abc")).is_err());
        assert!(parse_authorization(Some("Bearer")).is_err());
        assert!(parse_authorization(Some("Basic !!!")).is_err());
        assert_eq!(
            parse_authorization(Some("bearer abc")).unwrap(),
            Credentials::Bearer("abc".into())
        );
    }

    #[test]
    fn api_keys_are_hashed_and_compared() {
        let k = api_key_from_bytes(&[7; 32]);
        assert!(k.starts_with("ehk_") && k.len() > 40);
        let h = hash_api_key(&k);
        assert_eq!(h.len(), 64);
        assert!(!h.contains(&k[4..]));
        assert!(api_key_matches(&k, &h));
        assert!(!api_key_matches("ehk_other", &h));
    }

    #[test]
    fn permission_names_are_checked() {
        assert!(check_permissions(&[GET_DESTINATION.to_string()]).is_ok());
        assert_eq!(
            check_permissions(&["Webhook:Everything".to_string()])
                .unwrap_err()
                .to_http()
                .status,
            422
        );
    }

    #[test]
    fn constant_time_eq_compares_every_byte() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        // two differences whose bit patterns cancel out are still differences
        assert!(!constant_time_eq(&[1, 1], &[0, 0]));
        assert!(!constant_time_eq(b"ab", b"ba"));
    }

    #[test]
    fn a_stored_hash_with_two_characters_swapped_does_not_match() {
        let k = api_key_from_bytes(&[9; 32]);
        let h = hash_api_key(&k);
        let mut chars: Vec<char> = h.chars().collect();
        let i = (1..chars.len())
            .find(|&i| chars[i] != chars[i - 1])
            .expect("a SHA-256 hex digest has two different neighbours");
        chars.swap(i - 1, i);
        let swapped: String = chars.into_iter().collect();
        assert!(api_key_matches(&k, &h));
        assert!(!api_key_matches(&k, &swapped));
    }
}
