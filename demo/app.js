// The demo page's script: polls the receiver, verifies each stored webhook with @edgehook/sdk, and lets you tamper with a body to see verification fail.
import { Webhook, WebhookVerificationError } from '/sdk.mjs';

const list = document.getElementById('webhooks');
const secretInput = document.getElementById('secret');
const secretStatus = document.getElementById('secret-status');
const items = []; // { webhook, bodyBytes, tampered, element }
let verifier = null;
let lastSeq = 0;

function fromBase64(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

// One secret, or several separated by spaces or commas (one per destination sending here).
function setSecret(text) {
  const secrets = text.split(/[\s,]+/).filter(Boolean);
  try {
    verifier = secrets.length ? new Webhook(secrets.length === 1 ? secrets[0] : secrets) : null;
    secretStatus.textContent = verifier ? '' : 'enter the secret to verify';
  } catch (err) {
    verifier = null;
    secretStatus.textContent = `invalid secret: ${err.message}`;
  }
  items.forEach(render);
}

// Verifies one webhook exactly as received (or tampered) and shows the outcome.
function render(item) {
  const { element, webhook, bodyBytes } = item;
  const mark = element.querySelector('.mark');
  const reason = element.querySelector('.reason');
  const title = element.querySelector('.title');
  element.querySelector('pre').textContent = new TextDecoder().decode(bodyBytes);
  title.textContent = `#${webhook.seq} · ${webhook.headers['webhook-id'] || webhook.headers['x-amigo-idempotent-key'] || 'no id'} · ${webhook.received_at}${item.tampered ? ' · tampered' : ''}`;
  if (!verifier) {
    element.dataset.status = 'pending';
    mark.textContent = '…';
    reason.textContent = 'no secret';
    return;
  }
  try {
    const event = verifier.verify(bodyBytes, webhook.headers);
    element.dataset.status = 'valid';
    mark.textContent = '✓';
    reason.textContent = `verified: ${event.type}`;
  } catch (err) {
    element.dataset.status = 'invalid';
    mark.textContent = '✗';
    reason.textContent = err instanceof WebhookVerificationError ? `${err.code}: ${err.message}` : String(err);
    element.dataset.code = err.code || 'error';
  }
}

function add(webhook) {
  const element = document.createElement('li');
  element.className = 'webhook';
  element.dataset.seq = webhook.seq;
  element.innerHTML = '<span class="mark"></span><div><div class="title"></div><div class="reason"></div></div><button class="tamper" type="button">Tamper</button><pre></pre>';
  const item = { webhook, bodyBytes: fromBase64(webhook.body_base64), tampered: false, element };
  // Flips one bit of a byte in the middle of the body: the signature no longer matches.
  element.querySelector('.tamper').addEventListener('click', () => {
    if (item.bodyBytes.length === 0) return;
    const copy = item.bodyBytes.slice();
    copy[copy.length >> 1] ^= 0x01;
    item.bodyBytes = copy;
    item.tampered = true;
    render(item);
  });
  items.push(item);
  list.prepend(element);
  document.getElementById('empty').hidden = true;
  render(item);
}

async function poll() {
  try {
    const res = await fetch(`/webhooks?after=${lastSeq}`);
    for (const webhook of await res.json()) {
      lastSeq = Math.max(lastSeq, webhook.seq);
      add(webhook);
    }
  } catch {
    // The receiver restarted or is gone: try again on the next tick.
  }
  setTimeout(poll, 500);
}

secretInput.addEventListener('input', () => setSecret(secretInput.value));
const config = await fetch('/config').then((r) => r.json()).catch(() => ({}));
if (config.secrets?.length) secretInput.value = config.secrets.join(' ');
setSecret(secretInput.value);
document.body.dataset.ready = 'true';
poll();
