#!/usr/bin/env node
// Runs the compiled unit specs (build/src/**/*.spec.js) and e2e specs (build/test/**/*.e2e-spec.js)
// with Node's test runner. Node 20's runner has no glob support, hence this file.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const scopes = { unit: ['build/src'], e2e: ['build/test'], all: ['build/src', 'build/test'] };
const scope = process.argv[2] ?? 'all';
const roots = scopes[scope];
if (!roots) {
  console.error(`usage: run-tests.mjs [${Object.keys(scopes).join('|')}] [extra node --test args]`);
  process.exit(2);
}

function specs(dir) {
  let found = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found = found.concat(specs(path));
    else if (entry.endsWith('.spec.js') || entry.endsWith('.e2e-spec.js')) found.push(path);
  }
  return found;
}

const files = roots.flatMap(specs).sort();
if (files.length === 0) {
  console.error('No test files found; did the test build run?');
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--enable-source-maps', '--test', ...process.argv.slice(3), ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
