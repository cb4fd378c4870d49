//! A request body read with a cap: the worker feeds it the body's chunks as
//! they arrive and stops at the first one that would pass the limit, so a body
//! never takes more memory than the limit plus the chunk in hand, whether or
//! not it declared its length.

use crate::error::ApiError;

/// The body read so far, never longer than its limit.
#[derive(Debug)]
pub struct CappedBody {
    bytes: Vec<u8>,
    limit: usize,
    declared: Option<usize>,
}

/// The length a `Content-Length` header declares, if it is a well-formed
/// number (one too large for `usize` reads as `usize::MAX`).
pub fn declared_length(content_length: Option<&str>) -> Option<usize> {
    content_length
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .map(|v| v.parse::<usize>().unwrap_or(usize::MAX))
}

/// The length of a body that HTTP framing fixes at most `limit` bytes: a
/// well-formed `Content-Length` within the limit and no `Transfer-Encoding`
/// (which would override it). Such a body, if never decoded, can be read in
/// one piece: the runtime reads no more of the connection than it declared.
pub fn framed_within(
    content_length: Option<&str>,
    transfer_encoding: Option<&str>,
    limit: usize,
) -> Option<usize> {
    if transfer_encoding.is_some() {
        return None;
    }
    declared_length(content_length).filter(|len| *len <= limit)
}

impl CappedBody {
    /// Starts reading a body of at most `limit` bytes. A `Content-Length` over
    /// the limit is refused (413) before anything is read; a declared length
    /// only sizes the buffer (never past the limit), it is not trusted.
    pub fn new(limit: usize, content_length: Option<&str>) -> Result<Self, ApiError> {
        let declared = declared_length(content_length);
        if declared.is_some_and(|len| len > limit) {
            return Err(ApiError::PayloadTooLarge { limit_bytes: limit });
        }
        let capacity = declared.unwrap_or(0).min(limit);
        Ok(Self {
            bytes: Vec::with_capacity(capacity),
            limit,
            declared,
        })
    }

    /// The length the body declared, once known to be within the limit.
    pub fn declared_length(&self) -> Option<usize> {
        self.declared
    }

    /// Adds the next chunk; 413 when it would take the body past the limit,
    /// and then nothing of it is kept.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), ApiError> {
        if chunk.len() > self.limit - self.bytes.len() {
            return Err(ApiError::PayloadTooLarge {
                limit_bytes: self.limit,
            });
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    /// The whole body, once every chunk was pushed.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn too_large(r: Result<(), ApiError>) -> bool {
        matches!(r, Err(ApiError::PayloadTooLarge { limit_bytes: 10 }))
    }

    #[test]
    fn a_body_up_to_the_limit_is_read_whole() {
        let mut b = CappedBody::new(10, None).unwrap();
        b.push(b"hello").unwrap();
        b.push(b"").unwrap();
        b.push(b"world").unwrap();
        assert_eq!(b.into_bytes(), b"helloworld");
    }

    #[test]
    fn the_chunk_that_passes_the_limit_is_refused_and_not_kept() {
        let mut b = CappedBody::new(10, None).unwrap();
        b.push(b"0123456789").unwrap();
        assert!(too_large(b.push(b"x")));
        let mut b = CappedBody::new(10, None).unwrap();
        b.push(b"01234").unwrap();
        assert!(too_large(b.push(b"567890")));
        assert_eq!(b.bytes.len(), 5);
        assert!(b.bytes.capacity() <= 10);
        // One huge chunk is refused without being copied.
        let mut b = CappedBody::new(10, None).unwrap();
        assert!(too_large(b.push(&[0; 1 << 20])));
        assert!(b.bytes.capacity() <= 10);
    }

    #[test]
    fn a_declared_length_over_the_limit_is_refused_at_once() {
        for declared in ["11", " 11 ", "99999999999999999999999"] {
            assert!(
                matches!(
                    CappedBody::new(10, Some(declared)),
                    Err(ApiError::PayloadTooLarge { limit_bytes: 10 })
                ),
                "{declared}"
            );
        }
        let b = CappedBody::new(10, Some("10")).unwrap();
        assert_eq!(b.bytes.capacity(), 10);
        // A lie or nonsense in the header does not let more through.
        let mut b = CappedBody::new(10, Some("2")).unwrap();
        assert!(too_large(b.push(b"0123456789a")));
        let mut b = CappedBody::new(10, Some("lots")).unwrap();
        assert!(too_large(b.push(b"0123456789a")));
        assert_eq!(
            ApiError::PayloadTooLarge { limit_bytes: 10 }
                .to_http()
                .status,
            413
        );
    }

    #[test]
    fn only_a_length_that_framing_fixes_within_the_limit_is_read_whole() {
        assert_eq!(framed_within(Some("10"), None, 10), Some(10));
        assert_eq!(framed_within(Some(" 0 "), None, 10), Some(0));
        assert_eq!(framed_within(Some("11"), None, 10), None);
        // Chunking overrides a declared length, whatever it says.
        assert_eq!(framed_within(Some("10"), Some("chunked"), 10), None);
        assert_eq!(framed_within(Some("1"), Some(""), 10), None);
        for nonsense in [None, Some(""), Some("lots"), Some("-1"), Some("1e3")] {
            assert_eq!(framed_within(nonsense, None, 10), None, "{nonsense:?}");
        }
    }

    #[test]
    fn only_a_well_formed_length_within_the_limit_counts_as_declared() {
        assert_eq!(
            CappedBody::new(10, Some("10")).unwrap().declared_length(),
            Some(10)
        );
        assert_eq!(
            CappedBody::new(10, Some(" 0 ")).unwrap().declared_length(),
            Some(0)
        );
        for nonsense in [None, Some(""), Some("lots"), Some("-1"), Some("1e3")] {
            assert_eq!(
                CappedBody::new(10, nonsense).unwrap().declared_length(),
                None,
                "{nonsense:?}"
            );
        }
    }
}
