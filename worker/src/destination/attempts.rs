//! The attempts of a delivery run: taking due deliveries from the queue with a
//! lease (and, once it runs dry, a running recovery's next batch), starting a
//! signed attempt of each at once, and waiting for the first of an attempt's
//! end, a wake or a timer. What an attempt's end means is `super::outcomes`.

use super::log::DueRow;
use super::state::Destination;
use crate::config;
use crate::delivery::{self, Attempted};
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
    pub(super) row: DueRow,
    pub(super) sent_at: i64,
    pub(super) attempted: Attempted,
    pub(super) dual_signed: bool,
    /// The destination's `retry_attempts` when the attempt started.
    pub(super) retries: i64,
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
        let lease = now + dest.timeout_seconds * 1000 + LEASE_GRACE_MS;
        let mut due = self.log()?.take_due(now, i64::from(n), lease)?;
        if due.len() < n as usize && self.feed_recovery(now)? {
            // The queue ran dry while a recovery has more: its next batch.
            let more = self
                .log()?
                .take_due(now, i64::from(n) - due.len() as i64, lease)?;
            due.extend(more);
        }
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
}
