//! The sliding-window limiter behind "20 requests a minute per user and endpoint".
//! The rate-limit Durable Object holds one [`Window`] per key, so every decision
//! for a key is made in one place, in order: exact under concurrency.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

pub const WINDOW_MS: i64 = 60_000;

/// The times of the requests admitted in the last window, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    admitted: VecDeque<i64>,
}

impl Window {
    /// Admits a request at `now_ms` if fewer than `limit` were admitted in the
    /// last minute; otherwise returns the whole seconds until one slot frees up.
    /// A `limit` of 0 means unlimited.
    pub fn admit(&mut self, now_ms: i64, limit: u32) -> Result<(), u64> {
        if limit == 0 {
            return Ok(());
        }
        while self
            .admitted
            .front()
            .is_some_and(|&t| t <= now_ms - WINDOW_MS)
        {
            self.admitted.pop_front();
        }
        if self.admitted.len() < limit as usize {
            self.admitted.push_back(now_ms);
            return Ok(());
        }
        let oldest = self.admitted.front().copied().unwrap_or(now_ms);
        let wait_ms = (oldest + WINDOW_MS - now_ms).max(1);
        Err(((wait_ms + 999) / 1000) as u64)
    }

    /// True when nothing in the window can still count: the state may be dropped.
    pub fn is_idle(&self, now_ms: i64) -> bool {
        self.admitted
            .back()
            .is_none_or(|&t| t <= now_ms - WINDOW_MS)
    }

    /// What [`Window::admit`] would answer at `now_ms`, without counting the
    /// request: a check before work whose outcome decides whether it counts.
    pub fn check(&self, now_ms: i64, limit: u32) -> Result<(), u64> {
        self.clone().admit(now_ms, limit)
    }

    /// When the window becomes idle (its newest request leaves it), so its
    /// holder can forget it then; `None` when nothing was admitted.
    pub fn idle_at(&self) -> Option<i64> {
        self.admitted.back().map(|&t| t + WINDOW_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_21st_request_in_a_minute_is_refused() {
        let mut w = Window::default();
        for i in 0..20 {
            assert!(w.admit(1_000 + i * 100, 20).is_ok());
        }
        let retry = w.admit(5_000, 20).unwrap_err();
        assert_eq!(retry, 56); // the first admitted (t=1000) leaves the window at 61000
    }

    #[test]
    fn slots_free_up_as_the_window_slides() {
        let mut w = Window::default();
        for i in 0..5 {
            w.admit(i * 1_000, 5).unwrap();
        }
        assert!(w.admit(59_999, 5).is_err());
        assert!(w.admit(60_000, 5).is_ok());
        assert!(w.admit(60_001, 5).is_err());
        assert!(!w.is_idle(100_000));
        assert!(w.is_idle(200_000));
    }

    #[test]
    fn a_check_answers_as_admit_would_without_counting() {
        let mut w = Window::default();
        for i in 0..3 {
            assert_eq!(w.check(i, 3), Ok(()));
            w.admit(i, 3).unwrap();
        }
        let before = w.clone();
        assert_eq!(w.check(10, 3), Err(60));
        assert_eq!(w.check(10, 3), w.clone().admit(10, 3));
        assert_eq!(w.check(60_000, 3), Ok(()));
        assert_eq!(w, before);
    }

    #[test]
    fn the_window_is_idle_a_minute_after_its_newest_request() {
        let mut w = Window::default();
        assert_eq!(w.idle_at(), None);
        assert!(w.is_idle(0));
        w.admit(1_000, 5).unwrap();
        w.admit(2_000, 5).unwrap();
        assert_eq!(w.idle_at(), Some(62_000));
        assert!(!w.is_idle(61_999));
        assert!(w.is_idle(62_000));
    }

    #[test]
    fn zero_means_unlimited() {
        let mut w = Window::default();
        for i in 0..1000 {
            assert!(w.admit(i, 0).is_ok());
        }
    }
}
