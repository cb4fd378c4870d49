//! Recovering a time range of a destination's deliveries and reading its
//! health: `POST …/recover` (with its dry run), `GET …/recover/{id}`, and
//! `GET …/stats` from the hourly counters. A recovery reopens a batch at a
//! time (`edgehook_log::recovery`); the run takes the next batch whenever
//! the queue runs dry, so a restart resumes it from its stored position.

use super::Recovered;
use super::state::Destination;
use crate::config;
use edgehook_core::error::ApiError;
use edgehook_core::ids::new_id;
use edgehook_core::time::rfc3339_ms;
use edgehook_log::delivery_stats::{HOUR_MS, MAX_RANGE_MS, Stats, hour_of, summarize};
use edgehook_log::recovery::{Progress, RecoverRequest, Recovery};
use std::rc::Rc;

impl Destination {
    /// Starts a recovery (or, for a dry run, counts what it would send). 409
    /// while another one runs.
    pub async fn recover(self: &Rc<Self>, request: RecoverRequest) -> Result<Recovered, ApiError> {
        self.existing().await?;
        let now = config::now_ms();
        let id = new_id(now / 1000, &config::random::<8>()?);
        {
            let log = self.log()?;
            let count = log.recoverable(&request)?;
            if request.dry_run {
                return Ok(Recovered {
                    recovery_id: None,
                    count,
                });
            }
            if let Some(running) = log.running_recovery()? {
                return Err(ApiError::Conflict(format!(
                    "recovery {} of this webhook destination is still running; one recovery runs at a time",
                    running.id
                )));
            }
            let mut r = Recovery {
                id: id.clone(),
                request,
                count,
                done: 0,
                failed: 0,
                reopened: 0,
                position: None,
            };
            log.put_recovery(&r, now)?;
            log.reopen_next(&mut r, now)?;
        }
        let count = self.log()?.recovery(&id)?.map_or(0, |r| r.count);
        self.wake(now).await?;
        Ok(Recovered {
            recovery_id: Some(id),
            count,
        })
    }

    /// Where recovery `id` stands; 404 when the log has no such recovery.
    pub async fn recovery_status(&self, id: &str) -> Result<Progress, ApiError> {
        self.existing().await?;
        self.log()?
            .recovery(id)?
            .map(|r| r.progress())
            .ok_or_else(|| ApiError::NotFound(format!("recovery {id} not found")))
    }

    /// Reopens the running recovery's next batch once the queue ran dry;
    /// whether it reopened any.
    pub(super) fn feed_recovery(&self, now: i64) -> Result<bool, ApiError> {
        let log = self.log()?;
        let Some(mut r) = log.running_recovery()? else {
            return Ok(false);
        };
        Ok(log.reopen_next(&mut r, now)? > 0)
    }

    /// The destination's health over whole hours of `[since_ms, until_ms)`
    /// (defaults: the last 24 h), at most 30 days, from its hourly counters.
    pub async fn stats(
        &self,
        since_ms: Option<i64>,
        until_ms: Option<i64>,
    ) -> Result<Stats, ApiError> {
        self.existing().await?;
        let now = config::now_ms();
        let until = until_ms.map_or(hour_of(now) + HOUR_MS, |u| hour_of(u + HOUR_MS - 1));
        let since = hour_of(since_ms.unwrap_or(until - 24 * HOUR_MS));
        if until <= since || until - since > MAX_RANGE_MS {
            return Err(ApiError::invalid(
                &["query", "since"],
                "The range should be since < until and at most 30 days",
                "value_error",
            ));
        }
        let log = self.log()?;
        let health = log
            .health()?
            .report(config::settings(&self.env)?.ladder(), rfc3339_ms);
        Ok(summarize(
            &log.hours(since, until)?,
            since,
            until,
            health,
            rfc3339_ms,
        ))
    }
}
