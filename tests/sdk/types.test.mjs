// The package's typed union of events against the event catalog: every type the catalog lists
// (the producer's and the operational ones) has its interface, nothing else, and TypeScript
// accepts an exhaustive switch over the union and rejects a missing case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const catalog = JSON.parse(readFileSync(join(repo, 'core', 'event_catalog.json'), 'utf8'));
const types = readFileSync(join(repo, 'pkg', 'index.d.ts'), 'utf8');

test('the typed union names exactly the catalog types', () => {
  const declared = [...types.matchAll(/^\s+type: '([^']+)';$/gm)].map((m) => m[1]);
  assert.deepEqual([...declared].sort(), catalog.map((d) => d.type).sort());
  for (const d of catalog.filter((d) => d.operational)) {
    assert.match(types, new RegExp(`type: '${d.type.replace('.', '\\.')}';`));
  }
});

function compile(body) {
  const dir = mkdtempSync(join(tmpdir(), 'edgehook-types-'));
  try {
    copyFileSync(join(repo, 'pkg', 'index.d.ts'), join(dir, 'index.d.ts'));
    writeFileSync(join(dir, 'use.ts'), `import type { WebhookEvent } from './index';\n${body}\n`);
    const tsc = join(repo, 'node_modules', '.bin', 'tsc');
    return spawnSync(tsc, ['--noEmit', '--strict', join(dir, 'use.ts')], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const CASES = catalog.map((d) => `    case '${d.type}': return 1;`);

test('an exhaustive switch over the union compiles, one missing a case does not', () => {
  const program = (cases) =>
    `export function f(e: WebhookEvent): number {\n  switch (e.type) {\n${cases.join('\n')}\n    default: { const never: never = e; return never; }\n  }\n}`;
  const whole = compile(program(CASES));
  assert.equal(whole.status, 0, whole.stdout + whole.stderr);
  const missing = compile(program(CASES.filter((c) => !c.includes('delivery.exhausted'))));
  assert.notEqual(missing.status, 0, 'a missing operational case must not compile');
  const fields = compile(`export const x = (e: WebhookEvent) => e.type === 'delivery.exhausted' ? e.error_class : '';`);
  assert.equal(fields.status, 0, fields.stdout + fields.stderr);
});
