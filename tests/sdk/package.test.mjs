// Packs pkg/ with npm, installs the tarball into a temporary project, and imports both entries (`@edgehook/sdk` and `@edgehook/sdk/ed25519`) as ESM, as CommonJS, and in workerd (Cloudflare Workers' runtime).
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

// The same for the ed25519 entry: the Standard Webhooks `v1a` vector, verified with its public key.
const CHECK_ED25519 = `
const headers = { 'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek', 'webhook-timestamp': '1614265330', 'webhook-signature': 'v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag==' };
const wh = new Webhook('whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=', { clock: () => 1614265330000 });
let code = 'none';
try { wh.verify('{"test": 2432232315}', headers); } catch (e) { code = (e instanceof WebhookVerificationError) + ':' + e.code; }
const result = JSON.stringify({ event: wh.verify('{"test": 2432232314}', headers), code });
`;

// Each entry: its specifier, its check, and the wasm file its Workers build imports.
const ENTRIES = [
  ['@edgehook/sdk', CHECK, 'edgehook_sdk_bg.wasm'],
  ['@edgehook/sdk/ed25519', CHECK_ED25519, 'edgehook_sdk_ed25519_bg.wasm'],
];

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
  const files = ['dist/index.mjs', 'dist/index.cjs', 'dist/workerd.mjs', 'dist/edgehook_sdk_bg.wasm', 'dist/index.d.ts', 'dist/index.d.cts', 'README.md',
    'dist/ed25519.mjs', 'dist/ed25519.cjs', 'dist/ed25519-workerd.mjs', 'dist/edgehook_sdk_ed25519_bg.wasm', 'dist/ed25519.d.ts', 'dist/ed25519.d.cts'];
  for (const file of files) {
    assert.ok(readFileSync(join(project, 'node_modules/@edgehook/sdk', file)).length > 0, file);
  }
});

for (const [specifier, check, wasmFile] of ENTRIES) {
  const tag = specifier.replace(/\W/g, '_');

  test(`${specifier} imports as ESM`, () => {
    writeFileSync(join(project, `${tag}.mjs`), `import { Webhook, WebhookVerificationError } from '${specifier}';${check}console.log(result);`);
    assert.deepEqual(JSON.parse(execFileSync(process.execPath, [`${tag}.mjs`], { cwd: project, encoding: 'utf8' })), expected);
  });

  test(`${specifier} requires as CommonJS`, () => {
    writeFileSync(join(project, `${tag}.cjs`), `const { Webhook, WebhookVerificationError } = require('${specifier}');${check}console.log(result);`);
    assert.deepEqual(JSON.parse(execFileSync(process.execPath, [`${tag}.cjs`], { cwd: project, encoding: 'utf8' })), expected);
  });

  test(`${specifier} runs in workerd, bundled the way wrangler bundles (workerd condition, .wasm as a module)`, async () => {
    const dir = mkdtempSync(join(project, 'workerd-'));
    writeFileSync(join(dir, 'worker.mjs'), `import { Webhook, WebhookVerificationError } from '${specifier}';
export default { test() { ${check} if (result !== ${JSON.stringify(JSON.stringify(expected))}) throw new Error(result); console.log('edgehook-sdk verified in workerd'); } };`);
    const out = await esbuild.build({
      entryPoints: [join(dir, 'worker.mjs')],
      bundle: true, format: 'esm', write: false, outdir: dir, nodePaths: [join(project, 'node_modules')],
      conditions: ['workerd', 'worker', 'browser'], platform: 'neutral', external: ['*.wasm'], logLevel: 'silent',
    });
    const script = new TextDecoder().decode(out.outputFiles[0].contents);
    assert.ok(script.includes(wasmFile), `the workerd entry imports ${wasmFile}`);
    writeFileSync(join(dir, 'bundle.mjs'), script.replace(new RegExp(`"[^"]*${wasmFile.replace('.', '\\.')}"`), `"./${wasmFile}"`));
    writeFileSync(join(dir, wasmFile), readFileSync(join(project, 'node_modules/@edgehook/sdk/dist', wasmFile)));
    writeFileSync(join(dir, 'config.capnp'), `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (services = [(name = "main", worker = .worker)]);
const worker :Workerd.Worker = (
  modules = [(name = "bundle.mjs", esModule = embed "bundle.mjs"), (name = "${wasmFile}", wasm = embed "${wasmFile}")],
  compatibilityDate = "2025-01-01",
);`);
    // \`workerd test\` runs the worker's test() handler and fails when it throws.
    const run = spawnSync(workerd, ['test', 'config.capnp'], { cwd: dir, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(run.stdout + run.stderr, /edgehook-sdk verified in workerd/);
  });
}
