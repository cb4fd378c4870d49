//! Taking deliveries and the delivery run, carried out as the destination's
//! [`Pipeline`](edgehook_core::pipeline::Pipeline) decides.
//!
//! A delivery is attempted as soon as it is stored: taking it wakes the
//! pipeline, which starts a run or hands it to the run in progress. While the
//! queue is known to hold nothing due and the window has room, it goes
//! straight in: leased in the statement that stores it and started from
//! memory, with no read of the queue. A run is
//! a sliding window: it takes due deliveries from the queue (leasing each for
//! its attempt, so a restart mid-attempt retries it after the lease) only
//! when a slot is free and the throttle allows, starts each attempt at once,
//! and refills an attempt's slot the moment it ends. The records of attempts
//! that ended are written together, in the commit of the run's next write (a
//! take from the queue, or deliveries stored) or within
//! [`RECORD_WITHIN_MS`](edgehook_core::pipeline::RECORD_WITHIN_MS) of the
//! first, rather than a commit each. It stops taking after its budget, waits
//! for the attempts in flight, records them, and ends; what is left goes to
//! the alarm, the safety net and clock that resumes, retries and purges.

use super::attempts::Attempts;
use super::log::DueRow;
use super::state::Destination;
use super::{Enqueued, NewDelivery};
use crate::config;
use crate::http::internal;
use edgehook_core::delivery::DeliveryView;
use edgehook_core::error::ApiError;
use edgehook_core::pipeline::{Ahead, AlarmFired, Ended, RECOVERY_ALARM_MS, Step};
use futures_util::stream::FuturesUnordered;
use std::rc::Rc;
use worker::wasm_bindgen_futures::spawn_local;

/// How many expired deliveries one full run purges; more wait for the next.
const PURGE_BATCH: i64 = 1_000;

impl Destination {
    /// Stores deliveries, in order, and starts attempting them at once (one
    /// wake for all): those the pipeline lets go straight into the window are
    /// leased as they are stored and held for the run, the others queued;
    /// while the destination is paused or disabled, keeps them as `skipped`
    /// instead.
    pub async fn enqueue(
        self: &Rc<Self>,
        deliveries: &[NewDelivery],
    ) -> Result<Vec<Enqueued>, ApiError> {
        let Some(dest) = self.config().await? else {
            return Ok(vec![Enqueued::Gone; deliveries.len()]);
        };
        if !dest.is_active {
            self.log()?
                .insert(deliveries, config::now_ms(), true, 0, 0)?;
            return Ok(vec![Enqueued::Skipped; deliveries.len()]);
        }
        let limits = self.limits().await?;
        let now = config::now_ms();
        self.alarm_by(Some(now + RECOVERY_ALARM_MS)).await?;
        // Nothing is awaited from here on: what the pipeline allows is what
        // is stored, held and counted.
        let n = u32::try_from(deliveries.len()).unwrap_or(u32::MAX);
        let straight = self.pipeline.borrow_mut().straight_in(n, now, limits);
        let lease = Ahead::<DueRow>::lease(now, dest.timeout_seconds * 1000);
        let ready = self
            .log()?
            .insert(deliveries, now, false, straight as usize, lease)?;
        let held = ready.len() as u32;
        self.ahead.borrow_mut().hold(ready, lease);
        self.stored(now, held, straight < n)?;
        Ok(vec![Enqueued::Stored; deliveries.len()])
    }

    /// Puts a failed delivery back in the queue with a fresh retry budget.
    pub async fn retry(self: &Rc<Self>, delivery_id: &str) -> Result<DeliveryView, ApiError> {
        self.existing().await?;
        let now = config::now_ms();
        self.log()?.reopen_failed(delivery_id, now)?;
        self.wake(now).await?;
        self.log()?
            .get(delivery_id)?
            .ok_or_else(|| internal("a reopened delivery vanished"))
    }

    /// The alarm: starts the alarm's run (purge, every due delivery, the next
    /// alarm from the whole queue), or has the run in progress finish as it.
    /// An error leaves the queue as it was and goes back to the platform,
    /// which runs the alarm again.
    pub async fn alarm(&self) -> Result<(), ApiError> {
        let fired = self.pipeline.borrow_mut().alarm_fired(config::now_ms());
        match fired {
            AlarmFired::StartRun => self.run().await,
            AlarmFired::Joined { cover_until } => self.set_alarm(cover_until).await,
        }
    }

    /// Makes sure what is queued now is attempted: starts a run, or tells the
    /// run in progress (at once if its window has room or it owes records,
    /// which then share this commit; otherwise it takes what was stored when
    /// an attempt ends), and makes sure the alarm would resume it after a
    /// restart.
    pub(super) async fn wake(self: &Rc<Self>, now: i64) -> Result<(), ApiError> {
        self.alarm_by(Some(now + RECOVERY_ALARM_MS)).await?;
        self.stored(now, 0, true)
    }

    /// [`Self::wake`] once the alarm is seen to: `ready` deliveries were
    /// stored straight into the window and, if `queued`, others in the queue.
    fn stored(self: &Rc<Self>, now: i64, ready: u32, queued: bool) -> Result<(), ApiError> {
        if self.pipeline.borrow_mut().stored(now, ready, queued) {
            let me = Rc::clone(self);
            spawn_local(async move {
                if let Err(e) = me.run().await {
                    worker::console_error!("delivery run failed; the alarm resumes it: {e:?}");
                }
            });
        } else if self
            .pipeline
            .borrow()
            .wants_wake(config::settings(&self.env)?.max_in_flight)
        {
            self.woken.raise();
        }
        Ok(())
    }

    /// One delivery run, started by the pipeline. However it ends, the
    /// pipeline's run is over: a failed run is abandoned (its attempts in
    /// flight are cut off and retried after their leases).
    async fn run(&self) -> Result<(), ApiError> {
        let mut attempts: Attempts<'_> = FuturesUnordered::new();
        let driven = self.drive(&mut attempts).await;
        // Owed only by a run that failed, or ended as its destination was
        // deleted: their leases end, and the alarm attempts them again.
        let lost = std::mem::take(&mut *self.unrecorded.borrow_mut()).len();
        match driven {
            Ok(ended) => self.finish(ended).await,
            Err(e) => {
                let now = config::now_ms();
                self.pipeline.borrow_mut().abandon(now);
                if lost > 0 {
                    worker::console_error!(
                        "delivery run: {lost} ended attempts not recorded; attempted again after their leases"
                    );
                }
                if let Err(release) = self.release_ahead(now) {
                    // Their leases end, and the queue has them again then.
                    worker::console_error!(
                        "delivery run: deliveries taken ahead not given back: {release:?}"
                    );
                }
                for (_, attempt) in self.in_flight.borrow_mut().drain() {
                    attempt.abort();
                }
                Err(e)
            }
        }
    }

    /// Carries out the pipeline's steps until it ends the run.
    async fn drive<'a>(&'a self, attempts: &mut Attempts<'a>) -> Result<Ended, ApiError> {
        let mut timer = None;
        loop {
            let limits = self.limits().await?;
            let now = config::now_ms();
            let step = self.pipeline.borrow_mut().next(now, limits);
            match step {
                Step::Take(n) => {
                    if self.ahead.borrow().len() < n as usize {
                        // Taking from the queue writes: the owed records share its commit.
                        self.record_ended().await?;
                    }
                    let started = self.start(n, now, limits.max_in_flight).await?;
                    self.pipeline.borrow_mut().taken(n, started.len() as u32);
                    attempts.extend(started);
                }
                Step::Record => self.record_ended().await?,
                Step::Wait { until } => {
                    match self.next_event(attempts, &mut timer, until, now).await {
                        Some(done) => self.ended(done),
                        // Woken as deliveries were stored, or at a moment the
                        // pipeline named: owed records share this turn's commit.
                        None => self.record_ended().await?,
                    }
                }
                Step::End(ended) => return Ok(ended),
            }
        }
    }

    /// A run's end: the alarm's run purges and sets the alarm from the whole
    /// queue; any other only moves it earlier for its own follow-ups; a run
    /// that yielded has the alarm continue it now.
    async fn finish(&self, ended: Ended) -> Result<(), ApiError> {
        if self.is_deleted() {
            return Ok(());
        }
        let now = config::now_ms();
        // What the run took ahead and did not start (it yielded): due now.
        self.release_ahead(now)?;
        if ended.yielded {
            worker::console_log!(
                "delivery run yielded: destination {} spent its run budget with deliveries due; its alarm continues",
                self.config().await?.map(|c| c.id).unwrap_or_default()
            );
            self.alarm_by(Some(now)).await?;
        }
        if ended.full {
            self.purge_expired()?;
            self.set_next_alarm().await
        } else {
            self.alarm_by(ended.alarm_by).await
        }
    }

    fn purge_expired(&self) -> Result<(), ApiError> {
        let settings = config::settings(&self.env)?;
        let now = config::now_ms();
        self.log()?.purge(
            now - settings.delivery_retention_seconds * 1000,
            now,
            PURGE_BATCH,
        )?;
        Ok(())
    }

    /// Has the alarm fire by the earliest of: the next due delivery (unless
    /// paused) and the moment the oldest finished delivery passes retention.
    async fn set_next_alarm(&self) -> Result<(), ApiError> {
        let Some(dest) = self.config().await? else {
            return Ok(());
        };
        let settings = config::settings(&self.env)?;
        let next = {
            let log = self.log()?;
            let due = if dest.is_active {
                log.next_due()?
            } else {
                None
            };
            let expiry = log
                .oldest_finished()?
                .map(|t| t + settings.delivery_retention_seconds * 1000);
            edgehook_core::pipeline::earliest(due, expiry)
        };
        self.alarm_by(next).await
    }
}
