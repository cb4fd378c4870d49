//! The attempts of a delivery run: taking due deliveries from the queue with a
//! lease, starting a signed attempt of each at once, waiting for the first
//! of an attempt's end, a wake or a timer, and recording each attempt the
//! moment it ends with the delivery's new state.

use super::log::DueRow;
use super::state::Destination;
use crate::config;
use crate::delivery::{self, Attempted};
use edgehook_core::delivery_run::{RetryPolicy, settle};
use edgehook_core::error::ApiError;
use futures_util::future::LocalBoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;
use worker::{AbortController, Delay};

/// Extra time beyond the timeout before an attempt cut off by a restart is retried.
const LEASE_GRACE_MS: i64 = 30_000;

/// Wakes a run that waits, when deliveries are stored meanwhile.
#[derive(Default)]
pub struct Signal {
    raised: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Signal {
    pub(super) fn raise(&self) {
        self.raised.set(true);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// Whether it was raised since the last look; otherwise `waker` is woken when it is.
    fn take(&self, waker: &Waker) -> bool {
        if self.raised.replace(false) {
            return true;
        }
        *self.waker.borrow_mut() = Some(waker.clone());
        false
    }
}

/// An attempt that ended, to be recorded.
pub(super) struct Finished {
    row: DueRow,
    sent_at: i64,
    attempted: Attempted,
    dual_signed: bool,
    /// The destination's `retry_attempts` when the attempt started.
    retries: i64,
}

pub(super) type Attempts<'a> = FuturesUnordered<LocalBoxFuture<'a, Finished>>;

impl Destination {
    /// Takes up to `n` due deliveries and starts an attempt of each. None
    /// when the destination is paused or deleted: its queue waits.
    pub(super) async fn start(
        &self,
        n: u32,
        now: i64,
    ) -> Result<Vec<LocalBoxFuture<'_, Finished>>, ApiError> {
        let Some(dest) = self.config().await? else {
            return Ok(vec![]);
        };
        if !dest.is_active {
            return Ok(vec![]);
        }
        let due = self.log()?.take_due(
            now,
            i64::from(n),
            now + dest.timeout_seconds * 1000 + LEASE_GRACE_MS,
        )?;
        if due.is_empty() {
            return Ok(vec![]);
        }
        let secrets = self.secrets().await?;
        let signing: Vec<String> = secrets
            .signing_secrets(now)
            .into_iter()
            .map(String::from)
            .collect();
        let url = Rc::new(dest.url);
        Ok(due
            .into_iter()
            .map(|row| {
                let controller = AbortController::default();
                let signal = controller.signal();
                self.in_flight.borrow_mut().insert(row.seq, controller);
                let (signing, url) = (signing.clone(), Rc::clone(&url));
                let (timeout, retries) = (dest.timeout_seconds, dest.retry_attempts);
                let destination = dest.id.clone();
                Box::pin(async move {
                    let sent_at = config::now_ms();
                    let secrets: Vec<&str> = signing.iter().map(String::as_str).collect();
                    let attempted = match edgehook_sdk::sign_webhook(
                        &secrets,
                        &row.id,
                        sent_at,
                        row.body.as_bytes(),
                    ) {
                        Ok(headers) => {
                            let what = format!("destination {destination}, delivery {}", row.id);
                            delivery::attempt(
                                &url,
                                timeout,
                                headers.iter(),
                                &row.body,
                                signal,
                                &what,
                            )
                            .await
                        }
                        Err(e) => {
                            worker::console_error!(
                                "destination {destination}: delivery {} could not be signed: {e:?}",
                                row.id
                            );
                            Attempted::not_sent()
                        }
                    };
                    Finished {
                        row,
                        sent_at,
                        attempted,
                        dual_signed: secrets.len() > 1,
                        retries,
                    }
                }) as LocalBoxFuture<'_, Finished>
            })
            .collect())
    }

    /// Waits for the first of: an attempt ending (returned), deliveries
    /// stored meanwhile, or `until`.
    pub(super) async fn next_event(
        &self,
        attempts: &mut Attempts<'_>,
        until: Option<i64>,
        now: i64,
    ) -> Option<Finished> {
        let timer = until.map(|t| Delay::from(Duration::from_millis((t - now).max(0) as u64)));
        let mut timer = pin!(timer);
        poll_fn(|cx| {
            if !attempts.is_empty()
                && let Poll::Ready(Some(done)) = attempts.poll_next_unpin(cx)
            {
                return Poll::Ready(Some(done));
            }
            if self.woken.take(cx.waker()) {
                return Poll::Ready(None);
            }
            if let Some(t) = timer.as_mut().as_pin_mut()
                && t.poll(cx).is_ready()
            {
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await
    }

    /// Records an attempt that ended and its delivery's new state; answers
    /// when the delivery needs the alarm again (its retry, or its purge).
    pub(super) fn record(&self, done: Finished) -> Result<Option<i64>, ApiError> {
        let Finished {
            row,
            sent_at,
            attempted,
            dual_signed,
            retries,
        } = done;
        if let Some(c) = self.in_flight.borrow_mut().remove(&row.seq)
            && !attempted.ended
        {
            c.abort();
        }
        if self.is_deleted() {
            // Deleted meanwhile: its log is gone and nothing more is recorded.
            return Ok(None);
        }
        let settings = config::settings(&self.env)?;
        let policy = RetryPolicy {
            retries: retries as u32,
            schedule: &settings.retry_schedule_seconds,
        };
        let jitter = config::random::<4>()
            .map(|b| f64::from(u32::from_le_bytes(b)) / (f64::from(u32::MAX) + 1.0))
            .unwrap_or(0.5);
        let settled = settle(
            row.due(),
            policy,
            &attempted.outcome,
            attempted.answer,
            sent_at,
            attempted.duration_ms,
            jitter,
        );
        self.log()?
            .record(row.seq, &settled, dual_signed, config::now_ms())?;
        Ok(Some(settled.next_attempt_at_ms.unwrap_or(
            row.created_at + settings.delivery_retention_seconds * 1000,
        )))
    }
}
