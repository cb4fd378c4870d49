// End-to-end test of the demo: starts demo/receiver.mjs, posts signed webhooks, and checks in headless Chromium that the page shows a check for valid ones and a cross with the reason for bad or tampered ones.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from './chromium.mjs';
import { Webhook } from '../../pkg/dist/index.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const secret = Webhook.generateSecret();
let receiver;
let browser;
let base;

const freePort = () => new Promise((resolve, reject) => {
  const s = createServer();
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});

async function waitForReceiver() {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${base}/config`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('demo receiver did not start');
}

async function post(body, headers) {
  const res = await fetch(`${base}/webhook`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  assert.equal(res.status, 200);
}

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  receiver = spawn(process.execPath, [join(repo, 'demo', 'receiver.mjs')], {
    env: { ...process.env, EDGEHOOK_DEMO_PORT: String(port), EDGEHOOK_DEMO_SECRET: secret },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await waitForReceiver();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  receiver?.kill('SIGTERM');
});

test('the page verifies webhooks in the browser and shows why tampered ones fail', async () => {
  const page = await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.goto(base);
  await page.waitForSelector('body[data-ready="true"]');
  assert.equal(await page.inputValue('#secret'), secret);

  const signer = new Webhook(secret);
  const valid = JSON.stringify({ type: 'conversation-post-processing-complete', post_processing_type: 'summary', conversation_id: 'c1', org_id: 'o1' });
  await post(valid, signer.sign('msg_valid', Date.now(), valid));
  const forged = JSON.stringify({ type: 'api-key-expiration-soon', org_id: 'o1', api_key_id: 'k', user_id: 'u', expires_at: '2030-01-01T00:00:00Z' });
  await post(forged, new Webhook(Webhook.generateSecret()).sign('msg_forged', Date.now(), forged));
  const amigoOnly = JSON.stringify({ type: 'agent-framework-resource-updated', org_id: 'o1', resource_type: 'agent', resource_id: 'r1', updated_at: '2030-01-01T00:00:00Z' });
  const amigoHeaders = signer.sign('msg_amigo', Date.now(), amigoOnly);
  await post(amigoOnly, { 'x-amigo-request-timestamp': amigoHeaders['x-amigo-request-timestamp'], 'x-amigo-request-signature': amigoHeaders['x-amigo-request-signature'] });

  const card = (seq) => page.locator(`li.webhook[data-seq="${seq}"]`);
  await card(3).waitFor();

  assert.equal(await card(1).getAttribute('data-status'), 'valid');
  assert.equal(await card(1).locator('.mark').textContent(), '✓');
  assert.equal(await card(1).locator('.reason').textContent(), 'verified: conversation-post-processing-complete');

  assert.equal(await card(2).getAttribute('data-status'), 'invalid');
  assert.equal(await card(2).locator('.mark').textContent(), '✗');
  assert.match(await card(2).locator('.reason').textContent(), /^no_matching_signature: /);

  assert.equal(await card(3).getAttribute('data-status'), 'valid');
  assert.equal(await card(3).locator('.reason').textContent(), 'verified: agent-framework-resource-updated');

  await card(1).locator('button.tamper').click();
  assert.equal(await card(1).getAttribute('data-status'), 'invalid');
  assert.equal(await card(1).locator('.mark').textContent(), '✗');
  assert.match(await card(1).locator('.reason').textContent(), /^no_matching_signature: no signature matches the body/);
  assert.match(await card(1).locator('.title').textContent(), /tampered/);

  // A wrong secret typed into the page turns every card red; the right one turns them back.
  await page.fill('#secret', Webhook.generateSecret());
  assert.equal(await card(3).getAttribute('data-status'), 'invalid');
  await page.fill('#secret', 'not-a-secret');
  assert.match(await page.textContent('#secret-status'), /invalid secret/);
  await page.fill('#secret', secret);
  assert.equal(await card(3).getAttribute('data-status'), 'valid');
  assert.deepEqual(pageErrors, []);
});

test("a second destination's secret handed to the receiver verifies its webhooks too", async () => {
  const second = Webhook.generateSecret();
  const add = (body) => fetch(`${base}/secrets`, { method: 'POST', body });
  assert.equal((await add(second)).status, 204);
  assert.equal((await add('not-a-secret')).status, 422);
  assert.deepEqual((await (await fetch(`${base}/config`)).json()).secrets, [secret, second]);

  const page = await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.goto(base);
  await page.waitForSelector('body[data-ready="true"]');
  assert.equal(await page.inputValue('#secret'), `${secret} ${second}`);
  const body = JSON.stringify({ type: 'api-key-expiration-soon', org_id: 'o1', api_key_id: 'k', user_id: 'u', expires_at: '2030-01-01T00:00:00Z' });
  await post(body, new Webhook(second).sign('msg_second', Date.now(), body));
  const card = page.locator('li.webhook[data-status]').filter({ hasText: 'msg_second' });
  await card.waitFor();
  assert.equal(await card.getAttribute('data-status'), 'valid');
  assert.equal(await card.locator('.reason').textContent(), 'verified: api-key-expiration-soon');
  // Webhooks of the first destination still verify with both secrets given.
  const first = page.locator('li.webhook').filter({ hasText: 'msg_valid' });
  assert.equal(await first.getAttribute('data-status'), 'valid');
  assert.deepEqual(pageErrors, []);
});
