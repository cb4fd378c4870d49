//! Tests of the wasm build, run by wasm-pack in Node and in headless Chromium: the bindings' buffer protocol and the core on wasm32.

use crate::bindings::WasmWebhook;
use crate::{Scheme, Verifier, VerifyError, sign_webhook};
use wasm_bindgen_test::wasm_bindgen_test;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const BODY: &str = r#"{"test": 2432232314}"#;
const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
const NOW_MS: f64 = 1_614_265_330_000.0;

/// Writes the parts one after the other into the webhook's buffer, as the JavaScript wrapper does.
fn write(webhook: &mut WasmWebhook, parts: &[&[u8]]) -> Vec<usize> {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let ptr = webhook.reserve(total);
    let mut offset = 0;
    for part in parts {
        // The buffer is at least `total` bytes long and owned by `webhook`.
        unsafe { core::ptr::copy_nonoverlapping(part.as_ptr(), ptr.add(offset), part.len()) };
        offset += part.len();
    }
    parts.iter().map(|p| p.len()).collect()
}

fn webhook(secrets: &str, tolerance: u32) -> WasmWebhook {
    let mut w = WasmWebhook::new(tolerance);
    let lens = write(&mut w, &[secrets.as_bytes()]);
    assert_eq!(w.set_secrets(lens[0]), 0);
    w
}

fn verify_standard(
    w: &mut WasmWebhook,
    body: &[u8],
    id: &str,
    ts: &str,
    sig: &str,
    now: f64,
) -> u32 {
    let l = write(w, &[body, id.as_bytes(), ts.as_bytes(), sig.as_bytes()]);
    w.verify_standard(l[0], l[1], l[2], l[3], now)
}

#[wasm_bindgen_test]
fn standard_vector_verifies_through_the_buffer() {
    let mut w = webhook(SECRET, 300);
    assert_eq!(
        verify_standard(&mut w, BODY.as_bytes(), ID, "1614265330", SIG, NOW_MS),
        0
    );
}

#[wasm_bindgen_test]
fn failures_map_to_their_status() {
    let mut w = webhook(SECRET, 300);
    let body = BODY.as_bytes();
    assert_eq!(
        verify_standard(
            &mut w,
            b"{\"test\": 2432232315}",
            ID,
            "1614265330",
            SIG,
            NOW_MS
        ),
        5
    );
    assert_eq!(
        verify_standard(&mut w, body, ID, "16142653x0", SIG, NOW_MS),
        2
    );
    assert_eq!(
        verify_standard(&mut w, body, ID, "1614265330", SIG, NOW_MS + 301_000.0),
        3
    );
    assert_eq!(
        verify_standard(&mut w, body, ID, "1614265330", SIG, NOW_MS - 301_000.0),
        4
    );
    assert_eq!(
        verify_standard(&mut w, body, ID, "1614265330", "v1,", NOW_MS),
        5
    );
}

#[wasm_bindgen_test]
fn malformed_secrets_are_refused_with_a_reason() {
    for (secrets, status) in [
        ("", 10),
        ("abc", 11),
        ("whsec_%%%", 12),
        ("whsec_", 13),
        (&format!("{SECRET}\nwhsec_%"), 12),
    ] {
        let mut w = WasmWebhook::new(300);
        let lens = write(&mut w, &[secrets.as_bytes()]);
        assert_eq!(w.set_secrets(lens[0]), status, "{secrets:?}");
    }
}

#[wasm_bindgen_test]
fn second_secret_verifies_during_rotation() {
    let mut w = webhook(
        &format!("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD\n{SECRET}"),
        300,
    );
    assert_eq!(
        verify_standard(&mut w, BODY.as_bytes(), ID, "1614265330", SIG, NOW_MS),
        0
    );
}

#[wasm_bindgen_test]
fn amigo_vector_verifies_through_the_buffer() {
    let mut w = webhook(SECRET, 300);
    let sig = b"2575962817f7d247c96debda2c18feb5a554d8e7bb8200e17d85554fbde6b4fe";
    let l = write(&mut w, &[BODY.as_bytes(), b"1614265330123", sig]);
    assert_eq!(w.verify_amigo(l[0], l[1], l[2], 1_614_265_330_123.0), 0);
    let l = write(&mut w, &[b"{}", b"1614265330123", sig]);
    assert_eq!(w.verify_amigo(l[0], l[1], l[2], 1_614_265_330_123.0), 5);
}

#[wasm_bindgen_test]
fn sign_output_verifies_and_matches_the_core() {
    let mut w = webhook(SECRET, 300);
    let body = vec![b'x'; 300_000];
    let l = write(&mut w, &[&body, ID.as_bytes()]);
    let len = w.sign(l[0], l[1], NOW_MS);
    // The output buffer holds `name:value` lines.
    let out = unsafe { core::slice::from_raw_parts(w.out_ptr(), len) };
    let text = core::str::from_utf8(out).expect("ascii");
    let core = sign_webhook(&[SECRET], ID, NOW_MS as i64, &body).expect("valid");
    let expected: String = core.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    assert_eq!(text, expected);
    let sig = core.get("webhook-signature").unwrap_or_default().to_owned();
    assert_eq!(
        verify_standard(&mut w, &body, ID, "1614265330", &sig, NOW_MS),
        0
    );
}

#[wasm_bindgen_test]
fn generated_secret_is_usable() {
    let mut w = WasmWebhook::new(300);
    let ptr = w.reserve(32);
    unsafe { core::ptr::write_bytes(ptr, 0x5a, 32) };
    let len = w.secret_from_buffer();
    let secret = unsafe { core::slice::from_raw_parts(w.out_ptr(), len) }.to_vec();
    let secret = String::from_utf8(secret).expect("ascii");
    assert!(secret.starts_with("whsec_") && secret.len() == 50);
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
        v.verify(&standard, b"{}", 1_700_000_000_000),
        Ok(Scheme::StandardWebhooks)
    );
    assert_eq!(
        v.verify(&amigo, b"{}", 1_700_000_000_000),
        Ok(Scheme::Amigo)
    );
    assert_eq!(
        v.verify(&amigo, b"{ }", 1_700_000_000_000),
        Err(VerifyError::NoMatchingSignature)
    );
}
