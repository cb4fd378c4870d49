//! Timestamps as the API writes them: RFC 3339, UTC, `Z`, millisecond precision.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

/// Formats Unix milliseconds for a response body, e.g. `2026-11-22T10:00:00.123Z`.
pub fn rfc3339_ms(unix_ms: i64) -> String {
    Utc.timestamp_millis_opt(unix_ms)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an RFC 3339 / ISO 8601 timestamp from a query or body into Unix ms.
/// A timestamp without an offset is read as UTC, as the seed API documents.
pub fn parse_timestamp_ms(s: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_with_millis() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_614_265_330_123), "2021-02-25T15:02:10.123Z");
    }

    #[test]
    fn parses_offsets_and_naive_utc() {
        assert_eq!(
            parse_timestamp_ms("2021-02-25T15:02:10.123Z"),
            Some(1_614_265_330_123)
        );
        assert_eq!(
            parse_timestamp_ms("2021-02-25T16:02:10.123+01:00"),
            Some(1_614_265_330_123)
        );
        assert_eq!(
            parse_timestamp_ms("2021-02-25T15:02:10"),
            Some(1_614_265_330_000)
        );
        assert_eq!(parse_timestamp_ms("yesterday"), None);
    }
}
