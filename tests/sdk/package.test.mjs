// Packs pkg/ with npm, installs the tarball into a temporary project, and imports it as ESM, as CommonJS, and in workerd (Cloudflare Workers' runtime) through miniflare.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let project;
const workerd = join(repo, 'node_modules', 'workerd', 'bin', 'workerd'); // the runtime wrangler dev uses

// A program that verifies the Standard Webhooks vector and reports a tampered body's error code.
const CHECK = `
const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const headers = { 'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek', 'webhook-timestamp': '1614265330', 'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=' };
const wh = new Webhook(secret, { clock: () => 1614265330000 });
let code = 'none';
try { wh.verify('{"test": 2432232315}', headers); } catch (e) { code = (e instanceof WebhookVerificationError) + ':' + e.code; }
const result = JSON.stringify({ event: wh.verify('{"test": 2432232314}', headers), code });
`;

before(() => {
  project = mkdtempSync(join(tmpdir(), 'edgehook-sdk-install-'));
  const npm = (...args) => execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd: project, encoding: 'utf8' });
  const tarball = npm('pack', join(repo, 'pkg'), '--pack-destination', project, '--silent').trim().split('\n').pop();
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  npm('install', '--offline', join(project, tarball));
});

after(() => rmSync(project, { recursive: true, force: true }));

const expected = { event: { test: 2432232314 }, code: 'true:no_matching_signature' };

test('the tarball holds the built package and its types', () => {
  const manifest = JSON.parse(readFileSync(join(project, 'node_modules/@edgehook/sdk/package.json'), 'utf8'));
  assert.equal(manifest.name, '@edgehook/sdk');
  for (const file of ['dist/index.mjs', 'dist/index.cjs', 'dist/workerd.mjs', 'dist/edgehook_sdk_bg.wasm', 'dist/index.d.ts', 'dist/index.d.cts', 'README.md']) {
    assert.ok(readFileSync(join(project, 'node_modules/@edgehook/sdk', file)).length > 0, file);
  }
});

test('imports as ESM', () => {
  writeFileSync(join(project, 'esm.mjs'), `import { Webhook, WebhookVerificationError } from '@edgehook/sdk';${CHECK}console.log(result);`);
  assert.deepEqual(JSON.parse(execFileSync(process.execPath, ['esm.mjs'], { cwd: project, encoding: 'utf8' })), expected);
});

test('requires as CommonJS', () => {
  writeFileSync(join(project, 'cjs.cjs'), `const { Webhook, WebhookVerificationError } = require('@edgehook/sdk');${CHECK}console.log(result);`);
  assert.deepEqual(JSON.parse(execFileSync(process.execPath, ['cjs.cjs'], { cwd: project, encoding: 'utf8' })), expected);
});

test('runs in workerd, bundled the way wrangler bundles (workerd condition, .wasm as a module)', async () => {
  writeFileSync(join(project, 'worker.mjs'), `import { Webhook, WebhookVerificationError } from '@edgehook/sdk';
export default { test() { ${CHECK} if (result !== ${JSON.stringify(JSON.stringify(expected))}) throw new Error(result); console.log('edgehook-sdk verified in workerd'); } };`);
  const out = await esbuild.build({
    entryPoints: [join(project, 'worker.mjs')],
    bundle: true, format: 'esm', write: false, outdir: project,
    conditions: ['workerd', 'worker', 'browser'], platform: 'neutral', external: ['*.wasm'], logLevel: 'silent',
  });
  const script = new TextDecoder().decode(out.outputFiles[0].contents);
  assert.match(script, /edgehook_sdk_bg\.wasm/, 'the workerd entry imports the wasm file');
  writeFileSync(join(project, 'bundle.mjs'), script.replace(/"[^"]*edgehook_sdk_bg\.wasm"/, '"./edgehook_sdk_bg.wasm"'));
  writeFileSync(join(project, 'edgehook_sdk_bg.wasm'), readFileSync(join(project, 'node_modules/@edgehook/sdk/dist/edgehook_sdk_bg.wasm')));
  writeFileSync(join(project, 'config.capnp'), `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (services = [(name = "main", worker = .worker)]);
const worker :Workerd.Worker = (
  modules = [(name = "bundle.mjs", esModule = embed "bundle.mjs"), (name = "edgehook_sdk_bg.wasm", wasm = embed "edgehook_sdk_bg.wasm")],
  compatibilityDate = "2025-01-01",
);`);
  // \`workerd test\` runs the worker's test() handler and fails when it throws.
  const run = spawnSync(workerd, ['test', 'config.capnp'], { cwd: project, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stdout + run.stderr);
  assert.match(run.stdout + run.stderr, /edgehook-sdk verified in workerd/);
});
