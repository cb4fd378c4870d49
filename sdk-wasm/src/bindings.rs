//! wasm-bindgen exports behind the npm package: stateless functions over one input buffer in wasm memory.
//!
//! Only numbers cross the boundary, and nothing is allocated: the buffer is a region of pages
//! this module grows itself (`memory.grow`), so the wasm carries no allocator, no panic handler
//! and no formatting code. The wrapper (`pkg/src/webhook.js`) keeps each secret's HMAC key
//! states (from `parse_secret`) in JavaScript; per call it writes the key states, the body and
//! the header values one after the other at the start of the buffer (with `TextEncoder.encodeInto`
//! or a byte copy) and passes their lengths. Results are small status codes, mapped to error codes
//! in JavaScript; a verification that succeeds returns `MATCHED` plus the index of the key that
//! matched. Built with the `ed25519` feature (the package's `ed25519` entry), the buffer may also
//! hold 32-byte public keys, checked by `parse_public_key` and verified against `v1a` entries.

use crate::encoding::{Decimal, base64_tag, hex_tag};
use crate::header;
use crate::secret::{SECRET_PREFIX, SecretError, SecretKey};
use crate::sha256::HmacKey;
use crate::sign::{amigo_tag, standard_tag};
use crate::verify::{StandardKey, Verified, VerifyError, verify_amigo_with, verify_standard_with};
use core::sync::atomic::{AtomicUsize, Ordering};
use wasm_bindgen::prelude::*;

/// Status codes shared with the JavaScript wrapper (`FAILURES` in `pkg/src/webhook.js`).
mod status {
    pub const OK: u32 = 0;
    /// A verification succeeded: `MATCHED + i` says that the `i`-th key passed matched.
    pub const MATCHED: u32 = 0x100;
    pub const MALFORMED_TIMESTAMP: u32 = 2;
    pub const TIMESTAMP_TOO_OLD: u32 = 3;
    pub const TIMESTAMP_TOO_NEW: u32 = 4;
    pub const NO_MATCHING_SIGNATURE: u32 = 5;
    pub const SECRET_MISSING_PREFIX: u32 = 11;
    pub const SECRET_INVALID_BASE64: u32 = 12;
    pub const SECRET_EMPTY_KEY: u32 = 13;
    #[cfg(feature = "ed25519")]
    pub const KEY_INVALID_LENGTH: u32 = 14;
    #[cfg(feature = "ed25519")]
    pub const KEY_INVALID: u32 = 15;
    /// The lengths passed do not fit the buffer: a wrapper bug, never outside input.
    pub const BAD_LAYOUT: u32 = 99;
}

/// Bytes of one secret's key states as `parse_secret` writes them: Amigo's, then Standard Webhooks'.
const SECRET_KEY_BYTES: usize = 2 * HmacKey::BYTES;

fn verify_status(result: Result<Verified, VerifyError>) -> u32 {
    match result {
        Ok(verified) => status::MATCHED.saturating_add(verified.key_index as u32),
        Err(VerifyError::MalformedTimestamp) => status::MALFORMED_TIMESTAMP,
        Err(VerifyError::TimestampTooOld) => status::TIMESTAMP_TOO_OLD,
        Err(VerifyError::TimestampTooNew) => status::TIMESTAMP_TOO_NEW,
        Err(VerifyError::NoMatchingSignature) => status::NO_MATCHING_SIGNATURE,
        // Keys arrive parsed and header lookup happens in JavaScript.
        Err(VerifyError::MalformedSecret(_) | VerifyError::MissingHeader(_)) => status::BAD_LAYOUT,
    }
}

/// Start and length of the input buffer: pages obtained with `memory.grow`, used by nothing else.
static BUFFER_START: AtomicUsize = AtomicUsize::new(0);
static BUFFER_LEN: AtomicUsize = AtomicUsize::new(0);
const PAGE: usize = 65536;

/// Makes the input buffer at least `len` bytes long and returns where it starts (0 when memory
/// cannot grow). The buffer moves only when it grows and other code grew memory in between; the
/// wrapper calls this only when it needs more room, and rebuilds its view when the memory grew.
#[wasm_bindgen]
pub fn reserve(len: usize) -> *mut u8 {
    let start = BUFFER_START.load(Ordering::Relaxed);
    let have = BUFFER_LEN.load(Ordering::Relaxed);
    if len > have {
        let end_of_memory = core::arch::wasm32::memory_size(0) * PAGE;
        // Grow in place when the buffer is the last thing in memory, else take fresh pages.
        let in_place = have > 0 && start + have == end_of_memory;
        let missing = if in_place { len - have } else { len };
        let pages = missing.div_ceil(PAGE);
        let old_pages = core::arch::wasm32::memory_grow(0, pages);
        if old_pages == usize::MAX {
            return core::ptr::null_mut();
        }
        let new_start = if in_place { start } else { old_pages * PAGE };
        let new_len = if in_place {
            have + pages * PAGE
        } else {
            pages * PAGE
        };
        BUFFER_START.store(new_start, Ordering::Relaxed);
        BUFFER_LEN.store(new_len, Ordering::Relaxed);
    }
    BUFFER_START.load(Ordering::Relaxed) as *mut u8
}

/// The whole input buffer.
fn buffer() -> &'static mut [u8] {
    let start = BUFFER_START.load(Ordering::Relaxed);
    let len = BUFFER_LEN.load(Ordering::Relaxed);
    if start == 0 {
        return &mut [];
    }
    // SAFETY: [start, start + len) are pages this module grew for the buffer and handed to no
    // one else; wasm is single-threaded and no exported function holds the slice across calls.
    unsafe { core::slice::from_raw_parts_mut(start as *mut u8, len) }
}

/// Splits the front of `buf` into consecutive slices of the given lengths.
fn split<const N: usize>(buf: &[u8], lens: [usize; N]) -> Option<[&[u8]; N]> {
    let mut rest = buf;
    let mut parts = [&buf[..0]; N];
    for (part, len) in parts.iter_mut().zip(lens) {
        let (head, tail) = rest.split_at_checked(len)?;
        *part = head;
        rest = tail;
    }
    Some(parts)
}

/// Key states in the layout `parse_secret` writes (`SECRET_KEY_BYTES` per secret), or one
/// scheme's states (`HmacKey::BYTES` each) when `stride` says so; `offset` picks the scheme's half.
fn keys(bytes: &[u8], stride: usize, offset: usize) -> impl Iterator<Item = HmacKey> + '_ {
    bytes.chunks_exact(stride).filter_map(move |k| {
        let key = k.get(offset..offset + HmacKey::BYTES)?;
        <&[u8; HmacKey::BYTES]>::try_from(key)
            .ok()
            .map(HmacKey::from_bytes)
    })
}

/// Parses one `whsec_` secret written in the buffer's first `len` bytes, and writes its key
/// states (`SECRET_KEY_BYTES`: Amigo's, then Standard Webhooks') right after it; the wrapper
/// keeps them for every later call.
#[wasm_bindgen]
pub fn parse_secret(len: usize) -> u32 {
    let Some((input, rest)) = buffer().split_at_mut_checked(len) else {
        return status::BAD_LAYOUT;
    };
    let Some(out) = rest.get_mut(..SECRET_KEY_BYTES) else {
        return status::BAD_LAYOUT;
    };
    let Ok(text) = core::str::from_utf8(input) else {
        return status::SECRET_INVALID_BASE64;
    };
    match SecretKey::parse(text) {
        Ok(key) => {
            let bytes = key
                .amigo
                .to_bytes()
                .into_iter()
                .chain(key.standard.to_bytes());
            for (dst, src) in out.iter_mut().zip(bytes) {
                *dst = src;
            }
            status::OK
        }
        Err(SecretError::MissingPrefix | SecretError::NoSecret) => status::SECRET_MISSING_PREFIX,
        Err(SecretError::InvalidBase64) => status::SECRET_INVALID_BASE64,
        Err(SecretError::EmptyKey) => status::SECRET_EMPTY_KEY,
        // `SecretKey::parse` reads `whsec_` secrets only; the wrapper sends `whpk_` keys to
        // `parse_public_key`.
        Err(_) => status::SECRET_MISSING_PREFIX,
    }
}

/// Public keys (32 bytes each) in the buffer; one that is no longer valid (never the case for
/// bytes `parse_public_key` wrote) is skipped.
#[cfg(feature = "ed25519")]
fn public_keys(bytes: &[u8]) -> impl Iterator<Item = StandardKey> + '_ {
    bytes.chunks_exact(32).filter_map(|k| {
        let k = <&[u8; 32]>::try_from(k).ok()?;
        crate::asymmetric::PublicKey::from_bytes(k)
            .ok()
            .map(StandardKey::Public)
    })
}

/// Verifies Standard Webhooks headers; the buffer holds
/// `hmac keys | public keys | body | id | timestamp | signature`, where `hmac keys` is
/// `hmac_count` Standard Webhooks key states (`HmacKey::BYTES` each) and `public keys` is
/// `public_count` ed25519 keys (32 bytes each; always 0 without the `ed25519` feature). A match
/// returns `MATCHED` plus the key's index, counting the HMAC keys first.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn verify_standard(
    hmac_count: usize,
    public_count: usize,
    body_len: usize,
    id_len: usize,
    ts_len: usize,
    sig_len: usize,
    tolerance_seconds: u32,
    now_ms: f64,
) -> u32 {
    let hmac_len = hmac_count.saturating_mul(HmacKey::BYTES);
    let public_len = public_count.saturating_mul(32);
    let Some([hmac_bytes, public_bytes, body, id, ts, sig]) = split(
        buffer(),
        [hmac_len, public_len, body_len, id_len, ts_len, sig_len],
    ) else {
        return status::BAD_LAYOUT;
    };
    let hmac = keys(hmac_bytes, HmacKey::BYTES, 0).map(StandardKey::Hmac);
    #[cfg(feature = "ed25519")]
    let keys = hmac.chain(public_keys(public_bytes));
    #[cfg(not(feature = "ed25519"))]
    let keys = {
        if !public_bytes.is_empty() {
            return status::BAD_LAYOUT;
        }
        hmac
    };
    verify_status(verify_standard_with(
        keys,
        i64::from(tolerance_seconds) * 1000,
        id,
        ts,
        sig,
        body,
        now_ms as i64,
    ))
}

/// Checks one `whpk_` public key written in the buffer's first `len` bytes, and writes its 32
/// raw bytes right after it; the wrapper keeps them for every later call.
#[cfg(feature = "ed25519")]
#[wasm_bindgen]
pub fn parse_public_key(len: usize) -> u32 {
    let Some((input, rest)) = buffer().split_at_mut_checked(len) else {
        return status::BAD_LAYOUT;
    };
    let Some(out) = rest.get_mut(..32) else {
        return status::BAD_LAYOUT;
    };
    let Ok(text) = core::str::from_utf8(input) else {
        return status::KEY_INVALID_LENGTH;
    };
    match crate::asymmetric::PublicKey::parse(text) {
        Ok(key) => {
            out.copy_from_slice(&key.to_bytes());
            status::OK
        }
        Err(SecretError::MissingPrefix) => status::SECRET_MISSING_PREFIX,
        Err(SecretError::InvalidKey) => status::KEY_INVALID,
        Err(_) => status::KEY_INVALID_LENGTH,
    }
}

/// Verifies Amigo headers; the buffer holds `keys | body | timestamp | signature`, where `keys`
/// is `key_count` Amigo key states (`HmacKey::BYTES` each).
#[wasm_bindgen]
pub fn verify_amigo(
    key_count: usize,
    body_len: usize,
    ts_len: usize,
    sig_len: usize,
    tolerance_seconds: u32,
    now_ms: f64,
) -> u32 {
    let keys_len = key_count.saturating_mul(HmacKey::BYTES);
    let Some([key_bytes, body, ts, sig]) = split(buffer(), [keys_len, body_len, ts_len, sig_len])
    else {
        return status::BAD_LAYOUT;
    };
    verify_status(verify_amigo_with(
        keys(key_bytes, HmacKey::BYTES, 0).map(Some),
        i64::from(tolerance_seconds) * 1000,
        ts,
        sig,
        body,
        now_ms as i64,
    ))
}

/// Appends bytes to the output area, remembering if it ran out of room.
struct Output<'a> {
    buf: &'a mut [u8],
    len: usize,
    overflow: bool,
}

impl Output<'_> {
    fn put(&mut self, bytes: &[u8]) {
        match self
            .buf
            .get_mut(self.len..)
            .and_then(|rest| rest.get_mut(..bytes.len()))
        {
            Some(dst) => {
                for (d, s) in dst.iter_mut().zip(bytes) {
                    *d = *s;
                }
                self.len += bytes.len();
            }
            None => self.overflow = true,
        }
    }

    fn header(&mut self, name: &str, values: &[&[u8]]) {
        self.put(name.as_bytes());
        self.put(b":");
        for v in values {
            self.put(v);
        }
        self.put(b"\n");
    }
}

/// Signs `body | id` at `timestamp_ms` with every secret, newest first; the buffer holds
/// `keys | body | id`, where `keys` is `key_count` full key states (`SECRET_KEY_BYTES` each, as
/// `parse_secret` wrote them). The six header values are written right after `id` as
/// `name:value` lines; returns their length (0 when the buffer is too small).
#[wasm_bindgen]
pub fn sign(key_count: usize, body_len: usize, id_len: usize, timestamp_ms: f64) -> usize {
    let keys_len = key_count.saturating_mul(SECRET_KEY_BYTES);
    let in_len = keys_len.saturating_add(body_len).saturating_add(id_len);
    let Some((input, out)) = buffer().split_at_mut_checked(in_len) else {
        return 0;
    };
    let Some([key_bytes, body, id]) = split(input, [keys_len, body_len, id_len]) else {
        return 0;
    };
    let timestamp_ms = timestamp_ms as i64;
    let amigo_ts = Decimal::new(timestamp_ms);
    let standard_ts = Decimal::new(timestamp_ms.div_euclid(1000));
    let mut out = Output {
        buf: out,
        len: 0,
        overflow: false,
    };
    out.header(header::AMIGO_IDEMPOTENT_KEY, &[id]);
    out.header(header::AMIGO_TIMESTAMP, &[amigo_ts.as_bytes()]);
    out.put(header::AMIGO_SIGNATURE.as_bytes());
    out.put(b":");
    for (i, key) in keys(key_bytes, SECRET_KEY_BYTES, 0).enumerate() {
        if i > 0 {
            out.put(b",");
        }
        out.put(&hex_tag(&amigo_tag(&key, amigo_ts.as_bytes(), body)));
    }
    out.put(b"\n");
    out.header(header::WEBHOOK_ID, &[id]);
    out.header(header::WEBHOOK_TIMESTAMP, &[standard_ts.as_bytes()]);
    out.put(header::WEBHOOK_SIGNATURE.as_bytes());
    out.put(b":");
    for (i, key) in keys(key_bytes, SECRET_KEY_BYTES, HmacKey::BYTES).enumerate() {
        if i > 0 {
            out.put(b" ");
        }
        out.put(b"v1,");
        let tag = standard_tag(&key, id, standard_ts.as_bytes(), body);
        out.put(&base64_tag(&tag));
    }
    out.put(b"\n");
    if out.overflow { 0 } else { out.len }
}

/// A new secret from 32 random bytes the wrapper wrote at the start of the buffer (drawn with
/// `crypto.getRandomValues`, present in every target runtime). The secret is written right after
/// them; returns its length (0 when the buffer is too small).
#[wasm_bindgen]
pub fn generate_secret() -> usize {
    let Some((random, out)) = buffer().split_at_mut_checked(32) else {
        return 0;
    };
    let Ok(random) = <&[u8; 32]>::try_from(&*random) else {
        return 0;
    };
    let mut out = Output {
        buf: out,
        len: 0,
        overflow: false,
    };
    out.put(SECRET_PREFIX.as_bytes());
    out.put(&base64_tag(random));
    if out.overflow { 0 } else { out.len }
}
