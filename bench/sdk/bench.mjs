// Benchmark of webhook verification under Node: edgehook vs standardwebhooks, svix and a hand-rolled node:crypto verify, plus each package's gzip browser-bundle size.
//
// Run: node bench/sdk/bench.mjs [--rounds 5] [--ms 300] (after scripts/test-sdk.sh has built pkg/dist).
// Every library verifies the same signed requests and returns the parsed event, as each library's
// verify does. Measurements are interleaved (every round runs every size and library, rotating
// the order), and each figure is the median of the rounds; only ratios within one run mean much.
import { createHmac, createSecretKey, randomBytes, timingSafeEqual } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import * as esbuild from 'esbuild';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { Webhook as EdgehookWebhook } from '../../pkg/dist/index.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = new Map(process.argv.slice(2).map((a, i, all) => (a.startsWith('--') ? [a.slice(2), all[i + 1]] : null)).filter(Boolean));
const ROUNDS = Number(args.get('rounds') ?? 5);
const MS_PER_RUN = Number(args.get('ms') ?? 300);
const SIZES = [256, 1024, 16 * 1024, 256 * 1024];

const secretBytes = randomBytes(32);
const secret = `whsec_${secretBytes.toString('base64')}`;

// A realistic event padded to exactly `size` bytes of JSON.
function payloadOf(size) {
  const base = { type: 'agent-framework-resource-updated', org_id: 'org_bench', resource_type: 'agent', resource_id: 'r'.repeat(24), updated_at: new Date().toISOString(), note: '' };
  const overhead = JSON.stringify(base).length;
  base.note = 'x'.repeat(Math.max(0, size - overhead));
  return JSON.stringify(base);
}

// Signed independently of every library under test, with node:crypto.
function headersFor(payload, n) {
  const id = `msg_bench_${n}`;
  const ts = String(Math.floor(Date.now() / 1000));
  const sig = createHmac('sha256', secretBytes).update(`${id}.${ts}.${payload}`).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': `v1,${sig}` };
}

// What a careful hand-written verify looks like: key object made once, one HMAC, constant-time
// compare, timestamp window, parsed body. This is the native limit.
const nodeKey = createSecretKey(secretBytes);
function nodeCryptoVerify(payload, headers) {
  const id = headers['webhook-id'];
  const ts = headers['webhook-timestamp'];
  const sig = headers['webhook-signature'];
  if (!id || !ts || !sig) throw new Error('missing header');
  const sent = Number(ts);
  if (!Number.isInteger(sent) || Math.abs(Date.now() / 1000 - sent) > 300) throw new Error('timestamp');
  const expected = createHmac('sha256', nodeKey).update(`${id}.${ts}.`).update(payload).digest();
  for (const entry of sig.split(' ')) {
    const comma = entry.indexOf(',');
    if (entry.slice(0, comma) !== 'v1') continue;
    const got = Buffer.from(entry.slice(comma + 1), 'base64');
    if (got.length === expected.length && timingSafeEqual(got, expected)) return JSON.parse(payload);
  }
  throw new Error('signature');
}

const edgehook = new EdgehookWebhook(secret);
const standard = new StandardWebhook(secretBytes.toString('base64'));
const svix = new SvixWebhook(secret);
const LIBS = {
  edgehook: (p, h) => edgehook.verify(p, h),
  standardwebhooks: (p, h) => standard.verify(p, h),
  // svix 2.x's verify returns nothing: a caller parses the body itself.
  svix: (p, h) => (svix.verify(p, h), JSON.parse(p)),
  'node:crypto': nodeCryptoVerify,
};

// A few distinct signed requests per size, so no library can cache one answer.
const CASES = new Map(SIZES.map((size) => {
  const payload = payloadOf(size);
  return [size, Array.from({ length: 8 }, (_, n) => ({ payload, headers: headersFor(payload, n) }))];
}));

// Every library must accept every case and reject a tampered one before anything is timed.
for (const [name, verify] of Object.entries(LIBS)) {
  for (const cases of CASES.values()) {
    for (const { payload, headers } of cases) {
      if (verify(payload, headers).org_id !== 'org_bench') throw new Error(`${name} returned a wrong event`);
    }
    const { payload, headers } = cases[0];
    const tampered = payload.replace('org_bench', 'org_bencH');
    let rejected = false;
    try { verify(tampered, headers); } catch { rejected = true; }
    if (!rejected) throw new Error(`${name} accepted a tampered body`);
  }
}

function opsPerSecond(verify, cases) {
  let ops = 0;
  let sink = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(MS_PER_RUN) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 64; i++) {
      const c = cases[(ops + i) & 7];
      sink += verify(c.payload, c.headers).type.length;
    }
    ops += 64;
    now = process.hrtime.bigint();
  }
  if (sink === 0) throw new Error('nothing verified');
  return ops / (Number(now - start) / 1e9);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const names = Object.keys(LIBS);
const results = new Map(SIZES.map((s) => [s, new Map(names.map((n) => [n, []]))]));

for (const size of SIZES) for (const n of names) opsPerSecond(LIBS[n], CASES.get(size)); // warm-up
for (let round = 0; round < ROUNDS; round++) {
  for (const size of SIZES) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + round) % names.length];
      results.get(size).get(name).push(opsPerSecond(LIBS[name], CASES.get(size)));
    }
  }
  process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
}

const fmt = (x) => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1));
const label = (s) => (s >= 1024 ? `${s / 1024} KB` : `${s} B`);
console.log(`\nverify ops/s, median of ${ROUNDS} interleaved runs of ${MS_PER_RUN} ms (Node ${process.versions.node})\n`);
console.log(['body', ...names, 'edgehook/standardwebhooks', 'edgehook/svix', 'edgehook/node:crypto'].join(' | '));
for (const size of SIZES) {
  const m = Object.fromEntries(names.map((n) => [n, median(results.get(size).get(n))]));
  console.log([
    label(size),
    ...names.map((n) => fmt(m[n])),
    `${(m.edgehook / m.standardwebhooks).toFixed(2)}x`,
    `${(m.edgehook / m.svix).toFixed(2)}x`,
    `${(m.edgehook / m['node:crypto']).toFixed(2)}x`,
  ].join(' | '));
}

// Gzip size of a minified browser bundle that uses each package's verifier.
async function bundleSize(specifier) {
  const result = await esbuild.build({
    stdin: { contents: `import { Webhook } from ${JSON.stringify(specifier)}; globalThis.Webhook = Webhook;`, resolveDir: here, loader: 'js' },
    bundle: true, minify: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, logLevel: 'silent',
  });
  const code = result.outputFiles[0].contents;
  return { min: code.length, gzip: gzipSync(code, { level: 9 }).length };
}
console.log('\nminified browser bundle of `import { Webhook }` (esbuild --bundle --minify, gzip -9)\n');
console.log('package | minified bytes | gzip bytes');
for (const [name, spec] of [['edgehook (wasm inlined)', join(here, '../../pkg/dist/index.mjs')], ['standardwebhooks', 'standardwebhooks'], ['svix', 'svix']]) {
  const { min, gzip } = await bundleSize(spec);
  console.log(`${name} | ${min.toLocaleString('en-US')} | ${gzip.toLocaleString('en-US')} (${(gzip / 1024).toFixed(1)} KB)`);
}
