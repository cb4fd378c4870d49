//! A destination's delivery pipeline, decided without the runtime: when a
//! delivery run starts, how many attempts it may start now (the window of
//! attempts in flight and the per-second throttle), what it waits for, when it
//! yields to its alarm, and when that alarm must fire.
//!
//! The destination's object holds one [`Pipeline`] and only carries out what
//! it decides (sans-IO, as QUIC and TLS state machines are written): it tells
//! the pipeline what happened ([`Pipeline::wake`], [`Pipeline::alarm_fired`],
//! [`Pipeline::taken`], [`Pipeline::attempt_ended`], [`Pipeline::recorded`])
//! and asks what to do next ([`Pipeline::next`]). Every decision is a pure
//! function of those events and the clock, so it is unit-tested here.
//!
//! A run is a sliding window: it starts an attempt whenever a slot is free
//! and the throttle allows one, so no attempt waits for another's answer
//! beyond the window's size and no batch waits for its slowest member. It
//! stops starting attempts once its wall-time budget is spent, waits for those
//! in flight, and hands what is left to the alarm.
//!
//! An attempt's slot frees the moment it ends, but its record may wait a
//! little: each turn of a Durable Object that writes ends in a commit of its
//! own, and answers arrive one per turn, so records written as each answer
//! arrives cost a commit each. The object keeps the records of attempts that
//! ended and writes them together: with its next write (a take from the queue,
//! or deliveries stored), or at the latest [`RECORD_WITHIN_MS`] after the
//! first of them ended, and always before the run ends. An attempt that ends
//! with no other in flight has nothing to wait for and is recorded at once.
//! A restart meanwhile loses those records, and their deliveries are attempted
//! again once their leases end: the repeat a restart mid-attempt allows in
//! any case.
//!
//! A delivery stored while the queue is known to hold nothing due, and the
//! window and the throttle have room for it, goes straight into the window:
//! the object leases it in the statement that stores it and holds it, and the
//! run starts it without reading it back from the queue
//! ([`Pipeline::straight_in`], [`Pipeline::stored`]). The queue is known to be
//! drained once a take found fewer than it asked for, until a wake, the alarm
//! or a run that gives back what it held says otherwise.
//!
//! The throttle (`max_per_second`) counts an attempt from when it is sent
//! until a second after it ended, and allows a send only while fewer than
//! `max_per_second` are counted. A request reaches the receiver after it was
//! sent and before its attempt ends, so any two arrivals `max_per_second`
//! sends apart are at least a second apart however the network delays each:
//! the receiver never sees more than `max_per_second` within any second of
//! its own clock. (Counting from the send alone would not hold: a first
//! request that waits for a new connection arrives late, and close to the
//! next second's.)

use std::collections::VecDeque;

/// Cloudflare lets one invocation wait on at most this many outgoing
/// connections for their headers; a 7th waits for one of them. A run never
/// asks for more, so an attempt's clock only runs while the receiver has it.
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 6;
/// How long one run may start attempts before it yields to the alarm.
pub const DEFAULT_RUN_BUDGET_SECONDS: i64 = 30;
/// Taking deliveries makes sure the alarm fires within this long, so a restart
/// resumes them; a steady stream writes the alarm about once per this period.
pub const RECOVERY_ALARM_MS: i64 = 30_000;
/// How long after it ended the throttle still counts an attempt.
pub const THROTTLE_WINDOW_MS: i64 = 1_000;
/// How long the record of an attempt that ended may wait to be written with others.
pub const RECORD_WITHIN_MS: i64 = 10;
/// Bounds of a destination's `max_per_second`.
pub const MAX_PER_SECOND_RANGE: (i64, i64) = (1, 1_000);

/// What bounds a run, from the settings and the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Attempts in flight at once (`EDGEHOOK_MAX_IN_FLIGHT`), at least 1.
    pub max_in_flight: u32,
    /// Sends a second to this destination (`max_per_second`), if throttled.
    pub max_per_second: Option<u32>,
    /// Wall time a run starts attempts for (`EDGEHOOK_RUN_BUDGET_SECONDS`).
    pub run_budget_ms: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            max_per_second: None,
            run_budget_ms: DEFAULT_RUN_BUDGET_SECONDS * 1000,
        }
    }
}

/// What the object does next in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Take up to this many due deliveries from the queue and attempt each.
    Take(u32),
    /// Write the records of the attempts that ended, each then [`Pipeline::recorded`].
    Record,
    /// Wait until an attempt ends, a wake arrives, or `until` (if any) passes.
    Wait { until: Option<i64> },
    /// The run is over: carry out its end.
    End(Ended),
}

/// How a run ended, and what its end must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    /// The alarm's run, or one the alarm fired during: purge the log past
    /// retention and set the alarm from the whole queue.
    pub full: bool,
    /// When the alarm must fire for this run's own deliveries (their
    /// retries, or their purge once past retention); only ever moves it earlier.
    pub alarm_by: Option<i64>,
    /// The run spent its budget with deliveries perhaps still due: the alarm
    /// continues it now.
    pub yielded: bool,
}

/// What the alarm firing means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmFired {
    /// No run is in progress: this one is the alarm's.
    StartRun,
    /// The run in progress finishes as the alarm's; until it ends, an alarm
    /// set for this time covers a restart.
    Joined { cover_until: i64 },
}

/// Whether the queue may still hold due deliveries that no run took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Queue {
    /// Not known otherwise (as when the object starts).
    #[default]
    MayHaveDue,
    /// The last take found fewer than it asked for: nothing more was due then,
    /// and only a wake, the alarm or a run given up says otherwise.
    Drained,
}

#[derive(Debug, Clone, PartialEq)]
struct Run {
    started_ms: i64,
    full: bool,
    in_flight: u32,
    alarm_by: Option<i64>,
    /// Attempts that ended and are not recorded yet.
    unrecorded: u32,
    /// When the first of them must be recorded by.
    record_by: Option<i64>,
}

/// One destination's pipeline: the run in progress, if any, what the
/// throttle counts, what is known of the queue and of the alarm.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pipeline {
    run: Option<Run>,
    throttle: Throttle,
    /// When the alarm fires (outer `None`: not read from storage yet).
    alarm: Option<Option<i64>>,
    stopped: bool,
    queue: Queue,
    /// Deliveries stored straight into the window ([`Pipeline::straight_in`]),
    /// held by the object until the run starts them.
    ready: u32,
}

impl Pipeline {
    pub fn new() -> Pipeline {
        Pipeline::default()
    }

    /// Deliveries were stored or reopened, due in the queue. Answers whether
    /// a run must start; otherwise the run in progress takes them before it ends.
    pub fn wake(&mut self, now_ms: i64) -> bool {
        self.stored(now_ms, 0, true)
    }

    /// How many of `n` deliveries stored at `now_ms` go straight into the
    /// window: leased as they are stored, held by the object and started by
    /// the run without reading them back from the queue. Only while the
    /// queue is known to hold nothing due (they would overtake it otherwise),
    /// and only as many as the window's free slots and the throttle allow
    /// beyond those already waiting.
    pub fn straight_in(&mut self, n: u32, now_ms: i64, limits: Limits) -> u32 {
        if self.stopped || self.queue != Queue::Drained {
            return 0;
        }
        let in_flight = self.run.as_ref().map_or(0, |run| run.in_flight);
        let free = limits
            .max_in_flight
            .max(1)
            .saturating_sub(in_flight.saturating_add(self.ready));
        let room = match self.throttle.room(now_ms, limits.max_per_second) {
            Room::Sends(k) => k.saturating_sub(self.ready),
            Room::WaitUntil(_) | Room::WaitForAnEnd => 0,
        };
        n.min(free).min(room)
    }

    /// Deliveries were stored: `ready` of them straight into the window (as
    /// [`Pipeline::straight_in`] allowed) and, if `queued`, others due in the
    /// queue. Answers whether a run must start; otherwise the run in progress
    /// takes them before it ends.
    pub fn stored(&mut self, now_ms: i64, ready: u32, queued: bool) -> bool {
        self.ready = self.ready.saturating_add(ready);
        if queued {
            self.queue = Queue::MayHaveDue;
        }
        if self.run.is_some() {
            return false;
        }
        self.run = Some(Run::new(now_ms, false));
        true
    }

    /// Whether a wake must reach the run in progress at once: it has a free
    /// slot in a window of `max_in_flight`, or owes records, which then share
    /// the commit of what the wake stored. A run whose window is full and
    /// owes nothing takes what was stored when an attempt ends.
    pub fn wants_wake(&self, max_in_flight: u32) -> bool {
        self.run
            .as_ref()
            .is_some_and(|run| run.in_flight < max_in_flight.max(1) || run.unrecorded > 0)
    }

    /// The alarm fired; it is spent.
    pub fn alarm_fired(&mut self, now_ms: i64) -> AlarmFired {
        self.alarm = Some(None);
        self.queue = Queue::MayHaveDue;
        match &mut self.run {
            Some(run) => {
                run.full = true;
                AlarmFired::Joined {
                    cover_until: now_ms + RECOVERY_ALARM_MS,
                }
            }
            None => {
                self.run = Some(Run::new(now_ms, true));
                AlarmFired::StartRun
            }
        }
    }

    /// Whether a run is in progress.
    pub fn running(&self) -> bool {
        self.run.is_some()
    }

    /// What the run in progress does next at `now_ms`. A run that ends here
    /// is over: the next wake or alarm starts another.
    pub fn next(&mut self, now_ms: i64, limits: Limits) -> Step {
        let Some(run) = &mut self.run else {
            return Step::End(Ended {
                full: false,
                alarm_by: None,
                yielded: false,
            });
        };
        if self.stopped {
            self.run = None;
            return Step::End(Ended {
                full: false,
                alarm_by: None,
                yielded: false,
            });
        }
        if run.record_by.is_some_and(|by| now_ms >= by) {
            return Step::Record;
        }
        let budget_ends = run.started_ms + limits.run_budget_ms.max(0);
        let spent = now_ms >= budget_ends;
        let to_start = self.queue == Queue::MayHaveDue || self.ready > 0;
        let mut until = None;
        if !spent && to_start {
            let free = limits.max_in_flight.max(1).saturating_sub(run.in_flight);
            if free > 0 {
                match self.throttle.room(now_ms, limits.max_per_second) {
                    // From a drained queue, only what is held ready: no read.
                    Room::Sends(n) => {
                        return Step::Take(match self.queue {
                            Queue::MayHaveDue => free.min(n),
                            Queue::Drained => free.min(n).min(self.ready),
                        });
                    }
                    Room::WaitUntil(at) => until = Some(at.min(budget_ends)),
                    // Only attempts in flight hold the throttle: one ending wakes the run.
                    Room::WaitForAnEnd => {}
                }
            }
        }
        if run.in_flight > 0 || until.is_some() {
            // The budget's end is a moment to look again: the run yields then.
            if !spent && to_start {
                until = Some(until.map_or(budget_ends, |u: i64| u.min(budget_ends)));
            }
            return Step::Wait {
                until: earliest(until, run.record_by),
            };
        }
        if run.unrecorded > 0 {
            // Nothing left to wait for: a run ends with every attempt recorded.
            return Step::Record;
        }
        let ended = Ended {
            full: run.full,
            alarm_by: run.alarm_by,
            yielded: spent && to_start,
        };
        self.run = None;
        if ended.yielded {
            // What was held ready goes back to the queue, due now.
            self.given_back();
        }
        Step::End(ended)
    }

    /// The object asked for `asked` deliveries (those held ready first, then
    /// the queue's) and got `got`, now each in flight. Fewer than asked
    /// means nothing more is due, nor held.
    pub fn taken(&mut self, asked: u32, got: u32) {
        if let Some(run) = &mut self.run {
            run.in_flight += got;
        }
        if got < asked {
            self.queue = Queue::Drained;
            self.ready = 0;
        } else {
            self.ready = self.ready.saturating_sub(got);
        }
        self.throttle.in_flight += got;
    }

    /// What the object held went back to the queue.
    fn given_back(&mut self) {
        self.queue = Queue::MayHaveDue;
        self.ready = 0;
    }

    /// An attempt ended at `now_ms`: its slot is free, and its record is
    /// owed within [`RECORD_WITHIN_MS`] while other attempts are in flight
    /// (their ends could share its commit), or at once when none is.
    pub fn attempt_ended(&mut self, now_ms: i64) {
        if let Some(run) = &mut self.run {
            run.in_flight = run.in_flight.saturating_sub(1);
            run.unrecorded += 1;
            let wait = if run.in_flight > 0 {
                RECORD_WITHIN_MS
            } else {
                0
            };
            run.record_by = run.record_by.or(Some(now_ms + wait));
        }
        self.throttle.ended(now_ms);
    }

    /// The record of an attempt that ended was written; `alarm_by` is when
    /// its delivery needs the alarm again (its retry, or its purge once past
    /// retention).
    pub fn recorded(&mut self, alarm_by: Option<i64>) {
        if let Some(run) = &mut self.run {
            run.unrecorded = run.unrecorded.saturating_sub(1);
            if run.unrecorded == 0 {
                run.record_by = None;
            }
            run.alarm_by = earliest(run.alarm_by, alarm_by);
        }
    }

    /// The run in progress failed at `now_ms`: it is over, its attempts in
    /// flight are cut off (the throttle counts them as ended now), and the
    /// alarm resumes its deliveries once their leases end.
    pub fn abandon(&mut self, now_ms: i64) {
        self.run = None;
        self.given_back();
        while self.throttle.in_flight > 0 {
            self.throttle.ended(now_ms);
        }
    }

    /// The destination was deleted: no run takes anything again.
    pub fn stop(&mut self) {
        self.stopped = true;
        self.alarm = Some(None);
    }

    /// The destination exists (again): runs may take deliveries.
    pub fn restart(&mut self) {
        self.stopped = false;
        self.given_back();
    }

    /// When the alarm fires, if known (`None` until read from storage).
    pub fn known_alarm(&self) -> Option<Option<i64>> {
        self.alarm
    }

    /// What storage says of the alarm.
    pub fn alarm_read(&mut self, at: Option<i64>) {
        self.alarm = Some(at);
    }

    /// The alarm was set to fire at `at`.
    pub fn alarm_set(&mut self, at: i64) {
        self.alarm = Some(Some(at));
    }

    /// Whether the alarm must be set for it to fire by `at`: only when none
    /// is set or the one set fires later (a sooner alarm's run sets the next).
    /// `None` when the alarm is not known yet: read it first.
    pub fn alarm_needed(&self, at: i64) -> Option<bool> {
        self.alarm.map(|current| current.is_none_or(|t| t > at))
    }
}

impl Run {
    fn new(now_ms: i64, full: bool) -> Run {
        Run {
            started_ms: now_ms,
            full,
            in_flight: 0,
            alarm_by: None,
            unrecorded: 0,
            record_by: None,
        }
    }
}

/// What the throttle counts: attempts in flight, and the end times of those
/// that ended within the last [`THROTTLE_WINDOW_MS`], oldest first. Kept with
/// or without a throttle, so that one set later starts from a true count.
#[derive(Debug, Clone, PartialEq, Default)]
struct Throttle {
    in_flight: u32,
    ended: VecDeque<i64>,
}

enum Room {
    /// This many sends are allowed now.
    Sends(u32),
    /// None until then.
    WaitUntil(i64),
    /// None until an attempt in flight ends.
    WaitForAnEnd,
}

impl Throttle {
    fn ended(&mut self, now_ms: i64) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.ended.push_back(now_ms);
    }

    /// How many sends `per_second` allows at `now_ms`, forgetting attempts
    /// that ended more than a window ago.
    fn room(&mut self, now_ms: i64, per_second: Option<u32>) -> Room {
        while self
            .ended
            .front()
            .is_some_and(|&t| t <= now_ms - THROTTLE_WINDOW_MS)
        {
            self.ended.pop_front();
        }
        let Some(limit) = per_second else {
            return Room::Sends(u32::MAX);
        };
        let limit = limit.max(1) as usize;
        let counted = self.in_flight as usize + self.ended.len();
        if counted < limit {
            return Room::Sends((limit - counted) as u32);
        }
        // The oldest end leaves the window first; if every counted attempt is
        // in flight, the first to end starts its second.
        let must_leave = counted - limit + 1;
        match self.ended.get(must_leave - 1) {
            Some(&t) => Room::WaitUntil(t + THROTTLE_WINDOW_MS),
            None => Room::WaitForAnEnd,
        }
    }
}

/// Extra time beyond what an attempt may take before a delivery whose attempt
/// a restart cut off is due again.
pub const LEASE_GRACE_MS: i64 = 30_000;

/// Deliveries a run took from the queue ahead of a free slot, held in memory
/// until one frees: one statement takes a window's worth, and the next slots
/// are filled from here. Each is leased for two attempts' time: it waits here
/// at most while the attempts in flight end (each within its timeout), then
/// its own attempt runs. One whose lease would end before its attempt could
/// is dropped and taken from the queue again once the lease ends, so no
/// delivery is attempted twice at once.
#[derive(Debug)]
pub struct Ahead<T> {
    held: VecDeque<(T, i64)>,
}

impl<T> Default for Ahead<T> {
    fn default() -> Self {
        Ahead {
            held: VecDeque::new(),
        }
    }
}

impl<T> Ahead<T> {
    /// The lease of deliveries taken at `now_ms` for attempts of at most `timeout_ms`.
    pub fn lease(now_ms: i64, timeout_ms: i64) -> i64 {
        now_ms + 2 * timeout_ms + LEASE_GRACE_MS
    }

    /// How many to ask the queue for when `n` slots are free and these were
    /// not enough: a whole window, or `n` if more.
    pub fn to_take(n: u32, max_in_flight: u32) -> u32 {
        n.max(max_in_flight)
    }

    /// Up to `n` held deliveries whose leases outlast an attempt started at
    /// `now_ms`, oldest first; the others are dropped (the queue has them).
    pub fn take(&mut self, n: u32, now_ms: i64, timeout_ms: i64) -> Vec<T> {
        let mut out = vec![];
        while out.len() < n as usize {
            let Some((item, lease)) = self.held.pop_front() else {
                break;
            };
            if now_ms + timeout_ms < lease {
                out.push(item);
            }
        }
        out
    }

    /// Holds deliveries leased until `lease_ms`.
    pub fn hold(&mut self, items: impl IntoIterator<Item = T>, lease_ms: i64) {
        self.held.extend(items.into_iter().map(|i| (i, lease_ms)));
    }

    /// Every held delivery, to give back to the queue.
    pub fn release(&mut self) -> Vec<T> {
        self.held.drain(..).map(|(i, _)| i).collect()
    }

    pub fn len(&self) -> usize {
        self.held.len()
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

/// The earlier of two optional times.
pub fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_in_flight: 6,
        max_per_second: None,
        run_budget_ms: 30_000,
    };

    fn throttled(per_second: u32) -> Limits {
        Limits {
            max_per_second: Some(per_second),
            ..LIMITS
        }
    }

    const QUIET_END: Step = Step::End(Ended {
        full: false,
        alarm_by: None,
        yielded: false,
    });

    #[test]
    fn defaults_are_cloudflares_limits() {
        let d = Limits::default();
        assert_eq!(
            (d.max_in_flight, d.max_per_second, d.run_budget_ms),
            (6, None, 30_000)
        );
        assert_eq!(THROTTLE_WINDOW_MS, 1_000);
        assert_eq!(MAX_PER_SECOND_RANGE, (1, 1_000));
        assert_eq!(RECOVERY_ALARM_MS, 30_000);
        assert_eq!(RECORD_WITHIN_MS, 10);
    }

    #[test]
    fn a_wake_starts_a_run_unless_one_is_in_progress() {
        let mut p = Pipeline::new();
        assert!(!p.running());
        assert!(p.wake(0));
        assert!(p.running());
        assert!(!p.wake(1), "the run in progress takes it");
        assert!(p.running());
    }

    #[test]
    fn the_window_takes_only_free_slots_and_refills_as_attempts_end() {
        let mut p = Pipeline::new();
        p.wake(0);
        assert_eq!(p.next(0, LIMITS), Step::Take(6));
        p.taken(6, 6);
        assert_eq!(
            p.next(1, LIMITS),
            Step::Wait {
                until: Some(30_000)
            }
        );
        p.attempt_ended(1);
        p.recorded(None);
        assert_eq!(p.next(2, LIMITS), Step::Take(1), "one slot refills at once");
        p.taken(1, 1);
        p.attempt_ended(2);
        p.recorded(None);
        p.attempt_ended(2);
        p.recorded(None);
        assert_eq!(p.next(3, LIMITS), Step::Take(2));
    }

    #[test]
    fn a_window_of_one_and_at_least_one() {
        for max in [0, 1] {
            let mut p = Pipeline::new();
            p.wake(0);
            let limits = Limits {
                max_in_flight: max,
                ..LIMITS
            };
            assert_eq!(p.next(0, limits), Step::Take(1));
            p.taken(1, 1);
            assert_eq!(
                p.next(0, limits),
                Step::Wait {
                    until: Some(30_000)
                }
            );
        }
    }

    #[test]
    fn a_wake_reaches_a_run_only_while_its_window_has_room_or_it_owes_records() {
        let mut p = Pipeline::new();
        assert!(!p.wants_wake(6), "no run");
        assert!(p.wake(0));
        assert!(p.wants_wake(6));
        assert_eq!(p.next(0, LIMITS), Step::Take(6));
        p.taken(6, 5);
        assert!(p.wants_wake(6));
        p.taken(1, 1);
        assert!(!p.wants_wake(6), "six in flight");
        assert!(p.wants_wake(7));
        // Stored meanwhile, with the window full: the next end takes it.
        assert!(!p.wake(1));
        p.attempt_ended(2);
        assert!(p.wants_wake(6));
        assert_eq!(p.next(2, LIMITS), Step::Take(1));
        p.taken(1, 1);
        assert!(p.wants_wake(6), "full again, but it owes a record");
        p.recorded(None);
        assert!(!p.wants_wake(6));
        p.attempt_ended(3);
        p.recorded(None);
        assert!(p.wants_wake(6));
        assert_eq!(p.next(3, LIMITS), Step::Take(1));
        // A window of 0 is read as 1.
        let mut q = Pipeline::new();
        q.wake(0);
        assert!(q.wants_wake(0));
        q.taken(1, 1);
        assert!(!q.wants_wake(0));
    }

    #[test]
    fn a_short_take_drains_the_queue_and_the_run_ends_when_nothing_is_in_flight() {
        let mut p = Pipeline::new();
        p.wake(0);
        assert_eq!(p.next(0, LIMITS), Step::Take(6));
        p.taken(6, 2);
        // Nothing more is due: wait only for the two in flight, with no timer.
        assert_eq!(p.next(1, LIMITS), Step::Wait { until: None });
        p.attempt_ended(2);
        p.recorded(Some(9_000));
        assert_eq!(p.next(2, LIMITS), Step::Wait { until: None });
        p.attempt_ended(3);
        p.recorded(Some(5_000));
        assert_eq!(
            p.next(3, LIMITS),
            Step::End(Ended {
                full: false,
                alarm_by: Some(5_000),
                yielded: false
            })
        );
        assert!(!p.running());
        assert!(p.wake(4), "the next wake starts a new run");
    }

    #[test]
    fn an_empty_queue_ends_a_run_at_once() {
        // `drained` asserts each step.
        assert!(!drained().running());
    }

    #[test]
    fn a_wake_during_a_run_makes_it_look_at_the_queue_again() {
        let mut p = Pipeline::new();
        p.wake(0);
        p.next(0, LIMITS);
        p.taken(6, 1);
        assert_eq!(p.next(0, LIMITS), Step::Wait { until: None });
        assert!(!p.wake(5));
        assert_eq!(p.next(5, LIMITS), Step::Take(5));
    }

    #[test]
    fn the_alarm_starts_a_full_run_or_joins_the_one_in_progress() {
        let mut p = Pipeline::new();
        p.alarm_set(100);
        assert_eq!(p.alarm_fired(100), AlarmFired::StartRun);
        assert_eq!(p.known_alarm(), Some(None), "the alarm is spent");
        assert_eq!(p.next(100, LIMITS), Step::Take(6));
        p.taken(6, 0);
        assert_eq!(
            p.next(100, LIMITS),
            Step::End(Ended {
                full: true,
                alarm_by: None,
                yielded: false
            })
        );

        p.wake(200);
        p.next(200, LIMITS);
        p.taken(6, 0);
        assert_eq!(
            p.alarm_fired(250),
            AlarmFired::Joined {
                cover_until: 250 + RECOVERY_ALARM_MS
            }
        );
        // The joined run looks at the queue again and ends as the alarm's.
        assert_eq!(p.next(251, LIMITS), Step::Take(6));
        p.taken(6, 0);
        assert!(matches!(
            p.next(251, LIMITS),
            Step::End(Ended { full: true, .. })
        ));
    }

    #[test]
    fn a_run_past_its_budget_takes_nothing_more_waits_for_its_attempts_and_yields() {
        let mut p = Pipeline::new();
        p.wake(1_000);
        assert_eq!(p.next(1_000, LIMITS), Step::Take(6));
        p.taken(6, 6);
        assert_eq!(
            p.next(1_001, LIMITS),
            Step::Wait {
                until: Some(31_000)
            }
        );
        p.attempt_ended(1_002);
        p.recorded(None);
        // The budget is spent: the free slot is not refilled.
        assert_eq!(p.next(31_000, LIMITS), Step::Wait { until: None });
        for _ in 0..5 {
            p.attempt_ended(31_400);
            p.recorded(None);
        }
        assert_eq!(
            p.next(31_500, LIMITS),
            Step::End(Ended {
                full: false,
                alarm_by: None,
                yielded: true
            })
        );
    }

    #[test]
    fn a_drained_run_past_its_budget_does_not_yield() {
        let mut p = Pipeline::new();
        p.wake(0);
        p.next(0, LIMITS);
        p.taken(6, 1);
        p.attempt_ended(10);
        p.recorded(None);
        assert_eq!(p.next(40_000, LIMITS), QUIET_END);
    }

    #[test]
    fn a_zero_budget_takes_nothing_and_hands_the_queue_to_the_alarm() {
        let limits = Limits {
            run_budget_ms: 0,
            ..LIMITS
        };
        let mut p = Pipeline::new();
        p.wake(0);
        assert_eq!(
            p.next(0, limits),
            Step::End(Ended {
                full: false,
                alarm_by: None,
                yielded: true
            })
        );
    }

    #[test]
    fn the_throttle_counts_an_attempt_until_a_second_after_it_ended() {
        let mut p = Pipeline::new();
        p.wake(0);
        let limits = throttled(5);
        assert_eq!(p.next(0, limits), Step::Take(5), "window 6, throttle 5");
        p.taken(5, 5);
        // Five in flight: the sixth slot is free but the throttle is not.
        assert_eq!(
            p.next(10, limits),
            Step::Wait {
                until: Some(30_000)
            }
        );
        for end in [200, 300, 300, 400, 500] {
            p.attempt_ended(end);
            p.recorded(None);
        }
        assert_eq!(p.next(600, limits), Step::Wait { until: Some(1_200) });
        assert_eq!(p.next(1_199, limits), Step::Wait { until: Some(1_200) });
        assert_eq!(p.next(1_200, limits), Step::Take(1));
        p.taken(1, 1);
        assert_eq!(p.next(1_200, limits), Step::Wait { until: Some(1_300) });
        assert_eq!(p.next(1_300, limits), Step::Take(2), "two ended at 300");
        p.taken(2, 0);
        // Drained: the throttle keeps nothing waiting but the one in flight.
        assert_eq!(p.next(1_301, limits), Step::Wait { until: None });
        p.attempt_ended(1_350);
        p.recorded(None);
        assert_eq!(p.next(1_400, limits), QUIET_END);
    }

    #[test]
    fn a_throttle_full_of_attempts_in_flight_waits_for_one_to_end() {
        let mut p = Pipeline::new();
        let limits = throttled(2);
        p.wake(0);
        assert_eq!(p.next(0, limits), Step::Take(2));
        p.taken(2, 2);
        assert_eq!(
            p.next(5_000, limits),
            Step::Wait {
                until: Some(30_000)
            }
        );
        p.attempt_ended(5_000);
        p.recorded(None);
        assert_eq!(p.next(5_000, limits), Step::Wait { until: Some(6_000) });
        p.attempt_ended(5_500);
        p.recorded(None);
        assert_eq!(p.next(6_000, limits), Step::Take(1));
    }

    #[test]
    fn a_lowered_throttle_waits_for_enough_attempts_to_leave() {
        let mut p = Pipeline::new();
        p.wake(0);
        assert_eq!(p.next(0, throttled(4)), Step::Take(4));
        p.taken(4, 4);
        for end in [10, 20, 30, 40] {
            p.attempt_ended(end);
            p.recorded(None);
        }
        // Four counted and one allowed: all four must leave, the last at 40.
        assert_eq!(p.next(50, throttled(1)), Step::Wait { until: Some(1_040) });
        assert_eq!(p.next(50, throttled(2)), Step::Wait { until: Some(1_030) });
        assert_eq!(
            p.next(1_039, throttled(1)),
            Step::Wait { until: Some(1_040) }
        );
        assert_eq!(p.next(1_040, throttled(1)), Step::Take(1));
    }

    #[test]
    fn a_throttle_wait_never_passes_the_budget() {
        let mut p = Pipeline::new();
        let limits = Limits {
            run_budget_ms: 500,
            ..throttled(1)
        };
        p.wake(0);
        assert_eq!(p.next(0, limits), Step::Take(1));
        p.taken(1, 1);
        p.attempt_ended(1);
        p.recorded(None);
        assert_eq!(p.next(2, limits), Step::Wait { until: Some(500) });
        assert!(matches!(
            p.next(500, limits),
            Step::End(Ended { yielded: true, .. })
        ));
    }

    #[test]
    fn records_wait_a_little_while_slots_refill_at_once() {
        let mut p = Pipeline::new();
        p.wake(0);
        assert_eq!(p.next(0, LIMITS), Step::Take(6));
        p.taken(6, 6);
        p.attempt_ended(100);
        assert_eq!(
            p.next(100, LIMITS),
            Step::Take(1),
            "the slot refills unrecorded"
        );
        p.taken(1, 1);
        assert_eq!(
            p.next(101, LIMITS),
            Step::Wait {
                until: Some(100 + RECORD_WITHIN_MS)
            },
            "the wait ends when the record is due"
        );
        p.attempt_ended(105);
        assert_eq!(
            p.next(106, LIMITS),
            Step::Take(1),
            "a later end does not put the first record off"
        );
        p.taken(1, 0);
        assert_eq!(
            p.next(109, LIMITS),
            Step::Wait {
                until: Some(100 + RECORD_WITHIN_MS)
            }
        );
        assert_eq!(p.next(100 + RECORD_WITHIN_MS, LIMITS), Step::Record);
        p.recorded(Some(9_000));
        assert_eq!(
            p.next(111, LIMITS),
            Step::Record,
            "due until every owed record is written"
        );
        p.recorded(Some(8_000));
        assert_eq!(p.next(111, LIMITS), Step::Wait { until: None });
        // The next end owes a record from its own end.
        p.attempt_ended(200);
        assert_eq!(
            p.next(200, LIMITS),
            Step::Wait {
                until: Some(200 + RECORD_WITHIN_MS)
            }
        );
    }

    #[test]
    fn an_attempt_that_ends_with_none_other_in_flight_is_recorded_at_once() {
        let mut p = Pipeline::new();
        p.wake(0);
        assert_eq!(p.next(0, LIMITS), Step::Take(6));
        p.taken(6, 1);
        p.wake(3);
        p.attempt_ended(5);
        assert_eq!(p.next(5, LIMITS), Step::Record, "before the next take");
        p.recorded(None);
        assert_eq!(p.next(5, LIMITS), Step::Take(6));
        p.taken(6, 2);
        p.attempt_ended(8);
        assert_eq!(
            p.next(8, LIMITS),
            Step::Wait {
                until: Some(8 + RECORD_WITHIN_MS)
            },
            "one other in flight: it may end soon"
        );
    }

    #[test]
    fn a_run_ends_only_once_every_attempt_is_recorded() {
        let mut p = Pipeline::new();
        p.wake(0);
        assert_eq!(p.next(0, LIMITS), Step::Take(6));
        p.taken(6, 2);
        p.attempt_ended(3);
        p.attempt_ended(4);
        assert_eq!(p.next(5, LIMITS), Step::Record, "nothing left but records");
        p.recorded(Some(7_000));
        assert_eq!(p.next(5, LIMITS), Step::Record);
        p.recorded(Some(6_000));
        assert_eq!(
            p.next(5, LIMITS),
            Step::End(Ended {
                full: false,
                alarm_by: Some(6_000),
                yielded: false,
            }),
            "the records' retries reach the run's end"
        );
    }

    #[test]
    fn a_record_made_before_it_is_due_clears_the_wait_for_it() {
        let mut p = Pipeline::new();
        p.wake(0);
        p.next(0, LIMITS);
        p.taken(6, 6);
        p.attempt_ended(50);
        p.recorded(None);
        assert_eq!(
            p.next(50 + RECORD_WITHIN_MS, LIMITS),
            Step::Take(1),
            "nothing is owed"
        );
        p.taken(1, 0);
        assert_eq!(p.next(70, LIMITS), Step::Wait { until: None });
    }

    #[test]
    fn throttled_attempts_are_counted_across_runs() {
        let limits = throttled(3);
        let mut q = Pipeline::new();
        q.wake(0);
        q.next(0, limits);
        q.taken(3, 3);
        for _ in 0..3 {
            q.attempt_ended(50);
            q.recorded(None);
        }
        q.taken(3, 0);
        assert_eq!(q.next(60, limits), QUIET_END);
        // A new run 100 ms later still counts the three.
        q.wake(100);
        assert_eq!(q.next(100, limits), Step::Wait { until: Some(1_050) });
    }

    #[test]
    fn ends_older_than_the_window_are_forgotten_without_a_throttle() {
        let mut p = Pipeline::new();
        p.wake(0);
        p.next(0, LIMITS);
        p.taken(6, 6);
        for _ in 0..6 {
            p.attempt_ended(10);
            p.recorded(None);
        }
        assert_eq!(p.throttle.ended.len(), 6);
        assert_eq!(p.next(1_010, LIMITS), Step::Take(6));
        assert!(p.throttle.ended.is_empty(), "{:?}", p.throttle);
        // A throttle set later counts what is in flight.
        p.taken(6, 6);
        assert_eq!(p.throttle.in_flight, 6);
    }

    #[test]
    fn retries_of_a_run_move_the_alarm_to_the_earliest() {
        let mut p = Pipeline::new();
        p.wake(0);
        p.next(0, LIMITS);
        p.taken(6, 3);
        p.attempt_ended(1);
        p.recorded(Some(7_000));
        p.attempt_ended(2);
        p.recorded(None);
        p.attempt_ended(3);
        p.recorded(Some(6_000));
        assert_eq!(
            p.next(10, LIMITS),
            Step::End(Ended {
                full: false,
                alarm_by: Some(6_000),
                yielded: false
            })
        );
    }

    #[test]
    fn an_abandoned_run_lets_the_next_wake_start_one() {
        let mut p = Pipeline::new();
        p.wake(0);
        p.next(0, throttled(6));
        p.taken(6, 6);
        p.abandon(40);
        assert!(!p.running());
        assert_eq!(p.throttle.in_flight, 0);
        assert_eq!(
            p.throttle.ended, [40; 6],
            "cut off attempts count as ended then"
        );
        assert!(p.wake(41));
        assert_eq!(
            p.next(41, LIMITS),
            Step::Take(6),
            "nothing is left in flight"
        );
        assert_eq!(p.next(41, throttled(6)), Step::Wait { until: Some(1_040) });
    }

    #[test]
    fn a_stopped_pipeline_ends_its_run_and_takes_nothing() {
        let mut p = Pipeline::new();
        p.alarm_set(50);
        p.wake(0);
        p.next(0, LIMITS);
        p.taken(6, 6);
        p.stop();
        assert_eq!(p.known_alarm(), Some(None), "delete removes the alarm");
        assert_eq!(p.next(1, LIMITS), QUIET_END);
        assert!(p.wake(2));
        assert_eq!(p.next(2, LIMITS), QUIET_END);
        p.restart();
        assert!(p.wake(3));
        assert_eq!(p.next(3, LIMITS), Step::Take(6));
    }

    #[test]
    fn events_without_a_run_change_no_run() {
        let mut p = Pipeline::new();
        p.attempt_ended(0);
        p.recorded(Some(5));
        p.taken(3, 1);
        assert!(!p.running());
        assert_eq!(p.next(0, LIMITS), QUIET_END);
    }

    #[test]
    fn the_alarm_is_set_only_when_it_would_fire_later_or_not_at_all() {
        let mut p = Pipeline::new();
        assert_eq!(p.alarm_needed(10), None, "read it first");
        p.alarm_read(None);
        assert_eq!(p.alarm_needed(10), Some(true));
        p.alarm_set(10);
        assert_eq!(p.known_alarm(), Some(Some(10)));
        assert_eq!(p.alarm_needed(10), Some(false));
        assert_eq!(p.alarm_needed(11), Some(false));
        assert_eq!(p.alarm_needed(9), Some(true));
        p.alarm_read(Some(3));
        assert_eq!(p.alarm_needed(4), Some(false));
    }

    #[test]
    fn earliest_of_two_times() {
        assert_eq!(earliest(Some(3), Some(2)), Some(2));
        assert_eq!(earliest(Some(3), None), Some(3));
        assert_eq!(earliest(None, Some(4)), Some(4));
        assert_eq!(earliest(None, None), None);
    }

    #[test]
    fn deliveries_taken_ahead_start_in_order_while_their_lease_outlasts_an_attempt() {
        let timeout = 10_000;
        assert_eq!(
            Ahead::<i64>::lease(1_000, timeout),
            1_000 + 20_000 + LEASE_GRACE_MS
        );
        assert_eq!(Ahead::<i64>::to_take(1, 6), 6);
        assert_eq!(Ahead::<i64>::to_take(8, 6), 8);
        let mut ahead = Ahead::default();
        assert!(ahead.is_empty());
        let lease = Ahead::<i64>::lease(0, timeout);
        ahead.hold([1, 2, 3], lease);
        ahead.hold([4], lease + 5);
        assert_eq!(ahead.len(), 4);
        assert!(!ahead.is_empty());
        assert_eq!(ahead.take(2, 0, timeout), [1, 2]);
        assert_eq!(ahead.len(), 2);
        // The last instant an attempt still ends within the lease.
        assert_eq!(ahead.take(1, lease - timeout - 1, timeout), [3]);
        // One whose attempt would outlast its lease is dropped, not started.
        let mut late = Ahead::default();
        late.hold([7, 8], lease);
        late.hold([9], lease + 1);
        assert_eq!(late.take(3, lease - timeout, timeout), [9]);
        assert!(late.is_empty());
        assert_eq!(ahead.take(0, 0, timeout), Vec::<i64>::new());
        assert_eq!(ahead.release(), [4]);
        assert!(ahead.is_empty());
        assert_eq!(ahead.take(1, 0, timeout), Vec::<i64>::new());
    }

    /// A pipeline whose last run found the queue empty and ended.
    fn drained() -> Pipeline {
        let mut p = Pipeline::new();
        p.wake(0);
        assert_eq!(p.next(0, LIMITS), Step::Take(6));
        p.taken(6, 0);
        assert_eq!(p.next(0, LIMITS), QUIET_END);
        p
    }

    #[test]
    fn deliveries_go_straight_into_the_window_only_once_the_queue_is_known_drained() {
        let mut fresh = Pipeline::new();
        assert_eq!(
            fresh.straight_in(3, 0, LIMITS),
            0,
            "what the queue holds is not known"
        );
        let mut p = drained();
        assert_eq!(p.straight_in(3, 1, LIMITS), 3);
        assert_eq!(p.straight_in(10, 1, LIMITS), 6, "a window's worth");
        assert_eq!(p.straight_in(0, 1, LIMITS), 0);
        // Deciding stores nothing: only `stored` counts them.
        assert_eq!(p.straight_in(10, 1, LIMITS), 6);
        assert!(p.stored(1, 2, false), "a run starts for them");
        assert_eq!(p.straight_in(10, 1, LIMITS), 4, "two wait already");
        // The run starts those two, and reads nothing from the queue.
        assert_eq!(p.next(1, LIMITS), Step::Take(2));
        p.taken(2, 2);
        assert_eq!(p.straight_in(10, 1, LIMITS), 4, "two in flight");
        assert_eq!(p.next(1, LIMITS), Step::Wait { until: None });
        // More stored straight in while it runs: it takes just those.
        assert!(!p.stored(2, 3, false));
        assert!(p.wants_wake(6));
        assert_eq!(p.straight_in(10, 2, LIMITS), 1);
        assert_eq!(p.next(2, LIMITS), Step::Take(3));
        p.taken(3, 3);
        assert_eq!(p.next(2, LIMITS), Step::Wait { until: None });
        for t in 3..8 {
            p.attempt_ended(t);
            p.recorded(None);
        }
        assert_eq!(p.next(8, LIMITS), QUIET_END);
        assert_eq!(p.straight_in(10, 9, LIMITS), 6, "still drained");
        // With a window of 0 read as 1.
        let one = Limits {
            max_in_flight: 0,
            ..LIMITS
        };
        assert_eq!(p.straight_in(10, 9, one), 1);
    }

    #[test]
    fn deliveries_stored_in_the_queue_have_the_run_read_it_again() {
        let mut p = drained();
        // Some went straight in, the rest had no slot: queued.
        assert!(p.stored(1, 6, true));
        assert_eq!(p.straight_in(1, 1, LIMITS), 0, "the queue holds some now");
        assert_eq!(p.next(1, LIMITS), Step::Take(6));
        p.taken(6, 6);
        p.attempt_ended(2);
        p.recorded(None);
        assert_eq!(p.next(2, LIMITS), Step::Take(1), "the queue may hold more");
        p.taken(1, 0);
        assert_eq!(p.straight_in(1, 2, LIMITS), 1, "drained again");
    }

    #[test]
    fn what_is_held_ready_is_given_back_when_a_run_yields_fails_or_the_destination_returns() {
        // The budget ran out with deliveries held ready: the run yields, and
        // they go back to the queue (nothing is known drained any more).
        let mut p = drained();
        p.stored(0, 2, false);
        let spent = Limits {
            run_budget_ms: 0,
            ..LIMITS
        };
        assert_eq!(
            p.next(0, spent),
            Step::End(Ended {
                full: false,
                alarm_by: None,
                yielded: true
            })
        );
        assert_eq!(p.straight_in(1, 0, LIMITS), 0);
        assert!(p.wake(1));
        assert_eq!(p.next(1, LIMITS), Step::Take(6), "none is counted held");

        let mut failed = drained();
        failed.stored(0, 2, false);
        failed.abandon(1);
        assert_eq!(failed.straight_in(1, 1, LIMITS), 0);
        assert!(failed.wake(2));
        assert_eq!(failed.next(2, LIMITS), Step::Take(6));

        let mut deleted = drained();
        deleted.stored(0, 2, false);
        deleted.stop();
        assert_eq!(
            deleted.straight_in(1, 0, LIMITS),
            0,
            "a deleted one takes nothing"
        );
        deleted.restart();
        assert_eq!(deleted.straight_in(1, 0, LIMITS), 0);
        deleted.wake(1);
        assert_eq!(deleted.next(1, LIMITS), Step::Take(6));
    }

    #[test]
    fn a_wake_or_the_alarm_ends_what_is_known_of_the_queue() {
        let mut p = drained();
        assert!(p.wake(1));
        assert_eq!(p.straight_in(1, 1, LIMITS), 0);
        let mut q = drained();
        assert_eq!(q.alarm_fired(1), AlarmFired::StartRun);
        assert_eq!(q.straight_in(1, 1, LIMITS), 0, "retries may be due");
        assert_eq!(q.next(1, LIMITS), Step::Take(6));
    }

    #[test]
    fn fewer_taken_than_held_ready_means_none_is_held() {
        // A held delivery whose lease ran short was dropped: the queue has it.
        let mut p = drained();
        p.stored(0, 3, false);
        assert_eq!(p.next(0, LIMITS), Step::Take(3));
        p.taken(3, 2);
        assert_eq!(p.next(0, LIMITS), Step::Wait { until: None });
        assert_eq!(p.straight_in(10, 0, LIMITS), 4);
    }

    #[test]
    fn the_throttle_bounds_what_goes_straight_in() {
        let mut p = drained();
        assert_eq!(p.straight_in(10, 0, throttled(2)), 2);
        p.stored(0, 1, false);
        assert_eq!(p.straight_in(10, 0, throttled(2)), 1, "one is held for it");
        assert_eq!(p.next(0, throttled(2)), Step::Take(1));
        p.taken(1, 1);
        p.attempt_ended(10);
        p.recorded(None);
        assert_eq!(
            p.straight_in(10, 10, throttled(1)),
            0,
            "a second after its end"
        );
        p.stored(10, 1, false);
        assert_eq!(p.straight_in(10, 10, throttled(2)), 0);
        assert_eq!(p.straight_in(10, 1_010, throttled(2)), 1);
    }
}
