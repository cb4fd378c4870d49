//! SHA-256 and HMAC-SHA256, written for this crate: no allocation, no panicking paths, and a compress function unrolled for wasm32.
//!
//! The npm package's wasm is mostly this file, so it is kept small and fast instead of pulling in
//! the generic `digest` machinery. It is tested against the `sha2` and `hmac` crates and the FIPS
//! 180-4 / RFC 4231 vectors on the host. Native builds (the Python package) hand the compression
//! to `sha2`, which uses the CPU's SHA instructions where it has them; everything around it (the
//! HMAC key states, padding, the API) stays this file's.

const BLOCK: usize = 64;

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

const INITIAL_STATE: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// One SHA-256 compression of a 64-byte block into `state`.
#[inline(always)]
fn compress(state: &mut [u32; 8], block: &[u8; BLOCK]) {
    compress_blocks(state, block);
}

/// Compresses every whole block of `data`; returns the bytes left over (fewer than 64).
#[cfg(not(target_arch = "wasm32"))]
#[inline(always)]
fn compress_blocks<'a>(state: &mut [u32; 8], data: &'a [u8]) -> &'a [u8] {
    let (blocks, rest) = data.as_chunks::<BLOCK>();
    sha2::block_api::compress256(state, blocks);
    rest
}

// wasm32 has no SHA instructions: the unrolled compression below.
#[cfg(target_arch = "wasm32")]
use compress_unrolled as compress_blocks;

/// [`compress_blocks`] for wasm32, where no SHA instructions exist.
///
/// The 64 rounds are fully unrolled with a rolling 16-word message schedule: on wasm32 every
/// schedule word and working variable stays in a wasm local (a register once compiled), the
/// round constants are immediates, and no index is computed at run time, so there are no bounds
/// checks either. The state stays in locals across the blocks of one call.
#[inline(never)]
// The last rounds store schedule words that no later round reads.
#[allow(unused_assignments)]
// On the host only its tests call it.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn compress_unrolled<'a>(state: &mut [u32; 8], data: &'a [u8]) -> &'a [u8] {
    let blocks = data.chunks_exact(BLOCK);
    let rest = blocks.remainder();
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    for block in blocks {
        let [a0, b0, c0, d0, e0, f0, g0, h0] = [a, b, c, d, e, f, g, h];
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        let wk = simd::schedule(block);
        #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
        let mut w = [0u32; 16];
        #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
        for (word, bytes) in w.iter_mut().zip(block.chunks_exact(4)) {
            *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        macro_rules! rounds {
            ($($i:expr),*) => {$({
                #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
                let kw = wk[$i];
                #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
                let kw = K[$i].wrapping_add(if $i < 16 {
                    w[$i & 15]
                } else {
                    let w15 = w[($i + 1) & 15];
                    let w2 = w[($i + 14) & 15];
                    let s0 = w15.rotate_right(7) ^ w15.rotate_right(18) ^ (w15 >> 3);
                    let s1 = w2.rotate_right(17) ^ w2.rotate_right(19) ^ (w2 >> 10);
                    let next = w[$i & 15]
                        .wrapping_add(s0)
                        .wrapping_add(w[($i + 9) & 15])
                        .wrapping_add(s1);
                    w[$i & 15] = next;
                    next
                });
                let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
                let ch = g ^ (e & (f ^ g));
                let t1 = h.wrapping_add(s1).wrapping_add(ch).wrapping_add(kw);
                let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
                let maj = (a & b) | (c & (a | b));
                let t2 = s0.wrapping_add(maj);
                h = g;
                g = f;
                f = e;
                e = d.wrapping_add(t1);
                d = c;
                c = b;
                b = a;
                a = t1.wrapping_add(t2);
            })*};
        }
        rounds!(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        rounds!(
            16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
        );
        rounds!(
            32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47
        );
        rounds!(
            48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63
        );
        a = a.wrapping_add(a0);
        b = b.wrapping_add(b0);
        c = c.wrapping_add(c0);
        d = d.wrapping_add(d0);
        e = e.wrapping_add(e0);
        f = f.wrapping_add(f0);
        g = g.wrapping_add(g0);
        h = h.wrapping_add(h0);
    }
    *state = [a, b, c, d, e, f, g, h];
    rest
}

/// The message schedule with wasm SIMD: four words at a time, already summed with their round
/// constants. Used when the wasm is built with `simd128` (the npm package's build); the scalar
/// schedule above is the reference, and the wasm tests check this one against the FIPS vectors.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use super::K;
    use core::arch::wasm32::*;

    #[inline(always)]
    fn rotr(v: v128, n: u32) -> v128 {
        v128_or(u32x4_shr(v, n), u32x4_shl(v, 32 - n))
    }

    #[inline(always)]
    fn small_sigma1(v: v128) -> v128 {
        v128_xor(v128_xor(rotr(v, 17), rotr(v, 19)), u32x4_shr(v, 10))
    }

    #[inline(always)]
    fn k(t: usize) -> v128 {
        u32x4(K[t], K[t + 1], K[t + 2], K[t + 3])
    }

    /// `W[t] + K[t]` for the 64 rounds of one block.
    #[inline(always)]
    // The last expansion step leaves schedule words that no later step reads.
    #[allow(unused_assignments)]
    pub(super) fn schedule(block: &[u8]) -> [u32; 64] {
        let mut wk = [0u32; 64];
        let mut x = [u32x4_splat(0); 4];
        for (v, bytes) in x.iter_mut().zip(block.chunks_exact(16)) {
            let mut words = [0u32; 4];
            for (w, b) in words.iter_mut().zip(bytes.chunks_exact(4)) {
                *w = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            }
            *v = u32x4(words[0], words[1], words[2], words[3]);
        }
        macro_rules! store {
            ($t:expr, $v:expr) => {
                let sum = u32x4_add($v, k($t));
                wk[$t] = u32x4_extract_lane::<0>(sum);
                wk[$t + 1] = u32x4_extract_lane::<1>(sum);
                wk[$t + 2] = u32x4_extract_lane::<2>(sum);
                wk[$t + 3] = u32x4_extract_lane::<3>(sum);
            };
        }
        store!(0, x[0]);
        store!(4, x[1]);
        store!(8, x[2]);
        store!(12, x[3]);
        macro_rules! expand {
            ($($t:expr),*) => {$({
                let [x0, x1, x2, x3] = x;
                // W[t-15..t-12] and W[t-7..t-4].
                let w15 = u32x4_shuffle::<1, 2, 3, 4>(x0, x1);
                let w7 = u32x4_shuffle::<1, 2, 3, 4>(x2, x3);
                let s0 = v128_xor(v128_xor(rotr(w15, 7), rotr(w15, 18)), u32x4_shr(w15, 3));
                let partial = u32x4_add(u32x4_add(x0, s0), w7);
                // Lanes 0 and 1 need W[t-2], W[t-1]; lanes 2 and 3 need the new lanes 0 and 1.
                let low = u32x4_add(partial, small_sigma1(u32x4_shuffle::<2, 3, 2, 3>(x3, x3)));
                let high = u32x4_add(partial, small_sigma1(u32x4_shuffle::<0, 1, 0, 1>(low, low)));
                let new = u32x4_shuffle::<0, 1, 6, 7>(low, high);
                x = [x1, x2, x3, new];
                store!($t, new);
            })*};
        }
        expand!(16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60);
        wk
    }
}

/// An incremental SHA-256 hash.
#[derive(Clone)]
pub(crate) struct Sha256 {
    state: [u32; 8],
    buffer: [u8; BLOCK],
    buffered: usize,
    /// Bytes hashed so far, including the buffered ones.
    length: u64,
}

impl Sha256 {
    pub(crate) fn new() -> Self {
        Self::resume(INITIAL_STATE, 0)
    }

    /// Continues from a state reached after `length` bytes (a multiple of 64).
    fn resume(state: [u32; 8], length: u64) -> Self {
        Sha256 {
            state,
            buffer: [0; BLOCK],
            buffered: 0,
            length,
        }
    }

    pub(crate) fn update(&mut self, mut data: &[u8]) {
        self.length = self.length.wrapping_add(data.len() as u64);
        if self.buffered > 0 {
            let Some(free) = self.buffer.get_mut(self.buffered..) else {
                return;
            };
            let n = free.len().min(data.len());
            let (head, tail) = data.split_at(n);
            if let Some(dst) = free.get_mut(..n) {
                dst.copy_from_slice(head);
            }
            self.buffered += n;
            data = tail;
            if self.buffered < BLOCK {
                return;
            }
            compress(&mut self.state, &self.buffer);
            self.buffered = 0;
        }
        let rest = compress_blocks(&mut self.state, data);
        if let Some(dst) = self.buffer.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
            self.buffered = rest.len();
        }
    }

    pub(crate) fn finalize(mut self) -> [u8; 32] {
        let bits = self.length.wrapping_mul(8);
        let mut tail = [0u8; 2 * BLOCK];
        let n = self.buffered.min(BLOCK);
        let (head, _) = self.buffer.split_at(n);
        if let Some(dst) = tail.get_mut(..n) {
            dst.copy_from_slice(head);
        }
        let end = if n < BLOCK - 8 { BLOCK } else { 2 * BLOCK };
        if let Some(b) = tail.get_mut(n) {
            *b = 0x80;
        }
        if let Some(dst) = tail.get_mut(end - 8..end) {
            dst.copy_from_slice(&bits.to_be_bytes());
        }
        if let Some(blocks) = tail.get(..end) {
            compress_blocks(&mut self.state, blocks);
        }
        let mut out = [0u8; 32];
        for (bytes, word) in out.chunks_exact_mut(4).zip(self.state) {
            bytes.copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

/// SHA-256 of `data` in one call.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(data);
    h.finalize()
}

/// An HMAC-SHA256 key, kept as the hash states after its inner and outer pad blocks.
///
/// Computed once per secret, so that each message costs only its own blocks plus one for the
/// outer hash. Its 64-byte form lets the npm package keep it in JavaScript between calls.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct HmacKey {
    inner: [u32; 8],
    outer: [u32; 8],
}

// The byte form is used by the wasm bindings and the tests.
#[cfg_attr(
    not(all(feature = "bindings", target_arch = "wasm32")),
    allow(dead_code)
)]
impl HmacKey {
    /// Length of [`HmacKey::to_bytes`].
    pub(crate) const BYTES: usize = 64;

    /// A key from its raw bytes (of any length: longer than a block is hashed first, as RFC 2104 says).
    pub(crate) fn new(key: &[u8]) -> Self {
        if key.len() > BLOCK {
            Self::from_block_key(&sha256(key))
        } else {
            Self::from_block_key(key)
        }
    }

    /// A key of at most 64 bytes (longer input is cut, so callers hash long keys first).
    pub(crate) fn from_block_key(key: &[u8]) -> Self {
        let mut ipad = [0x36u8; BLOCK];
        let mut opad = [0x5cu8; BLOCK];
        for ((i, o), k) in ipad.iter_mut().zip(opad.iter_mut()).zip(key) {
            *i ^= k;
            *o ^= k;
        }
        let mut inner = INITIAL_STATE;
        compress(&mut inner, &ipad);
        let mut outer = INITIAL_STATE;
        compress(&mut outer, &opad);
        HmacKey { inner, outer }
    }

    /// Starts a MAC over a message.
    pub(crate) fn mac(&self) -> Hmac {
        Hmac {
            inner: Sha256::resume(self.inner, BLOCK as u64),
            outer: self.outer,
        }
    }

    pub(crate) fn to_bytes(self) -> [u8; Self::BYTES] {
        let mut out = [0u8; Self::BYTES];
        for (bytes, word) in out
            .chunks_exact_mut(4)
            .zip(self.inner.into_iter().chain(self.outer))
        {
            bytes.copy_from_slice(&word.to_be_bytes());
        }
        out
    }

    pub(crate) fn from_bytes(bytes: &[u8; Self::BYTES]) -> Self {
        let mut words = [0u32; 16];
        for (word, b) in words.iter_mut().zip(bytes.chunks_exact(4)) {
            *word = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        }
        let [
            i0,
            i1,
            i2,
            i3,
            i4,
            i5,
            i6,
            i7,
            o0,
            o1,
            o2,
            o3,
            o4,
            o5,
            o6,
            o7,
        ] = words;
        HmacKey {
            inner: [i0, i1, i2, i3, i4, i5, i6, i7],
            outer: [o0, o1, o2, o3, o4, o5, o6, o7],
        }
    }
}

/// An HMAC-SHA256 computation in progress.
pub(crate) struct Hmac {
    inner: Sha256,
    outer: [u32; 8],
}

impl Hmac {
    pub(crate) fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }

    pub(crate) fn finalize(self) -> [u8; 32] {
        let inner = self.inner.finalize();
        let mut outer = Sha256::resume(self.outer, BLOCK as u64);
        outer.update(&inner);
        outer.finalize()
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use hmac::{KeyInit, Mac};
    use proptest::prelude::*;
    use sha2::Digest;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn fips_180_vectors() {
        assert_eq!(
            hex(&sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&sha256(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        let mut h = Sha256::new();
        for _ in 0..1000 {
            h.update(&[b'a'; 1000]);
        }
        assert_eq!(
            hex(&h.finalize()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
    }

    #[test]
    fn rfc_4231_vectors() {
        let mac = |key: &[u8], data: &[u8]| {
            let mut m = HmacKey::new(key).mac();
            m.update(data);
            hex(&m.finalize())
        };
        assert_eq!(
            mac(&[0x0b; 20], b"Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            mac(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // A key longer than a block is hashed first.
        assert_eq!(
            mac(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            ),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn every_length_around_the_padding_boundaries_matches_sha2() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 31 + 7) as u8).collect();
        for len in 0..data.len() {
            let reference = sha2::Sha256::digest(&data[..len]);
            assert_eq!(
                sha256(&data[..len]).as_slice(),
                reference.as_slice(),
                "{len}"
            );
        }
    }

    #[test]
    fn key_bytes_round_trip() {
        let key = HmacKey::new(b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        assert!(HmacKey::from_bytes(&key.to_bytes()) == key);
    }

    proptest! {
        #[test]
        fn the_unrolled_compression_matches_sha2s(state in any::<[u32; 8]>(),
                                                  data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let (mut ours, mut theirs) = (state, state);
            let rest = compress_unrolled(&mut ours, &data);
            let (blocks, expected_rest) = data.as_chunks::<BLOCK>();
            sha2::block_api::compress256(&mut theirs, blocks);
            prop_assert_eq!(ours, theirs);
            prop_assert_eq!(rest, expected_rest);
        }

        #[test]
        fn matches_the_hmac_crate_for_any_split(key in proptest::collection::vec(any::<u8>(), 0..200),
                                                 data in proptest::collection::vec(any::<u8>(), 0..700),
                                                 cut in any::<prop::sample::Index>()) {
            let at = cut.index(data.len() + 1);
            let mut ours = HmacKey::new(&key).mac();
            ours.update(&data[..at]);
            ours.update(&data[at..]);
            let mut theirs = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key).expect("any length");
            theirs.update(&data);
            let ours = ours.finalize();
            let theirs = theirs.finalize().into_bytes();
            prop_assert_eq!(ours.as_slice(), theirs.as_slice());
        }
    }
}
