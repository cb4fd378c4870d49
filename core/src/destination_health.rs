//! A destination's health ladder, decided without the runtime: how long its
//! deliveries have only failed, when that earns a warning, when it disables
//! the destination, and when the destination has recovered.
//!
//! A failing streak starts with the first failed attempt after a success (or
//! after the destination was created or re-enabled) and ends with the next
//! success. Warnings go out at 50 %, 75 % and 90 % of
//! `EDGEHOOK_DISABLE_AFTER_SECONDS` into a streak, each once; once the whole
//! time has passed with at least `EDGEHOOK_DISABLE_AFTER_FAILURES` deliveries
//! exhausted, the destination is disabled (`disabled_reason: "failing"`). The
//! first success after a streak that warned or disabled is a recovery.
//!
//! The destination's object keeps one [`Health`] value and tells it what each
//! attempt came to; what the value answers is what the object must do (warn,
//! disable, announce a recovery), which it does through its operational
//! webhooks and D1.

use serde::{Deserialize, Serialize};

/// Default of `EDGEHOOK_DISABLE_AFTER_SECONDS`: 5 days.
pub const DEFAULT_DISABLE_AFTER_SECONDS: i64 = 5 * 86_400;
/// Default of `EDGEHOOK_DISABLE_AFTER_FAILURES`.
pub const DEFAULT_DISABLE_AFTER_FAILURES: i64 = 10;
/// The warnings of a streak, in percent of the time to disable.
pub const WARNING_PERCENTS: [u8; 3] = [50, 75, 90];

/// When a failing destination is disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ladder {
    pub disable_after_ms: i64,
    pub disable_after_failures: i64,
}

impl Default for Ladder {
    fn default() -> Self {
        Ladder {
            disable_after_ms: DEFAULT_DISABLE_AFTER_SECONDS * 1000,
            disable_after_failures: DEFAULT_DISABLE_AFTER_FAILURES,
        }
    }
}

/// A destination's failing streak, as its object stores it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// When the streak's first failed attempt was made; `None`: not failing.
    pub failing_since_ms: Option<i64>,
    /// Deliveries exhausted (failed for good) during the streak.
    pub exhausted: i64,
    /// The highest warning already sent for the streak, in percent (0: none).
    pub warned_percent: u8,
    /// The streak disabled the destination.
    pub disabled: bool,
    /// The last attempt's error, for warnings.
    pub last_error: Option<String>,
    /// When the highest warning of the streak went out. Absent from streaks
    /// stored before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warned_at_ms: Option<i64>,
}

/// The failing streak as `GET …/stats` shows it under `health`: all `null`
/// (and 0) while the destination is not failing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReport {
    /// When its deliveries started failing with no success since.
    pub failing_since: Option<String>,
    /// Deliveries that failed for good since then.
    pub exhausted_deliveries: i64,
    /// The last warning sent (`destination.failing`), in percent of the time
    /// to disable, and when.
    pub last_warning_percent: Option<u8>,
    pub last_warning_at: Option<String>,
    /// The last attempt's error of the streak.
    pub last_error: Option<String>,
    /// When the ladder disables the destination if nothing succeeds (and
    /// enough deliveries are exhausted by then); `null` once disabled.
    pub disable_at: Option<String>,
}

/// What an attempt's outcome asks of the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Nothing,
    /// Send `destination.failing` at this percentage of the time to disable.
    Warn {
        percent: u8,
    },
    /// Disable the destination (`disabled_reason: "failing"`) and send
    /// `destination.disabled`.
    Disable,
    /// The first success after a streak that warned or disabled: send
    /// `destination.recovered`.
    Recovered,
}

impl Health {
    /// An attempt failed at `now_ms` with `error`; `exhausted` when it was its
    /// delivery's last.
    pub fn failed(&mut self, now_ms: i64, error: &str, exhausted: bool, ladder: Ladder) -> Verdict {
        let since = *self.failing_since_ms.get_or_insert(now_ms);
        self.last_error = Some(error.to_string());
        if exhausted {
            self.exhausted += 1;
        }
        if self.disabled {
            return Verdict::Nothing;
        }
        let elapsed = (now_ms - since).max(0);
        if elapsed >= ladder.disable_after_ms && self.exhausted >= ladder.disable_after_failures {
            self.disabled = true;
            return Verdict::Disable;
        }
        let reached = WARNING_PERCENTS
            .into_iter()
            .filter(|p| elapsed * 100 >= i64::from(*p) * ladder.disable_after_ms)
            .max()
            .unwrap_or(0);
        if reached > self.warned_percent {
            self.warned_percent = reached;
            self.warned_at_ms = Some(now_ms);
            return Verdict::Warn { percent: reached };
        }
        Verdict::Nothing
    }

    /// The streak as reads show it, with times written by `format`.
    pub fn report(&self, ladder: Ladder, format: impl Fn(i64) -> String) -> HealthReport {
        let Some(since) = self.failing_since_ms else {
            return HealthReport::default();
        };
        HealthReport {
            failing_since: Some(format(since)),
            exhausted_deliveries: self.exhausted,
            last_warning_percent: (self.warned_percent > 0).then_some(self.warned_percent),
            last_warning_at: self.warned_at_ms.map(&format),
            last_error: self.last_error.clone(),
            disable_at: (!self.disabled).then(|| format(since + ladder.disable_after_ms)),
        }
    }

    /// An attempt succeeded: the streak ends.
    pub fn succeeded(&mut self) -> Verdict {
        let announced = self.warned_percent > 0 || self.disabled;
        *self = Health::default();
        if announced {
            Verdict::Recovered
        } else {
            Verdict::Nothing
        }
    }

    /// The owner set `is_active: true` again: the streak is forgotten, and a
    /// destination the ladder had disabled has recovered.
    pub fn re_enabled(&mut self) -> Verdict {
        let was_disabled = self.disabled;
        *self = Health::default();
        if was_disabled {
            Verdict::Recovered
        } else {
            Verdict::Nothing
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LADDER: Ladder = Ladder {
        disable_after_ms: 1_000,
        disable_after_failures: 3,
    };

    #[test]
    fn defaults() {
        let l = Ladder::default();
        assert_eq!(
            (l.disable_after_ms, l.disable_after_failures),
            (432_000_000, 10)
        );
        assert_eq!(WARNING_PERCENTS, [50, 75, 90]);
    }

    #[test]
    fn a_streak_warns_at_each_threshold_once_then_disables() {
        let mut h = Health::default();
        assert_eq!(
            h.failed(10_000, "HTTP status 500", false, LADDER),
            Verdict::Nothing
        );
        assert_eq!(h.failing_since_ms, Some(10_000));
        assert_eq!(
            h.failed(10_499, "HTTP status 500", true, LADDER),
            Verdict::Nothing
        );
        assert_eq!(
            h.failed(10_500, "HTTP status 502", false, LADDER),
            Verdict::Warn { percent: 50 }
        );
        assert_eq!(h.last_error.as_deref(), Some("HTTP status 502"));
        assert_eq!(
            h.failed(10_600, "e", false, LADDER),
            Verdict::Nothing,
            "once"
        );
        assert_eq!(
            h.failed(10_750, "e", true, LADDER),
            Verdict::Warn { percent: 75 }
        );
        assert_eq!(h.failed(10_899, "e", false, LADDER), Verdict::Nothing);
        assert_eq!(
            h.failed(10_900, "e", false, LADDER),
            Verdict::Warn { percent: 90 }
        );
        // The whole time has passed but only 2 deliveries are exhausted.
        assert_eq!(h.failed(11_000, "e", false, LADDER), Verdict::Nothing);
        assert_eq!(h.exhausted, 2);
        assert_eq!(h.failed(11_001, "e", true, LADDER), Verdict::Disable);
        assert!(h.disabled);
        assert_eq!(
            h.failed(12_000, "e", true, LADDER),
            Verdict::Nothing,
            "once disabled"
        );
        assert_eq!(h.exhausted, 4);
    }

    #[test]
    fn the_report_shows_the_streak_its_last_warning_and_when_it_disables() {
        let fmt = |ms: i64| format!("t{ms}");
        let mut h = Health::default();
        assert_eq!(
            h.report(LADDER, fmt),
            HealthReport::default(),
            "not failing"
        );
        h.failed(10_000, "HTTP status 500", true, LADDER);
        let r = h.report(LADDER, fmt);
        assert_eq!(r.failing_since.as_deref(), Some("t10000"));
        assert_eq!(r.exhausted_deliveries, 1);
        assert_eq!((r.last_warning_percent, r.last_warning_at), (None, None));
        assert_eq!(r.last_error.as_deref(), Some("HTTP status 500"));
        assert_eq!(r.disable_at.as_deref(), Some("t11000"));
        h.failed(10_620, "timeout", false, LADDER);
        let r = h.report(LADDER, fmt);
        assert_eq!(r.last_warning_percent, Some(50));
        assert_eq!(
            r.last_warning_at.as_deref(),
            Some("t10620"),
            "when it went out"
        );
        assert_eq!(r.last_error.as_deref(), Some("timeout"));
        h.failed(11_000, "e", true, LADDER);
        h.failed(11_001, "e", true, LADDER);
        assert!(h.disabled);
        let r = h.report(LADDER, fmt);
        assert_eq!(r.disable_at, None, "already disabled");
        assert_eq!(r.last_warning_percent, Some(90));
        assert_eq!(r.exhausted_deliveries, 3);
        h.succeeded();
        assert_eq!(h.report(LADDER, fmt), HealthReport::default());
    }

    #[test]
    fn a_streak_stored_before_warnings_were_timed_still_reads() {
        let h: Health = serde_json::from_str(
            r#"{"failing_since_ms":5,"exhausted":0,"warned_percent":50,"disabled":false,"last_error":null}"#,
        )
        .unwrap();
        assert_eq!(h.warned_at_ms, None);
        assert_eq!(
            h.report(LADDER, |ms| ms.to_string()).last_warning_percent,
            Some(50)
        );
    }

    #[test]
    fn a_late_first_look_sends_only_the_highest_warning_reached() {
        let mut h = Health::default();
        h.failed(0, "e", false, LADDER);
        assert_eq!(
            h.failed(800, "e", false, LADDER),
            Verdict::Warn { percent: 75 }
        );
        assert_eq!(h.failed(850, "e", false, LADDER), Verdict::Nothing);
    }

    #[test]
    fn enough_failures_alone_do_not_disable() {
        let mut h = Health::default();
        for t in 0..10 {
            assert_ne!(h.failed(t, "e", true, LADDER), Verdict::Disable);
        }
        assert_eq!(
            h.failed(999, "e", true, LADDER),
            Verdict::Warn { percent: 90 }
        );
        assert_eq!(h.failed(1_000, "e", true, LADDER), Verdict::Disable);
    }

    #[test]
    fn a_success_ends_the_streak_and_announces_a_recovery_only_after_a_warning() {
        let mut h = Health::default();
        h.failed(0, "e", true, LADDER);
        assert_eq!(h.succeeded(), Verdict::Nothing, "nobody was warned");
        assert_eq!(h, Health::default());
        h.failed(0, "e", true, LADDER);
        h.failed(600, "e", true, LADDER);
        assert_eq!(h.succeeded(), Verdict::Recovered);
        assert_eq!(h.failing_since_ms, None);
        // A new streak starts from its own first failure.
        assert_eq!(h.failed(5_000, "e", false, LADDER), Verdict::Nothing);
        assert_eq!(h.failing_since_ms, Some(5_000));
    }

    #[test]
    fn re_enabling_forgets_the_streak() {
        let mut h = Health::default();
        h.failed(0, "e", true, LADDER);
        assert_eq!(h.re_enabled(), Verdict::Nothing);
        for t in [0, 1, 2, 1_000] {
            h.failed(t, "e", true, LADDER);
        }
        assert!(h.disabled);
        assert_eq!(h.re_enabled(), Verdict::Recovered);
        assert_eq!(h, Health::default());
        assert_eq!(h.succeeded(), Verdict::Nothing);
    }
}
