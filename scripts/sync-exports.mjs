#!/usr/bin/env node
// Writes the `exports` map of @creto/core from packages/core/concepts.js: `.` plus one subpath
// per concept folder, types first (what publint and attw expect). `--check` fails on drift instead.
import { readFileSync, writeFileSync } from 'node:fs';
import { CONCEPTS, EXTRA_ENTRIES } from '../packages/core/concepts.js';

const file = new URL('../packages/core/package.json', import.meta.url);
const manifest = JSON.parse(readFileSync(file, 'utf8'));
const entry = (base) => ({ types: `./dist/${base}.d.ts`, import: `./dist/${base}.js` });
const exports = { '.': entry('index') };
for (const concept of CONCEPTS) exports[`./${concept}`] = entry(`${concept}/index`);
for (const name of Object.keys(EXTRA_ENTRIES)) exports[`./${name}`] = entry(name);
exports['./schemas/*.json'] = './schemas/*.json';
exports['./package.json'] = './package.json';

const next = `${JSON.stringify({ ...manifest, exports }, null, 2)}\n`;
if (process.argv.includes('--check')) {
  if (next !== readFileSync(file, 'utf8')) {
    console.error('packages/core/package.json exports are out of date: run node scripts/sync-exports.mjs');
    process.exit(1);
  }
} else {
  writeFileSync(file, next);
}
