//! What an attempt's end means for a destination: its slot frees at once, and
//! its record, with those of attempts that ended close to it, is written in
//! one commit: the attempt and the delivery's new state in the log, the
//! hourly counters, a running recovery's progress, and the health ladder's
//! streak; and what it calls for beyond the log: operational events
//! (`delivery.exhausted`, `destination.failing`, `destination.recovered`,
//! sent in the background), or disabling the destination, which the run
//! carries out before it goes on.

use super::attempts::Finished;
use super::state::Destination;
use crate::organization::client::OrganizationClient;
use crate::store::destinations::Mark;
use crate::{config, store};
use edgehook_core::delivery::State;
use edgehook_core::delivery_run::{RetryPolicy, settle};
use edgehook_core::destination_health::{Health, Verdict};
use edgehook_core::error::ApiError;
use edgehook_core::operational::{self, About, Exhausted, Operational};
use worker::Env;
use worker::wasm_bindgen_futures::spawn_local;

/// What recording an attempt asks of the run.
pub(super) struct Recorded {
    /// When the delivery needs the alarm again (its retry, or its purge).
    pub alarm_by: Option<i64>,
    /// The health ladder gave up on the destination: disable it.
    pub disable: Option<Health>,
}

impl Destination {
    /// An attempt ended: its connection is let go, its slot frees, and its
    /// record is owed.
    pub(super) fn ended(&self, done: Finished) {
        if let Some(c) = self.in_flight.borrow_mut().remove(&done.row.seq)
            && !done.attempted.ended
        {
            c.abort();
        }
        self.pipeline.borrow_mut().attempt_ended(config::now_ms());
        self.unrecorded.borrow_mut().push(done);
    }

    /// Writes the records owed, in this turn's commit, and disables the
    /// destination if one of them has the health ladder give up on it.
    pub(super) async fn record_ended(&self) -> Result<(), ApiError> {
        let owed = std::mem::take(&mut *self.unrecorded.borrow_mut());
        let mut disable = None;
        for done in owed {
            let recorded = self.record(done)?;
            self.pipeline.borrow_mut().recorded(recorded.alarm_by);
            disable = disable.or(recorded.disable);
        }
        match disable {
            Some(health) => self.disable_failing(health).await,
            None => Ok(()),
        }
    }

    /// Records an attempt that ended and everything it changes.
    fn record(&self, done: Finished) -> Result<Recorded, ApiError> {
        let Finished {
            row,
            sent_at,
            attempted,
            dual_signed,
            retries,
        } = done;
        let none = Recorded {
            alarm_by: None,
            disable: None,
        };
        // Deleted meanwhile: its log is gone and nothing more is recorded.
        let Some(dest) = self.cached_config() else {
            return Ok(none);
        };
        let settings = config::settings(&self.env)?;
        let policy = RetryPolicy {
            retries: retries as u32,
            schedule: &settings.retry_schedule_seconds,
        };
        let error_class = attempted.outcome.error_class();
        // Only a failed attempt's retry is spread; a success needs no random draw.
        let jitter = match error_class {
            None => 0.5,
            Some(_) => config::random::<4>()
                .map(|b| f64::from(u32::from_le_bytes(b)) / (f64::from(u32::MAX) + 1.0))
                .unwrap_or(0.5),
        };
        let settled = settle(
            row.due(),
            policy,
            &attempted.outcome,
            attempted.answer,
            sent_at,
            attempted.duration_ms,
            jitter,
        );
        let now = config::now_ms();
        let about = About {
            org_id: &dest.org_id,
            destination_id: &dest.id,
            kind: dest.kind,
        };
        let mut events: Vec<Option<Operational>> = vec![];
        let verdict = {
            let log = self.log()?;
            log.record(&row, &settled, dual_signed, now)?;
            if matches!(settled.state, State::Success | State::Failed) {
                log.recovery_settled(row.seq, settled.state == State::Success, now)?;
            }
            let mut health = log.health()?;
            let before = health.clone();
            let ladder = settings.ladder();
            let verdict = match &settled.attempt.error {
                None => health.succeeded(),
                Some(error) => health.failed(now, error, settled.state == State::Failed, ladder),
            };
            if health != before {
                log.put_health(&health)?;
            }
            if settled.state == State::Failed {
                events.push(operational::exhausted(
                    about,
                    Exhausted {
                        delivery_id: &row.id,
                        event_type: &row.event_type,
                        attempts: settled.attempt.attempt_no,
                        last_status_code: settled.attempt.status_code,
                        error_class: error_class.unwrap_or("other"),
                    },
                ));
            }
            match verdict {
                Verdict::Warn { percent } => events.push(operational::failing(
                    about,
                    percent,
                    health.failing_since_ms.unwrap_or(now),
                    ladder.disable_after_ms,
                    health.last_error.as_deref().unwrap_or_default(),
                )),
                Verdict::Recovered => events.push(operational::recovered(about, now, false)),
                Verdict::Disable | Verdict::Nothing => {}
            }
            (verdict == Verdict::Disable).then_some(health)
        };
        for event in events {
            announce(&self.env, &dest.org_id, event);
        }
        if verdict.is_some() {
            // Nothing more is taken while it is being disabled.
            self.mark_inactive();
        }
        Ok(Recorded {
            alarm_by: Some(
                settled
                    .next_attempt_at_ms
                    .unwrap_or(row.created_at + settings.delivery_retention_seconds * 1000),
            ),
            disable: verdict,
        })
    }

    /// Disables a destination the health ladder gave up on: D1 says so (its
    /// reads show `is_active: false`, `disabled_reason: "failing"`), publishing
    /// stores its events as skipped from now on, and the organization's
    /// operational destinations hear `destination.disabled`.
    pub(super) async fn disable_failing(&self, health: Health) -> Result<(), ApiError> {
        let Some(mut dest) = self.config().await? else {
            return Ok(());
        };
        let now = config::now_ms();
        if !store::destinations::mark(&self.env, &dest.org_id, &dest.id, now, Mark::Disabled)
            .await?
        {
            return Ok(());
        }
        dest.is_active = false;
        self.put_config(dest.clone()).await?;
        let orgs = OrganizationClient::new(&self.env, &dest.org_id)?;
        orgs.routes_changed().await;
        let about = About {
            org_id: &dest.org_id,
            destination_id: &dest.id,
            kind: dest.kind,
        };
        orgs.announce(operational::disabled(
            about,
            now,
            health.failing_since_ms.unwrap_or(now),
            health.exhausted,
            health.last_error.as_deref().unwrap_or_default(),
        ))
        .await;
        Ok(())
    }
}

/// Sends an operational event in the background.
pub(super) fn announce(env: &Env, org_id: &str, event: Option<Operational>) {
    if event.is_none() {
        return;
    }
    let (env, org_id) = (env.clone(), org_id.to_string());
    spawn_local(async move {
        match OrganizationClient::new(&env, &org_id) {
            Ok(orgs) => orgs.announce(event).await,
            Err(e) => worker::console_error!(
                "organization {org_id}: no client for an operational event: {e:?}"
            ),
        }
    });
}
