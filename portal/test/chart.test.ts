// Unit tests of the health chart's arithmetic (portal/src/chart.ts), run by
// scripts/test-portal.sh with Node's test runner.

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  emptyCounts, formatLatency, formatRate, formatSpan, HOUR_MS, hourlySeries, niceMax, stackedBars, ticks,
} from "../src/chart";

const counts = (c: Partial<ReturnType<typeof emptyCounts>>) => ({ ...emptyCounts(), ...c });

test("every hour of the range is there, the API's empty hours as zeros", () => {
  const hours = hourlySeries({
    since: "2026-01-01T10:00:00Z",
    until: "2026-01-01T14:00:00Z",
    series: [
      { hour: "2026-01-01T11:00:00Z", deliveries: counts({ success: 3, failed: 1 }), attempts: 5, success_rate: 0.75 },
      { hour: "2026-01-01T13:00:00Z", deliveries: counts({ skipped: 2 }), attempts: 0, success_rate: null },
    ],
  });
  assert.deepEqual(hours.map((h) => new Date(h.start).toISOString()), [
    "2026-01-01T10:00:00.000Z", "2026-01-01T11:00:00.000Z", "2026-01-01T12:00:00.000Z", "2026-01-01T13:00:00.000Z",
  ]);
  assert.deepEqual(hours.map((h) => h.total), [0, 4, 0, 2]);
  assert.equal(hours[1].counts.failed, 1);
  assert.equal(hours[3].counts.skipped, 2);
});

test("a range's ends are rounded out to whole hours, and a long range keeps its latest hours", () => {
  const hours = hourlySeries({ since: "2026-01-01T10:59:00Z", until: "2026-01-01T12:01:00Z", series: [] });
  assert.equal(hours.length, 3);
  assert.equal(hours[0].start, Date.parse("2026-01-01T10:00:00Z"));
  const capped = hourlySeries({ since: "2026-01-01T00:00:00Z", until: "2026-01-03T00:00:00Z", series: [] }, 24);
  assert.equal(capped.length, 24);
  assert.equal(capped[0].start, Date.parse("2026-01-02T00:00:00Z"));
  assert.deepEqual(hourlySeries({ since: "2026-01-02T00:00:00Z", until: "2026-01-01T00:00:00Z", series: [] }), []);
  assert.deepEqual(hourlySeries({ since: "nonsense", until: "2026-01-01T00:00:00Z", series: [] }), []);
});

test("the scale tops at the next 1, 2 or 5 times a power of ten", () => {
  assert.deepEqual([0, 1, 2, 3, 7, 10, 11, 20, 21, 49, 51, 99, 101, 1234].map(niceMax),
    [1, 1, 2, 5, 10, 10, 20, 20, 50, 50, 100, 100, 200, 2000]);
  assert.deepEqual(ticks(20), [0, 5, 10, 15, 20]);
  assert.deepEqual(ticks(2), [0, 1, 2], "only whole numbers");
  assert.deepEqual(ticks(1), [0, 1]);
});

test("bars stack from the bottom in state order and fill the chart at the scale's top", () => {
  const hours = [
    { start: 0, counts: counts({ success: 3, failed: 1 }), total: 4 },
    { start: HOUR_MS, counts: counts({}), total: 0 },
    { start: 2 * HOUR_MS, counts: counts({ skipped: 2 }), total: 2 },
  ];
  const bars = stackedBars(hours, 300, 100, 4);
  assert.deepEqual(bars.map((b) => [b.index, b.state, b.count]), [[0, "success", 3], [0, "failed", 1], [2, "skipped", 2]]);
  const [ok, bad, skipped] = bars;
  assert.equal(ok.y + ok.height, 100, "the first part stands on the axis");
  assert.equal(ok.height, 75);
  assert.equal(bad.y + bad.height, ok.y, "the next part sits on the one below");
  assert.equal(bad.y, 0, "the tallest bar reaches the top when it equals the scale");
  assert.equal(skipped.height, 50);
  assert.ok(skipped.x >= 200 && skipped.x + skipped.width <= 300, "each bar stays in its hour's slot");
  assert.ok(ok.width > 0 && ok.width < 100);
  assert.deepEqual(stackedBars([], 300, 100, 4), []);
});

test("rates and latencies in words", () => {
  assert.equal(formatRate(1), "100 %");
  assert.equal(formatRate(0.975), "97.5 %");
  assert.equal(formatRate(2 / 3), "66.7 %");
  assert.equal(formatRate(0), "0 %");
  assert.equal(formatRate(null), "—");
  assert.equal(formatLatency(250, 3), "≤ 250 ms");
  assert.equal(formatLatency(1500, 3), "≤ 1.5 s");
  assert.equal(formatLatency(null, 3), "over 30 s");
  assert.equal(formatLatency(null, 0), "—");
});

test("spans in the largest whole unit", () => {
  assert.equal(formatSpan(432_000_000), "5 days");
  assert.equal(formatSpan(86_400_000 + 3_600_000), "1 day");
  assert.equal(formatSpan(7_200_000), "2 hours");
  assert.equal(formatSpan(61_000), "1 minute");
  assert.equal(formatSpan(8_400), "8 seconds");
  assert.equal(formatSpan(300), "0 seconds");
});
