//! The attempts of a delivery run: taking due deliveries from the queue with a
//! lease (and, once it runs dry, a running recovery's next batch), starting a
//! signed attempt of each at once, and waiting for the first of an attempt's
//! end, a wake or a timer. What an attempt's end means is `super::outcomes`.
//! Attempts are signed with the destination's secrets and, when it signs with
//! ed25519, its signing keys (`v1a` in `webhook-signature`).

use super::log::DueRow;
use super::state::Destination;
use crate::config;
use crate::delivery::{self, Attempted};
use edgehook_core::error::ApiError;
use edgehook_core::pipeline::Ahead;
use edgehook_core::secrets::SecretState;
use edgehook_sdk::{SecretError, SignedHeaders, SigningKey};
use futures_util::future::LocalBoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;
use worker::{AbortController, Delay};

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

/// What signs the attempts a run starts at one moment: the destination's
/// secrets, newest first, and the signing keys of a destination that signs
/// with ed25519 (parsed once for the batch; none for HMAC).
struct Signer {
    secrets: Vec<String>,
    keys: Result<Vec<SigningKey>, SecretError>,
}

impl Signer {
    fn of(state: &SecretState, now: i64) -> Self {
        Signer {
            secrets: state
                .signing_secrets(now)
                .into_iter()
                .map(String::from)
                .collect(),
            keys: state
                .signing_keys(now)
                .into_iter()
                .map(SigningKey::parse)
                .collect(),
        }
    }

    /// Whether what signed before a rotation signs too.
    fn dual_signed(&self) -> bool {
        self.secrets.len() > 1
    }

    /// The signature headers of one attempt: Amigo's with the secrets, and
    /// Standard Webhooks' with the signing keys (`v1a`) or else the secrets (`v1`).
    fn sign(&self, id: &str, at_ms: i64, body: &[u8]) -> Result<SignedHeaders, SecretError> {
        let secrets: Vec<&str> = self.secrets.iter().map(String::as_str).collect();
        let keys: Vec<&SigningKey> = self.keys.as_ref().map_err(|e| *e)?.iter().collect();
        if keys.is_empty() {
            edgehook_sdk::sign_webhook(&secrets, id, at_ms, body)
        } else {
            edgehook_sdk::sign::sign_webhook_ed25519(&secrets, &keys, id, at_ms, body)
        }
    }
}

pub(super) type Attempts<'a> = FuturesUnordered<LocalBoxFuture<'a, Finished>>;

impl Destination {
    /// Takes up to `n` due deliveries and starts an attempt of each: first
    /// those taken ahead, then from the queue, a window's worth at a time
    /// (`window`: the most attempts in flight), the rest held for the next
    /// free slots. None when the destination is paused or deleted: its queue
    /// waits, and what was taken ahead goes back to it.
    pub(super) async fn start(
        &self,
        n: u32,
        now: i64,
        window: u32,
    ) -> Result<Vec<LocalBoxFuture<'_, Finished>>, ApiError> {
        let Some(dest) = self.config().await? else {
            return Ok(vec![]);
        };
        if !dest.is_active {
            self.release_ahead(now)?;
            return Ok(vec![]);
        }
        let timeout_ms = dest.timeout_seconds * 1000;
        let mut due = self.ahead.borrow_mut().take(n, now, timeout_ms);
        let short = n as usize - due.len();
        if short > 0 {
            let lease = Ahead::<DueRow>::lease(now, timeout_ms);
            let ask = i64::from(Ahead::<DueRow>::to_take(short as u32, window));
            let log = self.log()?;
            let mut taken = log.take_due(now, ask, lease)?;
            if taken.len() < short && self.feed_recovery(now)? {
                // The queue ran dry while a recovery has more: its next batch.
                taken.extend(log.take_due(now, ask - taken.len() as i64, lease)?);
            }
            let ahead = taken.split_off(short.min(taken.len()));
            due.extend(taken);
            self.ahead.borrow_mut().hold(ahead, lease);
        }
        if due.is_empty() {
            return Ok(vec![]);
        }
        let signer = Rc::new(Signer::of(&self.secrets().await?, now));
        let url = Rc::new(dest.url);
        Ok(due
            .into_iter()
            .map(|row| {
                let controller = AbortController::default();
                let signal = controller.signal();
                self.in_flight.borrow_mut().insert(row.seq, controller);
                let (signer, url) = (Rc::clone(&signer), Rc::clone(&url));
                let (timeout, retries) = (dest.timeout_seconds, dest.retry_attempts);
                let destination = dest.id.clone();
                Box::pin(async move {
                    let sent_at = config::now_ms();
                    let attempted = match signer.sign(&row.id, sent_at, row.body.as_bytes()) {
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
                        dual_signed: signer.dual_signed(),
                        retries,
                    }
                }) as LocalBoxFuture<'_, Finished>
            })
            .collect())
    }

    /// Gives what was taken ahead back to the queue, due at `now`.
    pub(super) fn release_ahead(&self, now: i64) -> Result<(), ApiError> {
        let held = self.ahead.borrow_mut().release();
        if held.is_empty() {
            return Ok(());
        }
        self.log()?.release(held.iter().map(|r| r.seq), now)
    }

    /// Waits for the first of: an attempt ending (returned), deliveries
    /// stored meanwhile, or `until`. The timer for `until` is kept in `timer`
    /// and reused while the run waits for the same moment (usually its
    /// budget's end), rather than set and cleared at every wait. A wait with
    /// no moment keeps the timer too: under steady traffic the run waits with
    /// and without its budget's end by turns (its queue drained, then woken),
    /// and a timer that fires early only has the run look again.
    pub(super) async fn next_event(
        &self,
        attempts: &mut Attempts<'_>,
        timer: &mut Option<(i64, Pin<Box<Delay>>)>,
        until: Option<i64>,
        now: i64,
    ) -> Option<Finished> {
        match until {
            None => {}
            Some(t) if timer.as_ref().is_some_and(|(at, _)| *at == t) => {}
            Some(t) => {
                let delay = Delay::from(Duration::from_millis((t - now).max(0) as u64));
                *timer = Some((t, Box::pin(delay)));
            }
        }
        poll_fn(|cx| {
            if !attempts.is_empty()
                && let Poll::Ready(Some(done)) = attempts.poll_next_unpin(cx)
            {
                return Poll::Ready(Some(done));
            }
            if self.woken.take(cx.waker()) {
                return Poll::Ready(None);
            }
            if let Some((_, t)) = timer.as_mut()
                && t.as_mut().poll(cx).is_ready()
            {
                *timer = None;
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await
    }
}
