//! The delivery state machine: what one attempt's outcome means for a delivery,
//! and when the next attempt is due.
//!
//! A delivery starts `pending`, becomes `retrying` after a failed attempt with
//! retries left, and ends `success` or `failed` (retries exhausted). The seed's
//! two-valued `status` summarizes it: `success` once delivered, `failed` otherwise.

use serde::{Deserialize, Serialize};

/// One attempt as the API shows it: the seed's `DeliveryAttempt` plus
/// `duration_ms` and `error`; one delivery's detail also shows the start of
/// the receiver's answer (never the seed's list).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptView {
    pub delivery_time: String,
    pub status_code: u16,
    pub duration_ms: i64,
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body_truncated: Option<bool>,
}

/// A delivery as the API shows it: the seed's `WebhookDeliveryInstance` plus
/// `state` and `next_retry_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryView {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub webhook_content: serde_json::Value,
    pub status: String,
    pub delivery_attempts: Vec<AttemptView>,
    pub dual_signed: bool,
    pub created_at: String,
    pub state: State,
    pub next_retry_at: Option<String>,
}

/// Longest wait a receiver's `Retry-After` can impose.
pub const MAX_RETRY_AFTER_SECONDS: f64 = 3600.0;

/// Where a delivery is in its life. A delivery for an event published while
/// its destination was paused or disabled is `skipped`: kept in the log,
/// never sent unless recovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Pending,
    Retrying,
    Success,
    Failed,
    Skipped,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Retrying => "retrying",
            State::Success => "success",
            State::Failed => "failed",
            State::Skipped => "skipped",
        }
    }

    /// Every state, in the order of a delivery's life.
    pub const ALL: [State; 5] = [
        State::Pending,
        State::Retrying,
        State::Success,
        State::Failed,
        State::Skipped,
    ];

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The seed API's `status`: `success` once delivered, `failed` until then.
    pub fn status(self) -> &'static str {
        if self == State::Success {
            "success"
        } else {
            "failed"
        }
    }
}

/// What happened on one attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// An HTTP answer: its status and, if it sent one, its `Retry-After` in seconds.
    Answered {
        status: u16,
        retry_after_seconds: Option<f64>,
    },
    /// No HTTP answer: what kind of failure it was.
    NoAnswer { failure: NoAnswer },
}

/// Why no HTTP answer came, in classes a tenant can act on. The runtime's own
/// message is never recorded: it can name internals of the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoAnswer {
    /// Nothing came back within the destination's `timeout_seconds`.
    Timeout { after_seconds: i64 },
    /// The connection was refused, reset or closed before an answer.
    ConnectionRefusedOrReset,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// The host name did not resolve.
    Dns,
    /// The request could not be sent for another reason.
    Other,
}

impl NoAnswer {
    /// Classifies a runtime's error message; the message itself is not kept.
    pub fn classify(message: &str) -> NoAnswer {
        let m = message.to_ascii_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| m.contains(w));
        if has(&["dns", "resolve", "name not known", "no such host", "lookup"]) {
            NoAnswer::Dns
        } else if has(&["tls", "ssl", "certificate", "handshake"]) {
            NoAnswer::Tls
        } else if has(&[
            "refused",
            "reset",
            "connection lost",
            "disconnected",
            "closed",
            "eof",
        ]) {
            NoAnswer::ConnectionRefusedOrReset
        } else if has(&["timed out", "timeout"]) {
            NoAnswer::Timeout { after_seconds: 0 }
        } else {
            NoAnswer::Other
        }
    }

    /// The text recorded as the attempt's error.
    pub fn describe(self) -> String {
        match self {
            NoAnswer::Timeout { after_seconds } if after_seconds > 0 => {
                format!("timeout: no answer within {after_seconds} s")
            }
            NoAnswer::Timeout { .. } => "timeout: the connection timed out".into(),
            NoAnswer::ConnectionRefusedOrReset => {
                "connection refused or reset before an answer".into()
            }
            NoAnswer::Tls => "TLS: the secure connection could not be established".into(),
            NoAnswer::Dns => "DNS: the host name could not be resolved".into(),
            NoAnswer::Other => "network: the request could not be sent".into(),
        }
    }
}

impl Outcome {
    /// Success is a 2xx; a redirect is not followed and counts as a failure.
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Answered { status, .. } if (200..300).contains(status))
    }

    /// The status code recorded for the attempt: 0 when there was no answer.
    pub fn status_code(&self) -> u16 {
        match self {
            Outcome::Answered { status, .. } => *status,
            Outcome::NoAnswer { .. } => 0,
        }
    }

    /// The class of a failed attempt, as `delivery.exhausted` names it:
    /// `timeout`, `connection`, `tls`, `dns`, `other`, `redirect` or
    /// `http_status`; `None` for a success.
    pub fn error_class(&self) -> Option<&'static str> {
        match self {
            Outcome::Answered { status, .. } if (200..300).contains(status) => None,
            Outcome::Answered {
                status: 300..=399, ..
            } => Some("redirect"),
            Outcome::Answered { .. } => Some("http_status"),
            Outcome::NoAnswer { failure } => Some(match failure {
                NoAnswer::Timeout { .. } => "timeout",
                NoAnswer::ConnectionRefusedOrReset => "connection",
                NoAnswer::Tls => "tls",
                NoAnswer::Dns => "dns",
                NoAnswer::Other => "other",
            }),
        }
    }

    /// The error text recorded for a failed attempt: one of the classes
    /// `timeout`, `connection refused or reset`, `TLS`, `DNS`, `redirect`,
    /// `HTTP status`.
    pub fn error(&self) -> Option<String> {
        match self {
            Outcome::Answered { status, .. } if (200..300).contains(status) => None,
            Outcome::Answered {
                status: s @ 300..=399,
                ..
            } => Some(format!("redirect: HTTP {s} (redirects are not followed)")),
            Outcome::Answered { status, .. } => Some(format!("HTTP status {status}")),
            Outcome::NoAnswer { failure } => Some(failure.describe()),
        }
    }
}

/// What follows an attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Delivered,
    RetryAt { at_ms: i64 },
    Exhausted,
}

impl Next {
    pub fn state(&self) -> State {
        match self {
            Next::Delivered => State::Success,
            Next::RetryAt { .. } => State::Retrying,
            Next::Exhausted => State::Failed,
        }
    }
}

/// Decides what follows attempt number `attempt` (1 is the first) that ended at
/// `now_ms` with `outcome`. `retries` is the destination's `retry_attempts`;
/// `schedule` the waits before retry 1, 2, … (the last repeats); `jitter` in
/// [0, 1) spreads a wait over ±10 % so that retries of many deliveries do not
/// arrive in step. A `Retry-After` is honored (capped at an hour): the retry is
/// never sooner than it asks.
pub fn next_after(
    attempt: u32,
    retries: u32,
    schedule: &[f64],
    outcome: &Outcome,
    now_ms: i64,
    jitter: f64,
) -> Next {
    if outcome.is_success() {
        return Next::Delivered;
    }
    if attempt > retries {
        return Next::Exhausted;
    }
    let base = schedule
        .get(attempt as usize - 1)
        .or(schedule.last())
        .copied()
        .unwrap_or(0.0);
    let mut wait = base * (0.9 + 0.2 * jitter.clamp(0.0, 1.0));
    if let Outcome::Answered {
        retry_after_seconds: Some(ra),
        ..
    } = outcome
    {
        wait = wait.max(ra.clamp(0.0, MAX_RETRY_AFTER_SECONDS));
    }
    Next::RetryAt {
        at_ms: now_ms + (wait * 1000.0).round() as i64,
    }
}

/// Reads a `Retry-After` header: delay seconds, or an HTTP date relative to `now_ms`.
pub fn parse_retry_after(value: &str, now_ms: i64) -> Option<f64> {
    let v = value.trim();
    if let Ok(s) = v.parse::<f64>() {
        return (s.is_finite() && s >= 0.0).then_some(s);
    }
    chrono::DateTime::parse_from_rfc2822(v)
        .ok()
        .map(|t| ((t.timestamp_millis() - now_ms) as f64 / 1000.0).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEDULE: [f64; 5] = [5.0, 10.0, 20.0, 20.0, 20.0];

    fn failed(status: u16) -> Outcome {
        Outcome::Answered {
            status,
            retry_after_seconds: None,
        }
    }

    #[test]
    fn success_is_2xx_only() {
        assert_eq!(
            next_after(1, 3, &SCHEDULE, &failed(204), 0, 0.5),
            Next::Delivered
        );
        for s in [301, 302, 400, 429, 500] {
            assert_ne!(
                next_after(1, 3, &SCHEDULE, &failed(s), 0, 0.5),
                Next::Delivered,
                "{s}"
            );
        }
        assert_eq!(
            failed(302).error().unwrap(),
            "redirect: HTTP 302 (redirects are not followed)"
        );
        assert_eq!(failed(503).error().unwrap(), "HTTP status 503");
        assert_eq!(failed(200).error(), None);
        let timeout = Outcome::NoAnswer {
            failure: NoAnswer::Timeout { after_seconds: 10 },
        };
        assert_eq!(timeout.status_code(), 0);
        assert_eq!(timeout.error().unwrap(), "timeout: no answer within 10 s");
    }

    #[test]
    fn follows_the_schedule_then_gives_up() {
        // jitter 0.5 is the midpoint: exactly the scheduled wait
        let waits: Vec<Next> = (1..=4)
            .map(|a| next_after(a, 3, &SCHEDULE, &failed(500), 1_000, 0.5))
            .collect();
        assert_eq!(
            waits,
            vec![
                Next::RetryAt { at_ms: 6_000 },
                Next::RetryAt { at_ms: 11_000 },
                Next::RetryAt { at_ms: 21_000 },
                Next::Exhausted
            ]
        );
        assert_eq!(
            next_after(2, 1, &SCHEDULE, &failed(500), 0, 0.5),
            Next::Exhausted
        );
        assert_eq!(
            next_after(7, 9, &SCHEDULE, &failed(500), 0, 0.5),
            Next::RetryAt { at_ms: 20_000 }
        );
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let lo = next_after(1, 3, &SCHEDULE, &failed(500), 0, 0.0);
        let hi = next_after(1, 3, &SCHEDULE, &failed(500), 0, 0.999_999);
        assert_eq!(lo, Next::RetryAt { at_ms: 4_500 });
        assert_eq!(hi, Next::RetryAt { at_ms: 5_500 });
    }

    #[test]
    fn retry_after_is_honored_and_capped() {
        let slow = Outcome::Answered {
            status: 429,
            retry_after_seconds: Some(30.0),
        };
        assert_eq!(
            next_after(1, 3, &SCHEDULE, &slow, 0, 0.5),
            Next::RetryAt { at_ms: 30_000 }
        );
        let short = Outcome::Answered {
            status: 503,
            retry_after_seconds: Some(1.0),
        };
        assert_eq!(
            next_after(1, 3, &SCHEDULE, &short, 0, 0.5),
            Next::RetryAt { at_ms: 5_000 }
        );
        let huge = Outcome::Answered {
            status: 429,
            retry_after_seconds: Some(86_400.0),
        };
        assert_eq!(
            next_after(1, 3, &SCHEDULE, &huge, 0, 0.5),
            Next::RetryAt { at_ms: 3_600_000 }
        );
    }

    #[test]
    fn retry_after_header_forms() {
        assert_eq!(parse_retry_after("120", 0), Some(120.0));
        assert_eq!(parse_retry_after("1.5", 0), Some(1.5));
        assert_eq!(parse_retry_after("-1", 0), None);
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
            .unwrap()
            .timestamp_millis();
        assert_eq!(
            parse_retry_after("Sun, 22 Nov 2026 10:01:00 GMT", now),
            Some(60.0)
        );
        assert_eq!(parse_retry_after("soon", 0), None);
    }

    #[test]
    fn a_timeout_names_its_limit_when_it_knows_it() {
        assert_eq!(
            NoAnswer::Timeout { after_seconds: 1 }.describe(),
            "timeout: no answer within 1 s"
        );
        assert_eq!(
            NoAnswer::Timeout { after_seconds: 0 }.describe(),
            "timeout: the connection timed out"
        );
    }

    #[test]
    fn runtime_messages_become_classes_without_their_text() {
        for (message, class) in [
            (
                "Network connection lost.",
                NoAnswer::ConnectionRefusedOrReset,
            ),
            (
                "connect ECONNREFUSED 10.0.0.1:443",
                NoAnswer::ConnectionRefusedOrReset,
            ),
            (
                "Connection reset by peer",
                NoAnswer::ConnectionRefusedOrReset,
            ),
            ("TLS peer's certificate is not trusted", NoAnswer::Tls),
            ("DNS lookup failed for internal.host", NoAnswer::Dns),
            (
                "operation timed out",
                NoAnswer::Timeout { after_seconds: 0 },
            ),
            ("internal error; reference = 8sd7f", NoAnswer::Other),
        ] {
            let c = NoAnswer::classify(message);
            assert_eq!(c, class, "{message}");
            let text = c.describe();
            assert!(
                !text.contains("10.0.0.1") && !text.contains("reference"),
                "{text}"
            );
        }
    }

    #[test]
    fn error_classes() {
        assert_eq!(failed(204).error_class(), None);
        assert_eq!(failed(302).error_class(), Some("redirect"));
        assert_eq!(failed(300).error_class(), Some("redirect"));
        assert_eq!(failed(399).error_class(), Some("redirect"));
        assert_eq!(failed(400).error_class(), Some("http_status"));
        assert_eq!(failed(199).error_class(), Some("http_status"));
        for (failure, class) in [
            (NoAnswer::Timeout { after_seconds: 2 }, "timeout"),
            (NoAnswer::ConnectionRefusedOrReset, "connection"),
            (NoAnswer::Tls, "tls"),
            (NoAnswer::Dns, "dns"),
            (NoAnswer::Other, "other"),
        ] {
            assert_eq!(Outcome::NoAnswer { failure }.error_class(), Some(class));
        }
    }

    #[test]
    fn status_summarizes_state() {
        assert_eq!(State::Success.status(), "success");
        for s in [
            State::Pending,
            State::Retrying,
            State::Failed,
            State::Skipped,
        ] {
            assert_eq!(s.status(), "failed");
        }
        assert_eq!(State::parse("retrying"), Some(State::Retrying));
        assert_eq!(State::parse("skipped"), Some(State::Skipped));
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        assert_eq!(State::parse("exhausted"), None);
    }

    #[test]
    fn only_failed_attempts_record_an_error() {
        for s in [200, 204, 299] {
            assert_eq!(failed(s).error(), None, "{s}");
        }
        assert_eq!(
            failed(300).error().unwrap(),
            "redirect: HTTP 300 (redirects are not followed)"
        );
        assert_eq!(
            failed(399).error().unwrap(),
            "redirect: HTTP 399 (redirects are not followed)"
        );
        assert_eq!(failed(199).error().unwrap(), "HTTP status 199");
        assert_eq!(failed(500).error().unwrap(), "HTTP status 500");
        assert_eq!(failed(400).error().unwrap(), "HTTP status 400");
        assert_eq!(failed(503).status_code(), 503);
    }
}
