//! How a command and its reply travel between the worker and its Durable
//! Objects: inline, in one header, when the JSON is small and printable ASCII
//! (a header the runtime passes along with the request, with no body stream to
//! open, pump and read on either side), and in the body otherwise.

/// The most bytes of JSON a command or reply carries in a header: well within
/// what any HTTP hop accepts in one header line.
pub const INLINE_MAX_BYTES: usize = 8 * 1024;

/// The header that carries a command inline.
pub const COMMAND_HEADER: &str = "x-edgehook-command";

/// The header that carries a reply inline.
pub const REPLY_HEADER: &str = "x-edgehook-reply";

/// Whether `json` travels inline: at most [`INLINE_MAX_BYTES`], and only
/// printable ASCII, which a header value holds as it is (a header holds bytes,
/// not UTF-8, and the runtime trims or refuses control characters).
pub fn inline(json: &str) -> bool {
    json.len() <= INLINE_MAX_BYTES && json.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_ascii_json_goes_inline() {
        assert!(inline(r#"{"op":"publish","body":"{\"a\":1}"}"#));
        assert!(inline(""));
        assert!(inline(" ~"));
    }

    #[test]
    fn the_limit_is_8_kib_inclusive() {
        assert!(inline(&"a".repeat(8192)));
        assert!(!inline(&"a".repeat(8193)));
    }

    #[test]
    fn anything_but_printable_ascii_goes_in_the_body() {
        assert!(!inline("{\"name\":\"caf\u{e9}\"}"));
        assert!(!inline("{\"emoji\":\"\u{1f680}\"}"));
        assert!(!inline("a\tb"));
        assert!(!inline("a\nb"));
        assert!(!inline("a\u{1f}b"));
        assert!(!inline("a\u{7f}b"));
    }
}
