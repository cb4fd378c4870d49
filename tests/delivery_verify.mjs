// Verifies received webhooks with edgehook's own SDK (the npm package built into pkg/dist),
// for the delivery tests: reads {pkg, cases: [{body_b64, headers, secrets}]} as JSON on stdin and
// writes one {ok, event} or {ok: false, code, message} per case as JSON on stdout.
import { pathToFileURL } from 'node:url';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const { Webhook } = await import(pathToFileURL(input.pkg).href);

const results = input.cases.map(({ body_b64, headers, secrets }) => {
  try {
    const webhook = new Webhook(secrets.length === 1 ? secrets[0] : secrets);
    const event = webhook.verify(Buffer.from(body_b64, 'base64'), headers);
    return { ok: true, event };
  } catch (e) {
    return { ok: false, code: e.code ?? null, message: String(e.message ?? e) };
  }
});
process.stdout.write(JSON.stringify(results));
