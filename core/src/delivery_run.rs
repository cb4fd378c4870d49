//! One delivery run's bookkeeping, decided without the runtime: from a queued
//! delivery and what its attempt came to, the attempt to record and the
//! delivery's next state, attempt count and due time.
//!
//! A destination's object runs this for every attempt of a run and writes the
//! result to its log in one step, so the log and the queue never disagree.

use crate::delivery::{Next, Outcome, State, next_after};
use serde::{Deserialize, Serialize};

/// A queued delivery as a run finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// Attempts made so far, over every round.
    pub attempt_count: u32,
    /// Attempts made before the current round: a manual retry starts a new
    /// round with a fresh retry budget.
    pub round_start: u32,
}

/// What the destination's settings say about retrying.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy<'a> {
    /// The destination's `retry_attempts`.
    pub retries: u32,
    /// Waits before retry 1, 2, … in seconds (the last repeats).
    pub schedule: &'a [f64],
}

/// How much of a receiver's answer an attempt reads before it stops reading
/// (the rest is cancelled, never buffered).
pub const ANSWER_READ_LIMIT_BYTES: usize = 8 * 1024;
/// How much of it the attempt keeps, for the delivery's detail.
pub const ANSWER_KEPT_BYTES: usize = 4 * 1024;

/// The start of a receiver's answer, as one delivery's detail shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerExcerpt {
    pub body: String,
    /// The answer was longer than what is kept.
    pub truncated: bool,
}

/// Keeps the first [`ANSWER_KEPT_BYTES`] of what was read of an answer, cut
/// on a character boundary, invalid UTF-8 replaced. `more_followed` says the
/// reader stopped before the answer's end. An empty answer keeps nothing.
pub fn excerpt(read: &[u8], more_followed: bool) -> Option<AnswerExcerpt> {
    if read.is_empty() && !more_followed {
        return None;
    }
    let kept = &read[..read.len().min(ANSWER_KEPT_BYTES)];
    let mut text = match std::str::from_utf8(kept) {
        Ok(t) => t.to_string(),
        // A character that the limit cut in two is dropped whole; one the
        // answer itself ends in the middle of is shown as invalid.
        Err(e) if e.error_len().is_none() && read.len() > ANSWER_KEPT_BYTES => {
            String::from_utf8_lossy(&kept[..e.valid_up_to()]).into_owned()
        }
        Err(_) => String::from_utf8_lossy(kept).into_owned(),
    };
    // Each invalid byte became a 3-byte replacement character: what is kept
    // is cut again to the limit, on a character boundary.
    let mut truncated = more_followed || read.len() > ANSWER_KEPT_BYTES;
    if text.len() > ANSWER_KEPT_BYTES {
        let mut end = ANSWER_KEPT_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        truncated = true;
    }
    Some(AnswerExcerpt {
        body: text,
        truncated,
    })
}

/// One attempt as the log keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// 1 for the first attempt of the delivery, counting across rounds.
    pub attempt_no: u32,
    pub attempted_at_ms: i64,
    /// 0 when no HTTP answer came.
    pub status_code: u16,
    pub duration_ms: i64,
    pub error: Option<String>,
    /// The start of the receiver's answer, if it sent one.
    pub answer: Option<AnswerExcerpt>,
}

/// The delivery after the attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Settled {
    pub attempt: AttemptRecord,
    pub state: State,
    /// When the next attempt is due; `None` once the delivery is finished
    /// (it then leaves the queue).
    pub next_attempt_at_ms: Option<i64>,
}

/// Settles one attempt of `due` that was sent at `sent_at_ms`, took
/// `duration_ms` and ended with `outcome`. `jitter` in [0, 1) spreads the
/// retry wait (see [`next_after`]).
pub fn settle(
    due: Due,
    policy: RetryPolicy<'_>,
    outcome: &Outcome,
    answer: Option<AnswerExcerpt>,
    sent_at_ms: i64,
    duration_ms: i64,
    jitter: f64,
) -> Settled {
    let attempt_no = due.attempt_count + 1;
    let in_round = attempt_no.saturating_sub(due.round_start).max(1);
    let next = next_after(
        in_round,
        policy.retries,
        policy.schedule,
        outcome,
        sent_at_ms + duration_ms,
        jitter,
    );
    Settled {
        attempt: AttemptRecord {
            attempt_no,
            attempted_at_ms: sent_at_ms,
            status_code: outcome.status_code(),
            duration_ms,
            error: outcome.error(),
            answer,
        },
        state: next.state(),
        next_attempt_at_ms: match next {
            Next::RetryAt { at_ms } => Some(at_ms),
            Next::Delivered | Next::Exhausted => None,
        },
    }
}

/// The round a manual retry of a failed delivery starts: its attempts so far
/// close the old round, and the retry budget counts from there.
pub fn reopened(attempt_count: u32) -> Due {
    Due {
        attempt_count,
        round_start: attempt_count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEDULE: [f64; 3] = [5.0, 10.0, 20.0];
    const POLICY: RetryPolicy<'static> = RetryPolicy {
        retries: 2,
        schedule: &SCHEDULE,
    };

    fn answered(status: u16) -> Outcome {
        Outcome::Answered {
            status,
            retry_after_seconds: None,
        }
    }

    #[test]
    fn a_first_attempt_that_succeeds_finishes_the_delivery() {
        let s = settle(
            Due {
                attempt_count: 0,
                round_start: 0,
            },
            POLICY,
            &answered(204),
            Some(AnswerExcerpt {
                body: "ok".into(),
                truncated: false,
            }),
            1_000,
            40,
            0.5,
        );
        assert_eq!(
            s,
            Settled {
                attempt: AttemptRecord {
                    attempt_no: 1,
                    attempted_at_ms: 1_000,
                    status_code: 204,
                    duration_ms: 40,
                    error: None,
                    answer: Some(AnswerExcerpt {
                        body: "ok".into(),
                        truncated: false
                    }),
                },
                state: State::Success,
                next_attempt_at_ms: None,
            }
        );
    }

    #[test]
    fn failures_retry_from_the_end_of_the_attempt_then_exhaust() {
        let first = settle(
            Due {
                attempt_count: 0,
                round_start: 0,
            },
            POLICY,
            &answered(500),
            None,
            1_000,
            250,
            0.5,
        );
        assert_eq!(first.state, State::Retrying);
        assert_eq!(first.next_attempt_at_ms, Some(1_250 + 5_000));
        assert_eq!(first.attempt.error.as_deref(), Some("HTTP status 500"));
        let second = settle(
            Due {
                attempt_count: 1,
                round_start: 0,
            },
            POLICY,
            &answered(500),
            None,
            0,
            0,
            0.5,
        );
        assert_eq!(
            (second.attempt.attempt_no, second.next_attempt_at_ms),
            (2, Some(10_000))
        );
        // The first attempt and `retries` retries: the third is the last.
        let third = settle(
            Due {
                attempt_count: 2,
                round_start: 0,
            },
            POLICY,
            &answered(500),
            None,
            0,
            0,
            0.5,
        );
        assert_eq!(
            (
                third.attempt.attempt_no,
                third.state,
                third.next_attempt_at_ms
            ),
            (3, State::Failed, None)
        );
    }

    #[test]
    fn a_manual_retry_numbers_on_but_has_a_fresh_budget() {
        let due = reopened(3);
        assert_eq!(due.round_start, 3);
        let s = settle(
            due,
            POLICY,
            &Outcome::NoAnswer {
                failure: crate::delivery::NoAnswer::Tls,
            },
            None,
            0,
            0,
            0.5,
        );
        assert_eq!(s.attempt.attempt_no, 4);
        assert_eq!(s.attempt.status_code, 0);
        assert_eq!(s.state, State::Retrying, "first attempt of the new round");
        let last = settle(
            Due {
                attempt_count: 6,
                round_start: 3,
            },
            POLICY,
            &answered(500),
            None,
            0,
            0,
            0.5,
        );
        assert_eq!((last.attempt.attempt_no, last.state), (7, State::Failed));
    }

    #[test]
    fn an_attempt_reads_8_kb_of_an_answer_and_keeps_4() {
        assert_eq!((ANSWER_READ_LIMIT_BYTES, ANSWER_KEPT_BYTES), (8192, 4096));
    }

    #[test]
    fn an_answer_keeps_its_first_4_kb_on_a_character_boundary() {
        assert_eq!(excerpt(b"", false), None);
        assert_eq!(
            excerpt(b"{\"ok\":true}", false),
            Some(AnswerExcerpt {
                body: "{\"ok\":true}".into(),
                truncated: false
            })
        );
        let exact = vec![b'a'; ANSWER_KEPT_BYTES];
        let e = excerpt(&exact, false).unwrap();
        assert_eq!((e.body.len(), e.truncated), (ANSWER_KEPT_BYTES, false));
        let long = vec![b'a'; ANSWER_KEPT_BYTES + 1];
        let e = excerpt(&long, false).unwrap();
        assert_eq!((e.body.len(), e.truncated), (ANSWER_KEPT_BYTES, true));
        assert!(
            excerpt(b"abc", true).unwrap().truncated,
            "the reader stopped early"
        );
        // "é" is two bytes; one straddling the limit is dropped whole.
        let mut cut = vec![b'a'; ANSWER_KEPT_BYTES - 1];
        cut.extend_from_slice("é".as_bytes());
        let e = excerpt(&cut, false).unwrap();
        assert_eq!(e.body.len(), ANSWER_KEPT_BYTES - 1);
        assert!(e.truncated);
        let e = excerpt(&[0xff, b'x'], false).unwrap();
        assert_eq!(e.body, "\u{fffd}x");
        assert!(!e.truncated);
        let e = excerpt(b"abc\xc3", false).unwrap();
        assert_eq!((e.body.as_str(), e.truncated), ("abc\u{fffd}", false));
        // A 4-byte character the cut leaves 3 bytes of is dropped whole, not
        // shown as invalid (which would still fit the 4 KB).
        let mut cut = vec![b'a'; ANSWER_KEPT_BYTES - 3];
        cut.extend_from_slice("😀".as_bytes());
        let e = excerpt(&cut, false).unwrap();
        assert_eq!((e.body.len(), e.truncated), (ANSWER_KEPT_BYTES - 3, true));
        assert!(e.body.bytes().all(|b| b == b'a'));
        // An answer of exactly 4 KB that ends mid-character was not cut: its
        // last character is invalid, and showing it needs more than 4 KB.
        let mut exact = vec![b'a'; ANSWER_KEPT_BYTES - 1];
        exact.push(0xc3);
        let e = excerpt(&exact, false).unwrap();
        assert_eq!((e.body.len(), e.truncated), (ANSWER_KEPT_BYTES - 1, true));
        // Binary answers (a compressed body kept as it came) stay within 4 KB as text.
        let binary: Vec<u8> = (0..ANSWER_KEPT_BYTES).map(|i| (i % 256) as u8).collect();
        let e = excerpt(&binary, false).unwrap();
        assert!(e.body.len() <= ANSWER_KEPT_BYTES, "{}", e.body.len());
        assert!(e.body.len() > ANSWER_KEPT_BYTES - 3);
        assert!(e.truncated);
        let e = excerpt(&[0xff; 1366], false).unwrap();
        assert_eq!((e.body.len(), e.truncated), (4095, true));
        let e = excerpt(&[0xff; 1365], false).unwrap();
        assert_eq!((e.body.len(), e.truncated), (4095, false));
    }
}
