//! wasm-bindgen exports behind the npm package: JavaScript writes inputs straight into a reusable buffer in wasm memory.
//!
//! Only numbers cross the boundary. The wrapper (`pkg/src/webhook.js`) encodes the body and the
//! header values into `scratch` (with `TextEncoder.encodeInto` or a byte copy), then calls a
//! method with their lengths; nothing is allocated per call on either side once the buffer has
//! grown to the largest body seen. Results are small status codes, mapped to error codes in
//! JavaScript.

use crate::secret::{SecretError, secret_from_bytes};
use crate::sign::sign_with_keys;
use crate::verify::{Verifier, VerifyError};
use wasm_bindgen::prelude::*;

/// Status codes shared with the JavaScript wrapper (`pkg/src/codes.js`).
mod status {
    pub const OK: u32 = 0;
    pub const MALFORMED_TIMESTAMP: u32 = 2;
    pub const TIMESTAMP_TOO_OLD: u32 = 3;
    pub const TIMESTAMP_TOO_NEW: u32 = 4;
    pub const NO_MATCHING_SIGNATURE: u32 = 5;
    pub const NO_SECRET: u32 = 10;
    pub const SECRET_MISSING_PREFIX: u32 = 11;
    pub const SECRET_INVALID_BASE64: u32 = 12;
    pub const SECRET_EMPTY_KEY: u32 = 13;
    /// The lengths passed do not fit the buffer: a wrapper bug, never outside input.
    pub const BAD_LAYOUT: u32 = 99;
}

fn verify_status(result: Result<(), VerifyError>) -> u32 {
    match result {
        Ok(()) => status::OK,
        Err(VerifyError::MalformedTimestamp) => status::MALFORMED_TIMESTAMP,
        Err(VerifyError::TimestampTooOld) => status::TIMESTAMP_TOO_OLD,
        Err(VerifyError::TimestampTooNew) => status::TIMESTAMP_TOO_NEW,
        Err(VerifyError::NoMatchingSignature) => status::NO_MATCHING_SIGNATURE,
        Err(VerifyError::MalformedSecret(e)) => secret_status(e),
        // Header lookup happens in JavaScript; the values arrive here already found.
        Err(VerifyError::MissingHeader(_)) => status::BAD_LAYOUT,
    }
}

fn secret_status(e: SecretError) -> u32 {
    match e {
        SecretError::NoSecret => status::NO_SECRET,
        SecretError::MissingPrefix => status::SECRET_MISSING_PREFIX,
        SecretError::InvalidBase64 => status::SECRET_INVALID_BASE64,
        SecretError::EmptyKey => status::SECRET_EMPTY_KEY,
    }
}

/// One destination's verifier and signer, with its input and output buffers.
#[wasm_bindgen]
pub struct WasmWebhook {
    verifier: Option<Verifier>,
    tolerance_seconds: u32,
    scratch: Vec<u8>,
    out: Vec<u8>,
}

#[wasm_bindgen]
impl WasmWebhook {
    /// An empty verifier; `set_secrets` must succeed before any other call.
    #[wasm_bindgen(constructor)]
    pub fn new(tolerance_seconds: u32) -> WasmWebhook {
        WasmWebhook {
            verifier: None,
            tolerance_seconds,
            scratch: Vec::new(),
            out: Vec::new(),
        }
    }

    /// Makes the input buffer at least `len` bytes long and returns where it starts. The address
    /// changes only when the buffer grows, so the wrapper calls this only when it needs more room.
    pub fn reserve(&mut self, len: usize) -> *mut u8 {
        if self.scratch.len() < len {
            self.scratch.resize(len, 0);
        }
        self.scratch.as_mut_ptr()
    }

    /// Parses the secrets written as `secret\nsecret…` (newest first) into the buffer's first
    /// `len` bytes, precomputing their HMAC key states.
    pub fn set_secrets(&mut self, len: usize) -> u32 {
        let Some(text) = self.scratch.get(..len) else {
            return status::BAD_LAYOUT;
        };
        let Ok(text) = core::str::from_utf8(text) else {
            return status::SECRET_INVALID_BASE64;
        };
        let secrets: Vec<&str> = if text.is_empty() {
            Vec::new()
        } else {
            text.split('\n').collect()
        };
        match Verifier::new(&secrets) {
            Ok(v) => {
                self.verifier = Some(v.with_tolerance_seconds(self.tolerance_seconds));
                status::OK
            }
            Err(e) => secret_status(e),
        }
    }

    /// Verifies Standard Webhooks headers; the buffer holds `body | id | timestamp | signature`.
    pub fn verify_standard(
        &self,
        body_len: usize,
        id_len: usize,
        ts_len: usize,
        sig_len: usize,
        now_ms: f64,
    ) -> u32 {
        let Some(verifier) = &self.verifier else {
            return status::NO_SECRET;
        };
        let Some([body, id, ts, sig]) = split(&self.scratch, [body_len, id_len, ts_len, sig_len])
        else {
            return status::BAD_LAYOUT;
        };
        verify_status(verifier.verify_standard(id, ts, sig, body, now_ms as i64))
    }

    /// Verifies Amigo headers; the buffer holds `body | timestamp | signature`.
    pub fn verify_amigo(&self, body_len: usize, ts_len: usize, sig_len: usize, now_ms: f64) -> u32 {
        let Some(verifier) = &self.verifier else {
            return status::NO_SECRET;
        };
        let Some([body, ts, sig]) = split(&self.scratch, [body_len, ts_len, sig_len]) else {
            return status::BAD_LAYOUT;
        };
        verify_status(verifier.verify_amigo(ts, sig, body, now_ms as i64))
    }

    /// Signs `body | id` from the buffer at `timestamp_ms` with every secret, newest first. The
    /// six header values land in the output buffer as `name:value` lines; returns their length.
    pub fn sign(&mut self, body_len: usize, id_len: usize, timestamp_ms: f64) -> usize {
        self.out.clear();
        let (Some(verifier), Some([body, id])) =
            (&self.verifier, split(&self.scratch, [body_len, id_len]))
        else {
            return 0;
        };
        let Ok(id) = core::str::from_utf8(id) else {
            return 0;
        };
        let signed = sign_with_keys(verifier.keys(), id, timestamp_ms as i64, body);
        for (name, value) in signed.iter() {
            self.out.extend_from_slice(name.as_bytes());
            self.out.push(b':');
            self.out.extend_from_slice(value.as_bytes());
            self.out.push(b'\n');
        }
        self.out.len()
    }

    /// A new secret from 32 random bytes the wrapper wrote into the buffer (drawn with
    /// `crypto.getRandomValues`, present in every target runtime); returns its length in the
    /// output buffer.
    pub fn secret_from_buffer(&mut self) -> usize {
        self.out.clear();
        let Some(bytes) = self
            .scratch
            .get(..32)
            .and_then(|b| <&[u8; 32]>::try_from(b).ok())
        else {
            return 0;
        };
        self.out
            .extend_from_slice(secret_from_bytes(bytes).as_bytes());
        self.out.len()
    }

    /// Where the last `sign` or `secret_from_buffer` wrote its output.
    pub fn out_ptr(&self) -> *const u8 {
        self.out.as_ptr()
    }
}

/// Splits the front of `buf` into consecutive slices of the given lengths.
fn split<const N: usize>(buf: &[u8], lens: [usize; N]) -> Option<[&[u8]; N]> {
    let mut rest = buf;
    let mut parts = [&buf[..0]; N];
    for (part, len) in parts.iter_mut().zip(lens) {
        if len > rest.len() {
            return None;
        }
        let (head, tail) = rest.split_at(len);
        *part = head;
        rest = tail;
    }
    Some(parts)
}
