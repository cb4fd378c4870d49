// Benchmark of webhook verification under Node: edgehook vs standardwebhooks, svix and a hand-rolled node:crypto verify, with one verifier reused and with one constructed per call, ed25519 (`v1a`) verification, and each package's gzip browser-bundle size.
//
// Run: node bench/sdk/bench.mjs [--rounds 5] [--ms 300] (after scripts/test-sdk.sh has built pkg/dist).
// Every library verifies the same signed requests and returns the parsed event, as each library's
// verify does. "per call" rows construct the verifier from the secret string on every request
// (`new Webhook(secret).verify(...)`, the common pattern in serverless handlers); "new secret"
// cycles through 128 secrets, more than edgehook keeps parsed, so every construction parses. Measurements are interleaved (every round runs every size and library, rotating
// the order), and each figure is the median of the rounds; only ratios within one run mean much.
import { createHmac, createPrivateKey, createPublicKey, createSecretKey, generateKeyPairSync, randomBytes, sign as edSign, timingSafeEqual, verify as edVerify } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import * as esbuild from 'esbuild';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { Webhook as EdgehookWebhook } from '../../pkg/dist/index.mjs';
import { Webhook as EdgehookEd25519 } from '../../pkg/dist/ed25519.mjs';

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
function headersFor(payload, n, key = secretBytes) {
  const id = `msg_bench_${n}`;
  const ts = String(Math.floor(Date.now() / 1000));
  const sig = createHmac('sha256', key).update(`${id}.${ts}.${payload}`).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': `v1,${sig}` };
}

// What a careful hand-written verify looks like: one HMAC, constant-time compare, timestamp
// window, parsed body. Reused, its key object is made once (the native limit); per call, the
// secret is decoded from its string each time, as the libraries do.
function nodeCryptoVerify(key, payload, headers) {
  const id = headers['webhook-id'];
  const ts = headers['webhook-timestamp'];
  const sig = headers['webhook-signature'];
  if (!id || !ts || !sig) throw new Error('missing header');
  const sent = Number(ts);
  if (!Number.isInteger(sent) || Math.abs(Date.now() / 1000 - sent) > 300) throw new Error('timestamp');
  const expected = createHmac('sha256', key).update(`${id}.${ts}.`).update(payload).digest();
  for (const entry of sig.split(' ')) {
    const comma = entry.indexOf(',');
    if (entry.slice(0, comma) !== 'v1') continue;
    const got = Buffer.from(entry.slice(comma + 1), 'base64');
    if (got.length === expected.length && timingSafeEqual(got, expected)) return JSON.parse(payload);
  }
  throw new Error('signature');
}

const nodeKey = createSecretKey(secretBytes);
const edgehook = new EdgehookWebhook(secret);
const standard = new StandardWebhook(secretBytes.toString('base64'));
const svix = new SvixWebhook(secret);
// Each takes one case: { payload, headers, secret } (the secret the case is signed with).
const LIBS = {
  edgehook: (c) => edgehook.verify(c.payload, c.headers),
  standardwebhooks: (c) => standard.verify(c.payload, c.headers),
  // svix 2.x's verify returns nothing: a caller parses the body itself.
  svix: (c) => (svix.verify(c.payload, c.headers), JSON.parse(c.payload)),
  'node:crypto': (c) => nodeCryptoVerify(nodeKey, c.payload, c.headers),
  'edgehook per call': (c) => new EdgehookWebhook(c.secret).verify(c.payload, c.headers),
  'standardwebhooks per call': (c) => new StandardWebhook(c.secret.slice(6)).verify(c.payload, c.headers),
  'svix per call': (c) => (new SvixWebhook(c.secret).verify(c.payload, c.headers), JSON.parse(c.payload)),
  'node:crypto per call': (c) => nodeCryptoVerify(Buffer.from(c.secret.slice(6), 'base64'), c.payload, c.headers),
};
// Rows run on cases signed with one of 128 secrets (the rest use `secret`).
const NEW_SECRET = { 'edgehook per call, new secret': LIBS['edgehook per call'], 'standardwebhooks per call, new secret': LIBS['standardwebhooks per call'] };
const SECRETS = Array.from({ length: 128 }, () => randomBytes(32));

// A few distinct signed requests per size, so no library can cache one answer.
const CASES = new Map(SIZES.map((size) => {
  const payload = payloadOf(size);
  return [size, {
    one: Array.from({ length: 8 }, (_, n) => ({ payload, headers: headersFor(payload, n), secret })),
    many: SECRETS.map((key, n) => ({ payload, headers: headersFor(payload, n, key), secret: `whsec_${key.toString('base64')}` })),
  }];
}));
const ALL = { ...LIBS, ...NEW_SECRET };
const casesOf = (name, size) => CASES.get(size)[name in NEW_SECRET ? 'many' : 'one'];

// Every library must accept every case and reject a tampered one before anything is timed.
for (const [name, verify] of Object.entries(ALL)) {
  for (const size of SIZES) {
    const cases = casesOf(name, size);
    for (const c of cases) {
      if (verify(c).org_id !== 'org_bench') throw new Error(`${name} returned a wrong event`);
    }
    const tampered = { ...cases[0], payload: cases[0].payload.replace('org_bench', 'org_bencH') };
    let rejected = false;
    try { verify(tampered); } catch { rejected = true; }
    if (!rejected) throw new Error(`${name} accepted a tampered body`);
  }
}

function opsPerSecond(verify, cases) {
  let ops = 0;
  let sink = 0;
  const mask = cases.length - 1;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(MS_PER_RUN) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 64; i++) sink += verify(cases[(ops + i) & mask]).type.length;
    ops += 64;
    now = process.hrtime.bigint();
  }
  if (sink === 0) throw new Error('nothing verified');
  return ops / (Number(now - start) / 1e9);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const names = Object.keys(ALL);
const results = new Map(SIZES.map((s) => [s, new Map(names.map((n) => [n, []]))]));

for (const size of SIZES) for (const n of names) opsPerSecond(ALL[n], casesOf(n, size)); // warm-up
for (let round = 0; round < ROUNDS; round++) {
  for (const size of SIZES) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + round) % names.length];
      results.get(size).get(name).push(opsPerSecond(ALL[name], casesOf(name, size)));
    }
  }
  process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
}

const fmt = (x) => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1));
const label = (s) => (s >= 1024 ? `${s / 1024} KB` : `${s} B`);
const m = new Map(SIZES.map((size) => [size, Object.fromEntries(names.map((n) => [n, median(results.get(size).get(n))]))]));
const ratio = (size, a, b) => m.get(size)[a] / m.get(size)[b];
const table = (title, columns, ratios) => {
  console.log(`\n${title}\n`);
  console.log(['body', ...columns, ...ratios.map(([a, b]) => `${a}/${b}`)].join(' | '));
  for (const size of SIZES) {
    console.log([label(size), ...columns.map((n) => fmt(m.get(size)[n])), ...ratios.map(([a, b]) => `${ratio(size, a, b).toFixed(2)}x`)].join(' | '));
  }
};
console.log(`\nverify ops/s, median of ${ROUNDS} interleaved runs of ${MS_PER_RUN} ms (Node ${process.versions.node})`);
table('one verifier reused', ['edgehook', 'standardwebhooks', 'svix', 'node:crypto'], [['edgehook', 'standardwebhooks'], ['edgehook', 'svix'], ['edgehook', 'node:crypto']]);
table('a verifier constructed per call', ['edgehook per call', 'standardwebhooks per call', 'svix per call', 'node:crypto per call'],
  [['edgehook per call', 'standardwebhooks per call'], ['edgehook per call', 'svix per call'], ['edgehook per call', 'node:crypto per call']]);
table('per call, a secret not seen in the last 64 (every construction parses its secret)', ['edgehook per call, new secret', 'standardwebhooks per call, new secret'],
  [['edgehook per call, new secret', 'standardwebhooks per call, new secret']]);

// ed25519 (`v1a`): edgehook's wasm against node:crypto's native verify, 1 KB, key made once.
{
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const whpk = `whpk_${publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64')}`;
  const payload = payloadOf(1024);
  const cases = Array.from({ length: 8 }, (_, n) => {
    const id = `msg_ed_${n}`;
    const ts = String(Math.floor(Date.now() / 1000));
    const sig = edSign(null, Buffer.from(`${id}.${ts}.${payload}`), privateKey).toString('base64');
    return { payload, headers: { 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': `v1a,${sig}` } };
  });
  const ed = new EdgehookEd25519(whpk);
  const edLibs = {
    'edgehook/ed25519': (c) => ed.verify(c.payload, c.headers),
    'node:crypto ed25519': (c) => {
      const { 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': sig } = c.headers;
      if (!edVerify(null, Buffer.from(`${id}.${ts}.${c.payload}`), publicKey, Buffer.from(sig.slice(4), 'base64'))) throw new Error('signature');
      return JSON.parse(c.payload);
    },
  };
  const edResults = Object.fromEntries(Object.keys(edLibs).map((n) => [n, []]));
  for (let round = 0; round < ROUNDS; round++) for (const [n, f] of Object.entries(edLibs)) edResults[n].push(opsPerSecond(f, cases));
  const a = median(edResults['edgehook/ed25519']);
  const b = median(edResults['node:crypto ed25519']);
  console.log(`\ned25519 v1a verify at 1 KB, ops/s: edgehook/ed25519 (wasm) ${fmt(a)} | node:crypto (native) ${fmt(b)} | ${(a / b).toFixed(2)}x`);
  m.set('ed25519', { edgehook: a, node: b });
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
const sizes = {};
for (const [name, spec] of [['edgehook (HMAC, wasm inlined)', join(here, '../../pkg/dist/index.mjs')], ['edgehook/ed25519 (wasm inlined)', join(here, '../../pkg/dist/ed25519.mjs')], ['standardwebhooks', 'standardwebhooks'], ['svix', 'svix']]) {
  const { min, gzip } = await bundleSize(spec);
  sizes[name] = gzip;
  console.log(`${name} | ${min.toLocaleString('en-US')} | ${gzip.toLocaleString('en-US')} (${(gzip / 1024).toFixed(1)} KB)`);
}

// The targets, each with its figure from this run.
const KB = 1024;
const targets = [
  ['per call at 1 KB, edgehook/standardwebhooks', ratio(KB, 'edgehook per call', 'standardwebhooks per call'), '>=', 3],
  ['reused at 1 KB, edgehook/standardwebhooks', ratio(KB, 'edgehook', 'standardwebhooks'), '>=', 4],
  ['reused at 1 KB, edgehook/node:crypto', ratio(KB, 'edgehook', 'node:crypto'), '>=', 1],
  ['HMAC browser bundle, gzip KB', sizes['edgehook (HMAC, wasm inlined)'] / 1024, '<=', 16],
];
console.log('\ntarget | figure | wanted | met');
for (const [name, figure, op, want] of targets) {
  const met = op === '>=' ? figure >= want : figure <= want;
  console.log(`${name} | ${figure.toFixed(2)} | ${op} ${want} | ${met ? 'yes' : 'NO'}`);
}
