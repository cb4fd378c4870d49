// Demo webhook receiver: stores every POST /webhook (raw body + headers) in memory and serves a page that verifies each one in the browser with @edgehook/sdk.
//
// Run: node demo/receiver.mjs   (after scripts/test-sdk.sh has built pkg/dist)
// Env: EDGEHOOK_DEMO_PORT (default 8790), EDGEHOOK_DEMO_SECRET (the demo destination's whsec_ secret).
// POST /secrets with another destination's secret as the body (204) adds it: the page, which reads
// them all at /config in this local demo, verifies every destination pointed here. Otherwise type
// the secrets into the page.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const port = Number(process.env.EDGEHOOK_DEMO_PORT || 8790);
const secrets = process.env.EDGEHOOK_DEMO_SECRET ? [process.env.EDGEHOOK_DEMO_SECRET] : [];
const MAX_BODY = 1024 * 1024;
const MAX_KEPT = 200;
const MAX_SECRETS = 20;
const SECRET = /^whsec_[A-Za-z0-9+/]+={0,2}$/;

// Received webhooks, oldest first. The body is kept as base64 so that its bytes reach the page unchanged.
const received = [];
let nextSeq = 1;

const STATIC = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/sdk.mjs': ['../pkg/dist/index.mjs', 'text/javascript; charset=utf-8'],
};

function send(res, status, body, type = 'application/json') {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body));
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new Error('body too large'));
        req.destroy();
      } else {
        chunks.push(chunk);
      }
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, 'http://localhost');
  try {
    if (req.method === 'POST' && url.pathname === '/webhook') {
      const body = await readBody(req);
      received.push({ seq: nextSeq++, received_at: new Date().toISOString(), headers: req.headers, body_base64: body.toString('base64') });
      if (received.length > MAX_KEPT) received.shift();
      return send(res, 200, { received: true });
    }
    if (req.method === 'GET' && url.pathname === '/webhooks') {
      const after = Number(url.searchParams.get('after') || 0);
      return send(res, 200, received.filter((w) => w.seq > after));
    }
    if (req.method === 'GET' && url.pathname === '/config') {
      return send(res, 200, { secrets });
    }
    if (req.method === 'POST' && url.pathname === '/secrets') {
      const added = (await readBody(req)).toString('utf8').trim();
      if (!SECRET.test(added) || added.length > 200) return send(res, 422, { error: 'the body must be one whsec_ secret' });
      if (!secrets.includes(added)) secrets.push(added);
      if (secrets.length > MAX_SECRETS) secrets.splice(1, 1); // the demo destination's own secret stays
      res.writeHead(204).end();
      return;
    }
    const file = req.method === 'GET' && STATIC[url.pathname];
    if (file) return send(res, 200, await readFile(join(here, file[0])), file[1]);
    send(res, 404, { error: 'not found' });
  } catch (err) {
    send(res, 400, { error: String(err.message || err) });
  }
});

server.listen(port, '127.0.0.1', () => {
  console.log(`edgehook demo receiver on http://127.0.0.1:${port} (POST /webhook, page at /)`);
});
