// Tests of the `@edgehook/sdk/ed25519` entry (pkg/dist/ed25519.mjs) in Node and in headless Chromium: `whpk_` public keys verify Standard Webhooks `v1a` signatures (the spec's vector and ones made by node:crypto), `verifyDetailed` names the scheme and key, and the default entry stays HMAC-only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from './chromium.mjs';
import { Webhook, WebhookVerificationError } from '../../pkg/dist/ed25519.mjs';
import { Webhook as HmacWebhook } from '../../pkg/dist/index.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = join(repo, 'pkg', 'dist');
const VECTORS = JSON.parse(readFileSync(join(repo, 'tests', 'vectors.json'), 'utf8'));

// The Standard Webhooks `v1a` vector: seed, message and signature from the spec's libraries.
const SEED = 'VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=';
const VECTOR = {
  body: '{"test": 2432232314}',
  headers: {
    'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
    'webhook-timestamp': '1614265330',
    'webhook-signature': 'v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag==',
  },
  now: 1614265330 * 1000,
};
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const at = (ms) => ({ clock: () => ms });

// A key pair made by node:crypto, independent of the code under test: its `whpk_` form and a
// signer of `{id}.{timestamp}.{body}`.
function keyPair(seed) {
  const privateKey = seed
    ? createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seed, 'base64')]), format: 'der', type: 'pkcs8' })
    : generateKeyPairSync('ed25519').privateKey;
  const raw = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(-32);
  return {
    publicKey: `whpk_${raw.toString('base64')}`,
    sign: (id, ts, body) => `v1a,${sign(null, Buffer.from(`${id}.${ts}.${body}`), privateKey).toString('base64')}`,
  };
}

function signed(pair, body, id = 'msg_ed', ts = Math.floor(Date.now() / 1000)) {
  return { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': pair.sign(id, ts, body) };
}

function codeOf(fn) {
  try {
    fn();
  } catch (e) {
    // Each entry is a bundle of its own, with its own class: the ed25519 one's, or the default's.
    assert.ok(e instanceof WebhookVerificationError || e.name === 'WebhookVerificationError', `not a WebhookVerificationError: ${e}`);
    return e.code;
  }
  return 'passed';
}

const vectorKey = keyPair(SEED).publicKey;

test('the v1a vector verifies with its public key, and verifyDetailed says so', () => {
  assert.equal(vectorKey, 'whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=');
  const wh = new Webhook(vectorKey, at(VECTOR.now));
  assert.deepEqual(wh.verify(VECTOR.body, VECTOR.headers), { test: 2432232314 });
  assert.deepEqual(wh.verifyDetailed(VECTOR.body, VECTOR.headers), {
    event: { test: 2432232314 },
    scheme: 'standard',
    asymmetric: true,
    keyIndex: 0,
    webhookId: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  });
  assert.equal(codeOf(() => wh.verify('{"test": 2432232315}', VECTOR.headers)), 'no_matching_signature');
});

test('the shared vectors (tests/vectors.json) verify in both entries, v1a in the ed25519 one', () => {
  const standard = (v) => ({ 'webhook-id': v.id, 'webhook-timestamp': v.timestamp, 'webhook-signature': v.signature });
  const cases = [
    ...VECTORS.standard.map((v) => [v.secret, v, standard(v), Number(v.timestamp) * 1000, 'standard', false]),
    ...VECTORS.amigo.map((v) => [v.secret, v, { 'x-amigo-request-timestamp': v.timestamp, 'x-amigo-request-signature': v.signature }, Number(v.timestamp), 'amigo', false]),
  ];
  for (const Entry of [Webhook, HmacWebhook]) {
    for (const [key, v, headers, now, scheme, asymmetric] of cases) {
      const d = new Entry(key, at(now)).verifyDetailed(v.body, headers);
      assert.deepEqual([d.event, d.scheme, d.asymmetric], [JSON.parse(v.body), scheme, asymmetric]);
      assert.equal(codeOf(() => new Entry(key, at(now)).verify(`${v.body} `, headers)), 'no_matching_signature');
    }
  }
  for (const v of VECTORS.v1a) {
    assert.equal(keyPair(v.signing_key.slice(5)).publicKey, v.public_key);
    const d = new Webhook(v.public_key, at(Number(v.timestamp) * 1000)).verifyDetailed(v.body, standard(v));
    assert.deepEqual([d.event, d.scheme, d.asymmetric], [JSON.parse(v.body), 'standard', true]);
  }
});

test('signatures made by node:crypto verify; a change to the body, id or timestamp does not', () => {
  const pair = keyPair();
  const body = JSON.stringify({ type: 'agent-framework-resource-updated', org_id: 'o', resource_type: 'agent', resource_id: 'r', updated_at: '2030-01-01T00:00:00Z' });
  const headers = signed(pair, body);
  const wh = new Webhook(pair.publicKey);
  assert.equal(wh.verify(body, headers).resource_id, 'r');
  assert.equal(wh.verify(Buffer.from(body), new Headers(headers)).org_id, 'o');
  assert.equal(codeOf(() => wh.verify(body.replace('"r"', '"s"'), headers)), 'no_matching_signature');
  assert.equal(codeOf(() => wh.verify(body, { ...headers, 'webhook-id': 'msg_other' })), 'no_matching_signature');
  const ts = Number(headers['webhook-timestamp']);
  assert.equal(codeOf(() => wh.verify(body, { ...headers, 'webhook-timestamp': String(ts + 1) })), 'no_matching_signature');
  assert.equal(codeOf(() => new Webhook(keyPair().publicKey).verify(body, headers)), 'no_matching_signature');
  assert.equal(codeOf(() => new Webhook(pair.publicKey, at(Date.now() + 400_000)).verify(body, headers)), 'timestamp_too_old');
  // A v1a signature is not read as a v1 one, nor a secret matched against it.
  const asV1 = { ...headers, 'webhook-signature': headers['webhook-signature'].replace('v1a,', 'v1,') };
  assert.equal(codeOf(() => wh.verify(body, asV1)), 'no_matching_signature');
  assert.equal(codeOf(() => new Webhook(SECRET).verify(body, headers)), 'no_matching_signature');
});

test('secrets and public keys mix; keyIndex is the place in the list, whatever kind matched', () => {
  const oldPair = keyPair();
  const newPair = keyPair();
  const body = '{"type":"api-key-expiration-soon"}';
  const headers = signed(oldPair, body);
  headers['webhook-signature'] = `${newPair.sign(headers['webhook-id'], headers['webhook-timestamp'], body)} ${headers['webhook-signature']}`;
  for (const [keys, keyIndex] of [[[newPair.publicKey, oldPair.publicKey], 0], [[oldPair.publicKey], 0], [[SECRET, oldPair.publicKey], 1], [[SECRET, keyPair().publicKey, newPair.publicKey], 2]]) {
    const d = new Webhook(keys).verifyDetailed(body, headers);
    assert.deepEqual([d.scheme, d.asymmetric, d.keyIndex], ['standard', true, keyIndex], keys.join(' '));
  }
  // The secret's own signatures still verify through this entry, both header sets.
  const hmac = new Webhook([vectorKey, SECRET]).sign('msg_mix', Date.now(), body);
  const standard = new Webhook([vectorKey, SECRET]).verifyDetailed(body, hmac);
  assert.deepEqual([standard.scheme, standard.asymmetric, standard.keyIndex, standard.webhookId], ['standard', false, 1, 'msg_mix']);
  const amigoHeaders = { 'x-amigo-request-timestamp': hmac['x-amigo-request-timestamp'], 'x-amigo-request-signature': hmac['x-amigo-request-signature'] };
  const amigo = new Webhook([vectorKey, SECRET]).verifyDetailed(body, amigoHeaders);
  assert.deepEqual([amigo.scheme, amigo.asymmetric, amigo.keyIndex, amigo.webhookId], ['amigo', false, 1, null]);
  // Amigo's scheme is HMAC only: a public key alone verifies none of it.
  assert.equal(codeOf(() => new Webhook(vectorKey).verify(body, amigoHeaders)), 'no_matching_signature');
});

test('malformed public keys are refused at construction with malformed_secret', () => {
  const cases = [
    ['whpk_', /32 bytes/],
    ['whpk_QUJD', /32 bytes/],
    ['whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g', /32 bytes/],
    ['whpk_AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', /not a valid ed25519 key/],
    ['whpk_AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', /not a valid ed25519 key/],
  ];
  for (const [key, message] of cases) {
    assert.throws(() => new Webhook(key), (e) => e.code === 'malformed_secret' && message.test(e.message), key);
  }
});

test('the default entry stays HMAC-only: it names the entry that verifies public keys', () => {
  assert.throws(() => new HmacWebhook(vectorKey), (e) => e.code === 'malformed_secret' && /@edgehook\/sdk\/ed25519/.test(e.message));
  const d = new HmacWebhook(SECRET, at(VECTOR.now)).verifyDetailed(VECTOR.body, { ...VECTOR.headers, 'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=' });
  assert.deepEqual([d.scheme, d.asymmetric, d.keyIndex], ['standard', false, 0]);
});

// Chromium: the built entries loaded as ES modules by a page served from 127.0.0.1.
let server;
let browser;
let base;

before(async () => {
  server = createServer(async (req, res) => {
    const name = req.url === '/' ? null : req.url.slice(1);
    if (name === null) {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>ed25519</title>');
      return;
    }
    try {
      const body = await readFile(join(dist, name.replace(/[^a-z0-9_.-]/gi, '')));
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.close();
});

test('in Chromium the ed25519 entry verifies v1a signatures and the default entry refuses public keys', async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(base);
  const pair = keyPair();
  const body = JSON.stringify({ type: 'conversation-post-processing-complete', post_processing_type: 'x', conversation_id: 'c', org_id: 'o' });
  const fresh = signed(pair, body);
  const result = await page.evaluate(async ({ base, vector, vectorKey, key, body, fresh }) => {
    const { Webhook } = await import(`${base}/ed25519.mjs`);
    const { Webhook: HmacWebhook } = await import(`${base}/index.mjs`);
    const code = (fn) => { try { fn(); return 'passed'; } catch (e) { return e.code; } };
    const detailed = new Webhook(vectorKey, { clock: () => vector.now }).verifyDetailed(vector.body, vector.headers);
    return {
      vector: [detailed.scheme, detailed.asymmetric, detailed.keyIndex, detailed.event.test],
      fresh: new Webhook(key).verify(new TextEncoder().encode(body), new Headers(fresh)).conversation_id,
      tampered: code(() => new Webhook(key).verify(body.replace('"c"', '"d"'), fresh)),
      otherKey: code(() => new Webhook(vectorKey).verify(body, fresh)),
      defaultEntry: code(() => new HmacWebhook(key)),
    };
  }, { base, vector: VECTOR, vectorKey, key: pair.publicKey, body, fresh });
  assert.deepEqual(result, {
    vector: ['standard', true, 0, 2432232314],
    fresh: 'c',
    tampered: 'no_matching_signature',
    otherKey: 'no_matching_signature',
    defaultEntry: 'malformed_secret',
  });
  assert.deepEqual(errors, []);
});
