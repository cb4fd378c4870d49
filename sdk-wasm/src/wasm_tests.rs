//! Tests of the wasm build, run by wasm-pack in Node and in headless Chromium: the bindings' buffer protocol and the core on wasm32.

use crate::bindings;
use crate::sha256;
use crate::{Scheme, Verified, Verifier, VerifyError, sign_webhook};
use wasm_bindgen_test::wasm_bindgen_test;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const BODY: &str = r#"{"test": 2432232314}"#;
const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
const NOW_MS: f64 = 1_614_265_330_000.0;
/// What a verification that succeeds returns for the `i`-th key passed.
const MATCHED: u32 = 0x100;

/// Writes the parts one after the other at the start of the input buffer, as the JavaScript
/// wrapper does, and returns their lengths.
fn write(parts: &[&[u8]]) -> Vec<usize> {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    // Room for outputs written after the inputs, too.
    let ptr = bindings::reserve(total + 4096);
    assert!(!ptr.is_null());
    let mut offset = 0;
    for part in parts {
        // The buffer is at least `total` bytes long and used by nothing else.
        unsafe { core::ptr::copy_nonoverlapping(part.as_ptr(), ptr.add(offset), part.len()) };
        offset += part.len();
    }
    parts.iter().map(|p| p.len()).collect()
}

/// `len` bytes of the input buffer from `offset`.
fn read(offset: usize, len: usize) -> Vec<u8> {
    let ptr = bindings::reserve(offset + len);
    unsafe { core::slice::from_raw_parts(ptr.add(offset), len) }.to_vec()
}

/// Parses the secrets one by one, as the wrapper does; returns each secret's 128 bytes of key
/// states (Amigo's 64, then Standard Webhooks' 64), or the first failing status.
fn parse(secrets: &[&str]) -> Result<Vec<[u8; 128]>, u32> {
    secrets
        .iter()
        .map(|s| {
            let l = write(&[s.as_bytes()]);
            match bindings::parse_secret(l[0]) {
                0 => Ok(read(l[0], 128).try_into().expect("128 bytes")),
                status => Err(status),
            }
        })
        .collect()
}

/// One scheme's key states (`half` 0: Amigo, 1: Standard Webhooks), concatenated.
fn scheme_keys(keys: &[[u8; 128]], half: usize) -> Vec<u8> {
    keys.iter()
        .flat_map(|k| k[half * 64..half * 64 + 64].to_vec())
        .collect()
}

fn verify_standard(secrets: &[&str], body: &[u8], ts: &str, sig: &str, now: f64) -> u32 {
    let keys = scheme_keys(&parse(secrets).expect("valid secrets"), 1);
    let l = write(&[&keys, body, ID.as_bytes(), ts.as_bytes(), sig.as_bytes()]);
    bindings::verify_standard(secrets.len(), 0, l[1], l[2], l[3], l[4], 300, now)
}

#[wasm_bindgen_test]
fn standard_vector_verifies_through_the_buffer() {
    assert_eq!(
        verify_standard(&[SECRET], BODY.as_bytes(), "1614265330", SIG, NOW_MS),
        MATCHED
    );
}

#[wasm_bindgen_test]
fn failures_map_to_their_status() {
    let body = BODY.as_bytes();
    let cases = [
        (&b"{\"test\": 2432232315}"[..], "1614265330", SIG, NOW_MS, 5),
        (body, "16142653x0", SIG, NOW_MS, 2),
        (body, "1614265330", SIG, NOW_MS + 301_000.0, 3),
        (body, "1614265330", SIG, NOW_MS - 301_000.0, 4),
        (body, "1614265330", "v1,", NOW_MS, 5),
    ];
    for (body, ts, sig, now, status) in cases {
        assert_eq!(
            verify_standard(&[SECRET], body, ts, sig, now),
            status,
            "{ts} {sig} {now}"
        );
    }
}

#[wasm_bindgen_test]
fn a_tolerance_other_than_the_default_is_applied() {
    let keys = scheme_keys(&parse(&[SECRET]).expect("valid"), 1);
    let l = write(&[
        &keys,
        BODY.as_bytes(),
        ID.as_bytes(),
        b"1614265330",
        SIG.as_bytes(),
    ]);
    let at =
        |tolerance, now| bindings::verify_standard(1, 0, l[1], l[2], l[3], l[4], tolerance, now);
    assert_eq!(at(10, NOW_MS + 11_000.0), 3);
    assert_eq!(at(10, NOW_MS + 10_000.0), MATCHED);
}

#[wasm_bindgen_test]
fn lengths_beyond_the_buffer_are_a_layout_error() {
    let keys = scheme_keys(&parse(&[SECRET]).expect("valid"), 1);
    write(&[&keys]);
    assert_eq!(
        bindings::verify_standard(1, 0, usize::MAX / 2, 1, 1, 1, 300, NOW_MS),
        99
    );
    assert_eq!(bindings::verify_amigo(usize::MAX, 1, 1, 1, 300, NOW_MS), 99);
}

#[wasm_bindgen_test]
fn malformed_secrets_are_refused_with_a_reason() {
    for (secret, status) in [
        ("abc", 11),
        ("", 11),
        ("whsec_%%%", 12),
        ("whsec_QUJD=", 12),
        ("whsec_", 13),
    ] {
        assert_eq!(parse(&[secret]).err(), Some(status), "{secret:?}");
    }
}

#[wasm_bindgen_test]
fn second_secret_verifies_during_rotation() {
    let secrets = ["whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", SECRET];
    assert_eq!(
        verify_standard(&secrets, BODY.as_bytes(), "1614265330", SIG, NOW_MS),
        MATCHED + 1
    );
    assert_eq!(
        verify_standard(&secrets[..1], BODY.as_bytes(), "1614265330", SIG, NOW_MS),
        5
    );
}

#[wasm_bindgen_test]
fn amigo_vector_verifies_through_the_buffer() {
    let keys = scheme_keys(&parse(&[SECRET]).expect("valid"), 0);
    let sig = b"2575962817f7d247c96debda2c18feb5a554d8e7bb8200e17d85554fbde6b4fe";
    let l = write(&[&keys, BODY.as_bytes(), b"1614265330123", sig]);
    assert_eq!(
        bindings::verify_amigo(1, l[1], l[2], l[3], 300, 1_614_265_330_123.0),
        MATCHED
    );
    let l = write(&[&keys, b"{}", b"1614265330123", sig]);
    assert_eq!(
        bindings::verify_amigo(1, l[1], l[2], l[3], 300, 1_614_265_330_123.0),
        5
    );
}

#[wasm_bindgen_test]
fn sign_output_verifies_and_matches_the_core() {
    let secrets = ["whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", SECRET];
    let keys: Vec<u8> = parse(&secrets).expect("valid").concat();
    // Larger than the buffer so far: the buffer grows.
    let body = vec![b'x'; 300_000];
    let l = write(&[&keys, &body, ID.as_bytes()]);
    let len = bindings::sign(2, l[1], l[2], NOW_MS);
    let out = read(l[0] + l[1] + l[2], len);
    let text = core::str::from_utf8(&out).expect("ascii");
    let core = sign_webhook(&secrets, ID, NOW_MS as i64, &body).expect("valid");
    let expected: String = core.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    assert_eq!(text, expected);
    let sig = core.get("webhook-signature").unwrap_or_default().to_owned();
    assert_eq!(
        verify_standard(&[SECRET], &body, "1614265330", &sig, NOW_MS),
        MATCHED
    );
}

#[wasm_bindgen_test]
fn generated_secret_is_usable() {
    let l = write(&[&[0x5a; 32]]);
    let len = bindings::generate_secret();
    let secret = String::from_utf8(read(l[0], len)).expect("ascii");
    assert_eq!(secret, format!("whsec_{}", "Wlpa".repeat(10) + "Wlo="));
    assert!(Verifier::new(&[secret]).is_ok());
}

#[wasm_bindgen_test]
fn core_verifies_both_schemes_on_wasm32() {
    let v = Verifier::new(&[SECRET]).expect("valid");
    let signed = sign_webhook(&[SECRET], ID, 1_700_000_000_000, b"{}").expect("valid");
    let standard: Vec<_> = signed
        .iter()
        .filter(|(n, _)| n.starts_with("webhook-"))
        .collect();
    let amigo: Vec<_> = signed
        .iter()
        .filter(|(n, _)| n.starts_with("x-amigo-"))
        .collect();
    assert_eq!(
        v.verify(&standard, b"{}", 1_700_000_000_000)
            .map(|v| v.scheme),
        Ok(Scheme::StandardWebhooks)
    );
    assert_eq!(
        v.verify(&amigo, b"{}", 1_700_000_000_000),
        Ok(Verified {
            scheme: Scheme::Amigo,
            asymmetric: false,
            key_index: 0
        })
    );
    assert_eq!(
        v.verify(&amigo, b"{ }", 1_700_000_000_000),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[wasm_bindgen_test]
fn sha256_matches_the_fips_vectors_on_wasm32() {
    // The npm package's build uses a wasm SIMD message schedule; the host tests cover the scalar one.
    let hex = |bytes: [u8; 32]| -> String { bytes.iter().map(|b| format!("{b:02x}")).collect() };
    assert_eq!(
        hex(sha256::sha256(b"abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        hex(sha256::sha256(
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
        )),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    );
    assert_eq!(
        hex(sha256::sha256(&vec![b'a'; 1_000_000])),
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
    );
}

/// The Standard Webhooks `v1a` vector: its public key and the signature of `BODY` at `1614265330`.
#[cfg(feature = "ed25519")]
const V1A_PUBLIC_KEY: &str = "whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=";
#[cfg(feature = "ed25519")]
const V1A: &str =
    "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag==";

/// Parses a public key through the buffer: its 32 bytes, or the failing status.
#[cfg(feature = "ed25519")]
fn parse_public(key: &str) -> Result<Vec<u8>, u32> {
    let l = write(&[key.as_bytes()]);
    match bindings::parse_public_key(l[0]) {
        0 => Ok(read(l[0], 32)),
        status => Err(status),
    }
}

#[cfg(feature = "ed25519")]
#[wasm_bindgen_test]
fn the_v1a_vector_verifies_through_the_buffer_and_names_its_key() {
    let public = parse_public(V1A_PUBLIC_KEY).expect("valid");
    let hmac = scheme_keys(&parse(&[SECRET]).expect("valid"), 1);
    let verify = |hmac_count: usize, keys: &[u8], body: &[u8], sig: &str| {
        let l = write(&[keys, body, ID.as_bytes(), b"1614265330", sig.as_bytes()]);
        let public_count = (keys.len() - 64 * hmac_count) / 32;
        bindings::verify_standard(
            hmac_count,
            public_count,
            l[1],
            l[2],
            l[3],
            l[4],
            300,
            NOW_MS,
        )
    };
    assert_eq!(verify(0, &public, BODY.as_bytes(), V1A), MATCHED);
    // HMAC states come first: the public key is the second key passed.
    let both = [hmac.as_slice(), public.as_slice()].concat();
    assert_eq!(verify(1, &both, BODY.as_bytes(), V1A), MATCHED + 1);
    assert_eq!(verify(1, &both, BODY.as_bytes(), SIG), MATCHED);
    assert_eq!(verify(0, &public, b"{\"test\": 2432232315}", V1A), 5);
    // A public key never verifies a `v1` HMAC entry, nor a secret a `v1a` one.
    assert_eq!(verify(0, &public, BODY.as_bytes(), SIG), 5);
    assert_eq!(verify(1, &hmac, BODY.as_bytes(), V1A), 5);
}

#[cfg(feature = "ed25519")]
#[wasm_bindgen_test]
fn malformed_public_keys_are_refused_with_a_reason() {
    for (key, status) in [
        ("whpk_QUJD", 14),
        ("whpk_", 14),
        ("whpk_AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 15),
        ("whpk_AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 15),
        ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 11),
    ] {
        assert_eq!(parse_public(key).err(), Some(status), "{key:?}");
    }
}
