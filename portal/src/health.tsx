// A destination's health on its page: its state in plain words (active,
// paused by its owner, disabled by edgehook because it kept failing), a chart
// of its deliveries per hour by state with success rate and latency for a
// chosen range (inline SVG), and "Recover since…", which counts first (a dry
// run), then sends again and follows the recovery until it is done.

import { useEffect, useRef, useState } from "preact/hooks";
import {
  ApiError, type Destination, type DestinationHealth, type DestinationStats, type Kind, type RecoveryProgress,
} from "./api";
import {
  CHART_STATES, formatLatency, formatRate, formatSpan, HOUR_MS, hourlySeries, niceMax, stackedBars, ticks,
} from "./chart";
import { localToIso } from "./deliveries";
import { PERM } from "./session";
import {
  announce, ChangeButton, clearNotice, Field, fieldError, formatTime, pluralize, Time, usePortal,
} from "./ui";

// --- state ----------------------------------------------------------------------------------

/** Active, paused by its owner, or disabled by edgehook because it kept failing. */
export function destinationState(d: Pick<Destination, "is_active" | "disabled_reason">): "active" | "paused" | "disabled" {
  if (d.is_active) return "active";
  return d.disabled_reason ? "disabled" : "paused";
}

const BADGE = {
  active: ["badge-ok", "Active"],
  paused: ["badge-paused", "Paused"],
  disabled: ["badge-failed", "Disabled: failing"],
} as const;

export function ActiveBadge({ dest }: { dest: Pick<Destination, "is_active" | "disabled_reason"> }) {
  const [css, words] = BADGE[destinationState(dest)];
  return <span class={`badge ${css}`}>{words}</span>;
}

/**
 * The destination's failing streak (its last warning, since when, when it is
 * disabled), as its stats answer it; `undefined` while it loads, `null` when
 * it cannot be read (without the permission to read deliveries).
 */
function useStreak(dest: Destination, kind: Kind): DestinationHealth | null | undefined {
  const { api, session } = usePortal();
  const [streak, setStreak] = useState<DestinationHealth | null | undefined>(undefined);
  useEffect(() => {
    setStreak(undefined);
    if (!session.perms.includes(PERM.deliveries)) {
      setStreak(null);
      return;
    }
    let live = true;
    api.stats(dest.id, new Date(Date.now() - HOUR_MS).toISOString(), kind)
      .then((s) => live && setStreak(s.health), () => live && setStreak(null));
    return () => {
      live = false;
    };
  }, [dest.id, dest.is_active, dest.disabled_at]);
  return streak;
}

function Warning({ streak }: { streak: DestinationHealth | null | undefined }) {
  if (streak === undefined) return <>…</>;
  if (streak === null) return <>Not known here.</>;
  if (streak.last_warning_percent === null) {
    return streak.failing_since
      ? <>None yet: failing since <Time iso={streak.failing_since} />; the first warning goes out at 50 % of the time
        before disabling.</>
      : <>None: it is not failing.</>;
  }
  return (
    <span data-testid="last-warning">
      {streak.last_warning_percent} % of the time before disabling, sent <Time iso={streak.last_warning_at} />
      {streak.failing_since && <>; failing since <Time iso={streak.failing_since} /></>}
      {streak.last_error && <>; last error “{streak.last_error}”</>}
      {streak.disable_at && <>; disabled at <Time iso={streak.disable_at} /> unless a delivery succeeds first</>}.
    </span>
  );
}

export function HealthPanel({ dest, kind }: { dest: Destination; kind: Kind }) {
  const state = destinationState(dest);
  const streak = useStreak(dest, kind);
  const since = streak?.failing_since ?? null;
  const span = since && dest.disabled_at ? formatSpan(Date.parse(dest.disabled_at) - Date.parse(since)) : null;
  return (
    <section class={`panel health health-${state}`} aria-labelledby="health-title">
      <h2 id="health-title">Health</h2>
      <p class="health-state"><ActiveBadge dest={dest} />{" "}
        {state === "active" && "Events are delivered as they are published."}
        {state === "paused" && "Paused by you: new events are kept as skipped and are not sent."}
        {state === "disabled" && (span
          ? <>Disabled by edgehook after failing for {span}: its deliveries only failed, with none delivered, since
            {" "}<Time iso={since} />. New events are kept as skipped.</>
          : <>Disabled by edgehook after failing: its deliveries only failed, with none delivered, for as long as
            edgehook allows (5 days unless the service is set otherwise). New events are kept as skipped.</>
        )}
      </p>
      {state !== "active" && (
        <p class="hint">
          {state === "disabled" ? "Fix the receiver, re-enable the destination, " : "Resume it, "}
          then recover what it missed: skipped events are never sent on their own.
        </p>
      )}
      <dl class="facts">
        <div><dt>Disabled reason</dt><dd>{
          state === "paused" ? "none: paused by you" : state === "active" ? "none"
            : dest.disabled_reason === "failing" ? "failing: its deliveries kept failing" : dest.disabled_reason
        }</dd></div>
        <div><dt>Disabled at</dt><dd><Time iso={dest.disabled_at} /></dd></div>
        <div class="wide"><dt>Last warning</dt><dd><Warning streak={streak} /></dd></div>
      </dl>
    </section>
  );
}

// --- deliveries per hour --------------------------------------------------------------------

const RANGES = [
  { value: "24", label: "Last 24 hours" },
  { value: "168", label: "Last 7 days" },
  { value: "720", label: "Last 30 days" },
];

const CHART_LABELS: Record<string, string> = {
  success: "Delivered",
  failed: "Failed",
  retrying: "Retrying",
  pending: "Pending",
  skipped: "Skipped",
};

const W = 720;
const H = 200;

const hourFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });

function hourLabel(ms: number): string {
  return hourFormat.format(ms);
}

function Chart({ stats }: { stats: DestinationStats }) {
  const hours = hourlySeries(stats);
  const top = niceMax(Math.max(0, ...hours.map((h) => h.total)));
  const bars = stackedBars(hours, W, H, top);
  const grid = ticks(top);
  const counts = stats.deliveries;
  const summary = CHART_STATES.filter((s) => counts[s] > 0)
    .map((s) => `${counts[s]} ${CHART_LABELS[s].toLowerCase()}`).join(", ") || "no deliveries";
  const first = hours[0]?.start;
  const last = hours[hours.length - 1]?.start;
  return (
    <figure class="chart">
      <div class="chart-body">
        <div class="chart-y" aria-hidden="true">
          {[...grid].reverse().map((v) => <span key={v}>{v}</span>)}
        </div>
        <svg class="chart-svg" viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img"
          aria-labelledby="chart-title chart-desc" data-hours={hours.length} data-max={top}>
          <title id="chart-title">Deliveries per hour by state</title>
          <desc id="chart-desc">
            {`${hours.length} hours from ${first !== undefined ? hourLabel(first) : "—"} to ${last !== undefined ? hourLabel(last + HOUR_MS) : "—"}: ${summary}. Scale 0 to ${top}.`}
          </desc>
          {grid.map((v) => (
            <line key={v} class="chart-grid" x1={0} x2={W} y1={H - (v / top) * H} y2={H - (v / top) * H}
              vector-effect="non-scaling-stroke" />
          ))}
          {bars.map((b) => (
            <rect key={`${b.index}-${b.state}`} class={`bar bar-${b.state}`} x={b.x} y={b.y} width={b.width}
              height={b.height} data-state={b.state} data-count={b.count}>
              <title>{`${hourLabel(hours[b.index].start)}: ${b.count} ${CHART_LABELS[b.state].toLowerCase()}`}</title>
            </rect>
          ))}
        </svg>
      </div>
      <div class="chart-x" aria-hidden="true">
        <span>{first !== undefined ? hourLabel(first) : ""}</span>
        <span>{last !== undefined ? hourLabel(last + HOUR_MS) : ""}</span>
      </div>
      <figcaption>
        <ul class="legend" aria-label="Deliveries by state in the range">
          {CHART_STATES.map((s) => (
            <li key={s} data-state={s}><span class={`swatch bar-${s}`} aria-hidden="true" />{CHART_LABELS[s]}: {counts[s]}</li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
}

function HourTable({ stats }: { stats: DestinationStats }) {
  if (!stats.series.length) return null;
  return (
    <details>
      <summary>Deliveries per hour as a table</summary>
      <table class="table hours">
        <caption>Hours that had deliveries, oldest first</caption>
        <thead>
          <tr>
            <th scope="col">Hour</th>
            {CHART_STATES.map((s) => <th scope="col" key={s}>{CHART_LABELS[s]}</th>)}
            <th scope="col">Success rate</th>
          </tr>
        </thead>
        <tbody>
          {stats.series.map((h) => (
            <tr key={h.hour}>
              <th scope="row"><time dateTime={h.hour}>{formatTime(h.hour)}</time></th>
              {CHART_STATES.map((s) => <td key={s}>{h.deliveries[s] ?? 0}</td>)}
              <td>{formatRate(h.success_rate)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}

export function StatsPanel({ destinationId, kind, version }: {
  destinationId: string; kind: Kind; version: number;
}) {
  const { api, session } = usePortal();
  const [range, setRange] = useState(RANGES[0].value);
  const [stats, setStats] = useState<DestinationStats | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const request = useRef(0);
  const allowed = session.perms.includes(PERM.deliveries);

  async function load(hours: string) {
    const serial = ++request.current;
    setLoading(true);
    setError(null);
    try {
      const since = new Date(Date.now() - Number(hours) * HOUR_MS).toISOString();
      const result = await api.stats(destinationId, since, kind);
      if (serial === request.current) setStats(result);
    } catch (err) {
      if (serial === request.current) setError((err as Error).message);
    } finally {
      if (serial === request.current) setLoading(false);
    }
  }

  useEffect(() => {
    if (allowed) load(range);
  }, [destinationId, kind, version, range]);

  return (
    <section class="panel stats" aria-labelledby="stats-title" aria-busy={loading ? "true" : undefined}>
      <div class="view-head">
        <h2 id="stats-title">Activity by hour</h2>
        {allowed && (
          <div class="inline-form">
            <label for="stats-range">Range</label>
            <select id="stats-range" value={range} onChange={(e) => setRange(e.currentTarget.value)}>
              {RANGES.map((r) => <option key={r.value} value={r.value}>{r.label}</option>)}
            </select>
            <button type="button" class="button" onClick={() => load(range)}>Reload chart</button>
          </div>
        )}
      </div>
      {!allowed && <p class="muted">This session may not read deliveries, so it cannot show their health.</p>}
      {error && <p class="error-text">{error}</p>}
      {allowed && !stats && !error && <p aria-busy="true" class="muted">Loading the chart…</p>}
      {stats && (
        <>
          <dl class="facts figures">
            <div><dt>Deliveries</dt><dd data-figure="deliveries">
              {CHART_STATES.reduce((n, s) => n + stats.deliveries[s], 0)}
            </dd></div>
            <div><dt>Success rate</dt><dd data-figure="success-rate">{formatRate(stats.success_rate)}</dd></div>
            <div><dt>Attempts</dt><dd data-figure="attempts">
              {stats.attempts}{stats.attempts > 0 ? ` (${formatRate(stats.attempt_success_rate)} answered 2xx)` : ""}
            </dd></div>
            <div><dt>Latency p50</dt><dd data-figure="p50">{formatLatency(stats.latency.p50_ms, stats.attempts)}</dd></div>
            <div><dt>Latency p95</dt><dd data-figure="p95">{formatLatency(stats.latency.p95_ms, stats.attempts)}</dd></div>
            <div><dt>Latency p99</dt><dd data-figure="p99">{formatLatency(stats.latency.p99_ms, stats.attempts)}</dd></div>
          </dl>
          <p class="hint">
            From <Time iso={stats.since} /> to <Time iso={stats.until} />, by the hour each delivery was created.
            Success rate counts finished deliveries; latency is each attempt's time, rounded up.
          </p>
          <Chart stats={stats} />
          <HourTable stats={stats} />
        </>
      )}
    </section>
  );
}

// --- recover since… -------------------------------------------------------------------------

/** A `datetime-local` value (the reader's local time) for a moment. */
export function isoToLocal(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The plain words for a failed recover call. */
function recoverError(err: unknown): string {
  if (err instanceof ApiError && err.status === 409) {
    return "A recovery of this destination is still running, and only one runs at a time. Wait until it is done, then start this one.";
  }
  if (err instanceof ApiError && err.status === 422 && err.fields.some((f) => f.field === "since" && /14 days/.test(f.message))) {
    return "Deliveries older than 14 days cannot be recovered: choose a “since” within the last 14 days.";
  }
  return err instanceof Error ? err.message : String(err);
}

interface RecoverForm {
  since: string;
  until: string;
  failed: boolean;
  skipped: boolean;
}

type Phase =
  | { step: "form" }
  | { step: "counted"; count: number }
  | { step: "running"; id: string; progress: RecoveryProgress };

/** How long to wait between progress reads: the endpoint allows 20 calls a minute. */
const POLL_MS = 3_500;

export function RecoverPanel({ destinationId, kind, onFinished }: {
  destinationId: string; kind: Kind; onFinished: () => void;
}) {
  const { api } = usePortal();
  const [form, setForm] = useState<RecoverForm>(() => ({
    since: isoToLocal(Date.now() - 24 * HOUR_MS), until: "", failed: true, skipped: true,
  }));
  const [phase, setPhase] = useState<Phase>({ step: "form" });
  const [error, setError] = useState<ApiError | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const finished = useRef(onFinished);
  finished.current = onFinished;

  const runningId = phase.step === "running" && phase.progress.state !== "done" ? phase.id : null;
  useEffect(() => {
    if (!runningId) return;
    let timer = 0;
    let stopped = false;
    const poll = async () => {
      let wait = POLL_MS;
      try {
        const progress = await api.recovery(destinationId, runningId, kind);
        if (stopped) return;
        setPhase({ step: "running", id: runningId, progress });
        if (progress.state === "done") {
          announce(`Recovery done: ${progress.done} delivered, ${progress.failed} failed, of ${progress.count}.`);
          finished.current();
          return;
        }
      } catch (err) {
        if (stopped) return;
        if (err instanceof ApiError && err.status === 429 && err.retryAfter !== null) {
          wait = Math.max(err.retryAfter * 1000, POLL_MS);
        } else {
          setMessage(`Could not read the recovery's progress: ${recoverError(err)}`);
          return;
        }
      }
      timer = window.setTimeout(poll, wait);
    };
    timer = window.setTimeout(poll, 1_000);
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [runningId, destinationId, kind]);

  function body(dryRun: boolean) {
    const states = [form.failed && "failed", form.skipped && "skipped"].filter(Boolean) as ("failed" | "skipped")[];
    return {
      since: localToIso(form.since) ?? "",
      ...(form.until ? { until: localToIso(form.until) } : {}),
      ...(states.length ? { states } : {}),
      dry_run: dryRun,
    };
  }

  async function call(dryRun: boolean) {
    if (busy) return;
    if (!form.failed && !form.skipped) {
      setMessage("Choose what to send again: failed deliveries, skipped ones, or both.");
      return;
    }
    setBusy(true);
    setError(null);
    setMessage(null);
    clearNotice();
    try {
      const r = await api.recover(destinationId, body(dryRun), kind);
      if (dryRun) {
        setPhase({ step: "counted", count: r.count });
      } else if (r.recovery_id) {
        announce(`Recovery started: ${pluralize(r.count, "delivery", "deliveries")} to send again.`);
        setPhase({ step: "running", id: r.recovery_id, progress: { state: "running", count: r.count, done: 0, failed: 0 } });
      }
    } catch (err) {
      if (err instanceof ApiError) setError(err);
      const words = recoverError(err);
      setMessage(words);
      announce(words, "error");
      setPhase({ step: "form" });
    } finally {
      setBusy(false);
    }
  }

  const change = (v: Partial<RecoverForm>) => {
    setForm({ ...form, ...v });
    if (phase.step === "counted") setPhase({ step: "form" });
  };
  const locked = phase.step === "running" && phase.progress.state !== "done";

  return (
    <section class="panel recover" aria-labelledby="recover-title">
      <h2 id="recover-title">Recover since…</h2>
      <p class="hint">
        Sends again, oldest first, the deliveries of a time range that failed for good or were skipped while the
        destination was paused or disabled, each with its own id. First it counts them; nothing is sent until you
        confirm. One recovery runs at a time; at most 14 days back.
      </p>
      <form class="form" onSubmit={(e) => {
        e.preventDefault();
        call(true);
      }}>
        <div class="field-row">
          <Field id="rc-since" label="Since" hint="At most 14 days ago." error={fieldError(error, "since")}>
            {(a) => (
              <input {...a} type="datetime-local" required value={form.since} disabled={locked}
                onInput={(e) => change({ since: e.currentTarget.value })} />
            )}
          </Field>
          <Field id="rc-until" label="Until (optional)" hint="Empty: up to now." error={fieldError(error, "until")}>
            {(a) => (
              <input {...a} type="datetime-local" value={form.until} disabled={locked}
                onInput={(e) => change({ until: e.currentTarget.value })} />
            )}
          </Field>
        </div>
        <fieldset class="field">
          <legend>Deliveries to send again</legend>
          <label class="check">
            <input type="checkbox" checked={form.failed} disabled={locked}
              onChange={(e) => change({ failed: e.currentTarget.checked })} />
            Failed
          </label>
          <label class="check">
            <input type="checkbox" checked={form.skipped} disabled={locked}
              onChange={(e) => change({ skipped: e.currentTarget.checked })} />
            Skipped
          </label>
        </fieldset>
        {phase.step !== "counted" && (
          <div class="actions">
            <ChangeButton perm={PERM.update} type="submit" busy={busy || locked}>
              {busy ? "Counting…" : "Count deliveries"}
            </ChangeButton>
          </div>
        )}
      </form>
      {message && <p class="error-text" role="alert">{message}</p>}
      {phase.step === "counted" && (
        <div class="recover-count">
          <p data-testid="recover-count">
            {phase.count === 0
              ? "No delivery matches: nothing would be sent again."
              : `${pluralize(phase.count, "delivery", "deliveries")} will be sent again.`}
          </p>
          <div class="actions">
            {phase.count > 0 && (
              <ChangeButton perm={PERM.update} class="button primary" busy={busy} onClick={() => call(false)}>
                {`Send ${phase.count} again`}
              </ChangeButton>
            )}
            <button type="button" class="button" onClick={() => setPhase({ step: "form" })}>Change the range</button>
          </div>
        </div>
      )}
      {phase.step === "running" && <Progress progress={phase.progress} />}
    </section>
  );
}

function Progress({ progress }: { progress: RecoveryProgress }) {
  const finished = progress.done + progress.failed;
  const done = progress.state === "done";
  return (
    <div class="recover-progress" data-state={progress.state}>
      <label for="recover-bar">{done ? "Recovery done" : "Sending again…"}</label>
      <progress id="recover-bar" max={Math.max(progress.count, 1)} value={done ? Math.max(progress.count, 1) : finished} />
      <p aria-live="polite" data-testid="recover-progress">
        {done
          ? `Done: ${progress.done} of ${progress.count} delivered, ${progress.failed} failed.`
          : `${finished} of ${progress.count} finished so far: ${progress.done} delivered, ${progress.failed} failed.`}
      </p>
    </div>
  );
}
