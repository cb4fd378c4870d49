// Tests of the npm package's JavaScript API (pkg/dist, built by scripts/test-sdk.sh): vectors, header forms, error codes, interop with standardwebhooks and svix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { Webhook, WebhookVerificationError } from '../../pkg/dist/index.mjs';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const VECTOR = {
  body: '{"test": 2432232314}',
  headers: {
    'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
    'webhook-timestamp': '1614265330',
    'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
  },
  now: 1614265330 * 1000,
};

const at = (ms) => ({ clock: () => ms });

function codeOf(fn) {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof WebhookVerificationError, `not a WebhookVerificationError: ${e}`);
    assert.equal(e.name, 'WebhookVerificationError');
    return e.code;
  }
  return 'passed';
}

test('Standard Webhooks vectors verify and return the parsed body', () => {
  assert.deepEqual(new Webhook(SECRET, at(VECTOR.now)).verify(VECTOR.body, VECTOR.headers), { test: 2432232314 });
  const second = new Webhook('whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD', at(1649367553000));
  const body = '{"email":"test@example.com","username":"test_user"}';
  const event = second.verify(body, {
    'webhook-id': 'msg_27UH4WbU6Z5A5EzD8u03UvzRbpk',
    'webhook-timestamp': '1649367553',
    'webhook-signature': 'v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=',
  });
  assert.equal(event.username, 'test_user');
});

test('the Amigo vector verifies (computed with Python hmac)', () => {
  const wh = new Webhook(SECRET, at(1614265330123));
  const headers = {
    'X-Amigo-Request-Timestamp': '1614265330123',
    'X-Amigo-Request-Signature': '2575962817f7d247c96debda2c18feb5a554d8e7bb8200e17d85554fbde6b4fe',
  };
  assert.deepEqual(wh.verify(VECTOR.body, headers), { test: 2432232314 });
  assert.equal(codeOf(() => wh.verify('{"test": 2432232315}', headers)), 'no_matching_signature');
});

test('headers work as a plain object in any case, a Headers and a Map-like', () => {
  const wh = new Webhook(SECRET, at(VECTOR.now));
  const upper = Object.fromEntries(Object.entries(VECTOR.headers).map(([k, v]) => [k.toUpperCase(), v]));
  assert.ok(wh.verify(VECTOR.body, upper));
  assert.ok(wh.verify(VECTOR.body, new Headers(VECTOR.headers)));
  assert.ok(wh.verify(VECTOR.body, new Map(Object.entries(VECTOR.headers))));
});

test('raw bodies as Buffer, Uint8Array, ArrayBuffer and DataView', () => {
  const wh = new Webhook(SECRET, at(VECTOR.now));
  const bytes = new TextEncoder().encode(VECTOR.body);
  for (const body of [Buffer.from(VECTOR.body), bytes, bytes.buffer, new DataView(bytes.buffer)]) {
    assert.deepEqual(wh.verify(body, VECTOR.headers), { test: 2432232314 });
  }
  assert.throws(() => wh.verify({ test: 2432232314 }, VECTOR.headers), TypeError);
});

test('each failed check has its own code', () => {
  const wh = new Webhook(SECRET, at(VECTOR.now));
  const h = VECTOR.headers;
  const sig = h['webhook-signature'];
  const cases = [
    [{ ...h, 'webhook-signature': 'v1,' }, 'no_matching_signature'],
    [{ ...h, 'webhook-signature': sig.slice(0, -4) }, 'no_matching_signature'],
    [{ ...h, 'webhook-signature': `v2,${sig.slice(3)}` }, 'no_matching_signature'],
    [{ ...h, 'webhook-signature': `v1,bm9wZQ== v2,xyz ${sig} v1,` }, 'passed'],
    [{ ...h, 'webhook-timestamp': 'soon' }, 'malformed_timestamp'],
    [{ 'webhook-id': h['webhook-id'], 'webhook-signature': sig }, 'missing_header'],
    [{}, 'missing_header'],
  ];
  for (const [headers, code] of cases) assert.equal(codeOf(() => wh.verify(VECTOR.body, headers)), code, JSON.stringify(headers));
  assert.equal(codeOf(() => new Webhook(SECRET, at(VECTOR.now + 301_000)).verify(VECTOR.body, h)), 'timestamp_too_old');
  assert.equal(codeOf(() => new Webhook(SECRET, at(VECTOR.now - 301_000)).verify(VECTOR.body, h)), 'timestamp_too_new');
  assert.equal(codeOf(() => new Webhook(SECRET, { ...at(VECTOR.now + 11_000), toleranceSeconds: 10 }).verify(VECTOR.body, h)), 'timestamp_too_old');
  assert.equal(codeOf(() => new Webhook('whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD', at(VECTOR.now)).verify(VECTOR.body, h)), 'no_matching_signature');
  assert.equal(codeOf(() => new Webhook(SECRET, at(VECTOR.now)).verify('{"test": 2432232314} ', h)), 'no_matching_signature');
  let missing;
  try { wh.verify(VECTOR.body, { 'webhook-id': 'x', 'webhook-signature': sig }); } catch (e) { missing = e.header; }
  assert.equal(missing, 'webhook-timestamp');
});

test('malformed secrets are refused at construction', () => {
  for (const secret of ['MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'whsec_', 'whsec_***', [], [SECRET, 'whsec_%'], 42]) {
    assert.equal(codeOf(() => new Webhook(secret)), 'malformed_secret', String(secret));
  }
});

test('a signed non-JSON body is invalid_payload', () => {
  const wh = new Webhook(SECRET);
  const headers = wh.sign('msg_1', Date.now(), 'not json');
  assert.equal(codeOf(() => wh.verify('not json', headers)), 'invalid_payload');
});

test('sign produces both header sets; rotation verifies with either secret', () => {
  const oldSecret = Webhook.generateSecret();
  const newSecret = Webhook.generateSecret();
  assert.match(newSecret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  assert.notEqual(oldSecret, newSecret);
  const body = JSON.stringify({ type: 'api-key-expiration-soon', org_id: 'o', api_key_id: 'k', user_id: 'u', expires_at: '2030-01-01T00:00:00Z' });
  const headers = new Webhook([newSecret, oldSecret]).sign('msg_rot', new Date(), body);
  assert.equal(headers['x-amigo-request-signature'].split(',').length, 2);
  assert.equal(headers['webhook-signature'].split(' ').length, 2);
  assert.equal(new Webhook(oldSecret).verify(body, headers).type, 'api-key-expiration-soon');
  assert.equal(new Webhook(newSecret).verify(body, headers).api_key_id, 'k');
  const amigoOnly = { 'x-amigo-request-timestamp': headers['x-amigo-request-timestamp'], 'x-amigo-request-signature': headers['x-amigo-request-signature'] };
  assert.equal(new Webhook(oldSecret).verify(body, amigoOnly).user_id, 'u');
  assert.equal(codeOf(() => new Webhook(Webhook.generateSecret()).verify(body, headers)), 'no_matching_signature');
});

test('interoperates with standardwebhooks and svix both ways', () => {
  const body = JSON.stringify({ type: 'conversation-post-processing-complete', post_processing_type: 'x', conversation_id: 'c', org_id: 'o' });
  const now = new Date();
  const theirs = new StandardWebhook(SECRET.slice(6)).sign('msg_interop', now, body);
  assert.deepEqual(
    new Webhook(SECRET).verify(body, { 'webhook-id': 'msg_interop', 'webhook-timestamp': String(Math.floor(now / 1000)), 'webhook-signature': theirs }),
    JSON.parse(body),
  );
  const ours = new Webhook(SECRET).sign('msg_interop', now, body);
  assert.deepEqual(new StandardWebhook(SECRET.slice(6)).verify(body, ours), JSON.parse(body));
  new SvixWebhook(SECRET).verify(body, ours); // throws on failure
  assert.throws(() => new SvixWebhook(SECRET).verify(`${body} `, ours));
});

test('large and non-ASCII bodies, and instances reused after memory growth', () => {
  const wh = new Webhook(SECRET);
  const other = new Webhook(SECRET);
  for (const size of [0, 1, 1023, 70_000, 3_000_000]) {
    const body = JSON.stringify({ type: 'agent-framework-resource-updated', note: 'é✓😀'.repeat(size / 8) });
    const headers = other.sign(`msg_${size}`, Date.now(), body);
    assert.equal(wh.verify(body, headers).type, 'agent-framework-resource-updated');
    assert.equal(wh.verify(Buffer.from(body), headers).type, 'agent-framework-resource-updated');
    const flipped = Buffer.from(body);
    flipped[flipped.length - 2] ^= 1;
    assert.equal(codeOf(() => wh.verify(flipped, headers)), 'no_matching_signature');
  }
});

test("Node's IncomingHttpHeaders from a real request", async () => {
  const wh = new Webhook(SECRET);
  const body = JSON.stringify({ type: 'api-key-expiration-soon', org_id: 'o', api_key_id: 'k', user_id: 'u', expires_at: 'e' });
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try {
        res.end(wh.verify(Buffer.concat(chunks), req.headers).type);
      } catch (e) {
        res.statusCode = 400;
        res.end(e.code);
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const post = (headers, payload) => new Promise((resolve, reject) => {
    const req = request({ port: server.address().port, host: '127.0.0.1', method: 'POST', headers }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve([res.statusCode, text]));
    });
    req.on('error', reject);
    req.end(payload);
  });
  const signed = wh.sign('msg_http', Date.now(), body);
  const mixedCase = Object.fromEntries(Object.entries(signed).map(([k, v]) => [k.replace(/(^|-)\w/g, (s) => s.toUpperCase()), v]));
  assert.deepEqual(await post(mixedCase, body), [200, 'api-key-expiration-soon']);
  assert.deepEqual(await post(mixedCase, body.replace('"o"', '"p"')), [400, 'no_matching_signature']);
  server.close();
});
