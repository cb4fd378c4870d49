// The health chart's arithmetic, with no DOM: every hour of a range (the API
// lists only hours that have counts), a round top for the scale, the stacked
// bars of each hour, and the words for rates and latencies. Unit-tested in
// portal/test/chart.test.ts.

import type { DeliveryState, DestinationStats, StateCounts } from "./api";

export const HOUR_MS = 3_600_000;

/** Stacked from the bottom up: what arrived, what failed, what is still under way, what was kept. */
export const CHART_STATES: DeliveryState[] = ["success", "failed", "retrying", "pending", "skipped"];

export interface Hour {
  /** Start of the hour, Unix ms. */
  start: number;
  counts: StateCounts;
  total: number;
}

export function emptyCounts(): StateCounts {
  return { pending: 0, retrying: 0, success: 0, failed: 0, skipped: 0 };
}

function total(c: StateCounts): number {
  return CHART_STATES.reduce((sum, s) => sum + (c[s] ?? 0), 0);
}

/**
 * Every hour from `since` (rounded down) up to `until` (exclusive, rounded
 * up), each with the counts the series gives for it or zeros. At most
 * `maxHours` hours (the latest ones) are kept.
 */
export function hourlySeries(stats: Pick<DestinationStats, "since" | "until" | "series">, maxHours = 24 * 31): Hour[] {
  const first = Math.floor(Date.parse(stats.since) / HOUR_MS) * HOUR_MS;
  const end = Math.ceil(Date.parse(stats.until) / HOUR_MS) * HOUR_MS;
  if (!Number.isFinite(first) || !Number.isFinite(end) || end <= first) return [];
  const byHour = new Map<number, StateCounts>();
  for (const entry of stats.series) {
    const t = Math.floor(Date.parse(entry.hour) / HOUR_MS) * HOUR_MS;
    if (Number.isFinite(t)) byHour.set(t, { ...emptyCounts(), ...entry.deliveries });
  }
  const start = Math.max(first, end - maxHours * HOUR_MS);
  const hours: Hour[] = [];
  for (let t = start; t < end; t += HOUR_MS) {
    const counts = byHour.get(t) ?? emptyCounts();
    hours.push({ start: t, counts, total: total(counts) });
  }
  return hours;
}

/** The smallest 1, 2 or 5 × 10^k at or above `n` (at least 1): the top of the scale. */
export function niceMax(n: number): number {
  if (!(n > 1)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 5, 10]) {
    if (step * magnitude >= n) return step * magnitude;
  }
  return 10 * magnitude;
}

/** Gridline values from 0 to `max` in `parts` equal steps, whole numbers only. */
export function ticks(max: number, parts = 4): number[] {
  const out: number[] = [];
  for (let i = 0; i <= parts; i++) {
    const v = (max * i) / parts;
    if (Number.isInteger(v) && !out.includes(v)) out.push(v);
  }
  return out;
}

export interface Bar {
  state: DeliveryState;
  /** Index of the hour. */
  index: number;
  x: number;
  y: number;
  width: number;
  height: number;
  count: number;
}

/**
 * The rectangles of a stacked bar chart `width` × `height` (y grows
 * downwards, as in SVG) over `hours` with the scale topping at `max`. Zero
 * counts draw nothing; a bar's parts stack in CHART_STATES order.
 */
export function stackedBars(hours: Hour[], width: number, height: number, max: number): Bar[] {
  if (!hours.length || max <= 0) return [];
  const slot = width / hours.length;
  const gap = slot > 4 ? Math.min(2, slot * 0.2) : 0;
  const bars: Bar[] = [];
  hours.forEach((hour, index) => {
    let base = height;
    for (const state of CHART_STATES) {
      const count = hour.counts[state] ?? 0;
      if (count <= 0) continue;
      const h = (count / max) * height;
      base -= h;
      bars.push({ state, index, x: index * slot + gap / 2, y: base, width: slot - gap, height: h, count });
    }
  });
  return bars;
}

/** A rate of 0–1 as a percentage for people: "97.5 %", "100 %", or "—" when there is none. */
export function formatRate(rate: number | null | undefined): string {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return "—";
  const pct = Math.round(rate * 1000) / 10;
  return `${pct} %`;
}

/**
 * A latency percentile (the upper bound of its histogram bucket, in ms):
 * "≤ 250 ms", "≤ 1.5 s", "over 30 s" when the API gives none although there
 * were attempts, "—" when there were none.
 */
export function formatLatency(ms: number | null | undefined, attempts: number): string {
  if (ms === null || ms === undefined) return attempts > 0 ? "over 30 s" : "—";
  if (ms < 1000) return `≤ ${ms} ms`;
  return `≤ ${Math.round(ms / 100) / 10} s`;
}

/** A span of time in the largest whole unit that fits: "5 days", "1 hour", "8 seconds". */
export function formatSpan(ms: number): string {
  const units: [number, string][] = [[86_400_000, "day"], [3_600_000, "hour"], [60_000, "minute"], [1_000, "second"]];
  for (const [size, name] of units) {
    if (ms >= size || size === 1_000) {
      const n = Math.max(0, Math.floor(ms / size));
      return `${n} ${name}${n === 1 ? "" : "s"}`;
    }
  }
  return "0 seconds";
}
