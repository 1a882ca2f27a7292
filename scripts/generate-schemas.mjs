#!/usr/bin/env node
// Writes packages/core/schemas/<contract>.schema.json (JSON Schema draft 2020-12) for every wire
// contract, from the BUILT @creto/core (Node 20 cannot import the TypeScript sources directly).
// The "contract → schema text" function lives in core's wire module (`contractJsonSchemaText`),
// shared with the drift test `packages/core/src/wire/schemas.test.ts`, so the two cannot diverge.
//
// Usage:
//   (cd packages/core && npx tsup) && node scripts/generate-schemas.mjs
//   node scripts/generate-schemas.mjs --check          # exit 1 if a checked-in schema is stale
//   node scripts/generate-schemas.mjs --from <module>  # use another build of core (path or URL)
import { mkdir, readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const check = args.includes('--check');
const fromIndex = args.indexOf('--from');
const fromArg = fromIndex >= 0 ? args[fromIndex + 1] : undefined;
if (fromIndex >= 0 && fromArg === undefined) fail('--from needs a module path');

const root = new URL('../', import.meta.url);
const schemaDir = new URL('packages/core/schemas/', root);
const moduleUrl =
  fromArg === undefined
    ? new URL('packages/core/dist/index.js', root)
    : fromArg.startsWith('file:')
      ? new URL(fromArg)
      : pathToFileURL(isAbsolute(fromArg) ? fromArg : resolve(process.cwd(), fromArg));

/** @param {string} message */
function fail(message) {
  console.error(`generate-schemas: ${message}`);
  process.exit(1);
}

let core;
try {
  core = await import(moduleUrl.href);
} catch (error) {
  fail(`cannot load ${moduleUrl.href} (build core first: cd packages/core && npx tsup)\n${error}`);
}
if (typeof core.contractJsonSchemaText !== 'function' || !Array.isArray(core.WIRE_CONTRACT_NAMES)) {
  fail(`${moduleUrl.href} does not export the wire module (contractJsonSchemaText, WIRE_CONTRACT_NAMES)`);
}

/** @type {readonly string[]} */
const names = core.WIRE_CONTRACT_NAMES;
const expected = new Map(names.map((name) => [`${name}.schema.json`, core.contractJsonSchemaText(name)]));

await mkdir(schemaDir, { recursive: true });
const present = (await readdir(schemaDir)).filter((file) => file.endsWith('.schema.json'));
const stale = [];

for (const [file, text] of expected) {
  const url = new URL(file, schemaDir);
  const current = present.includes(file) ? await readFile(url, 'utf8') : undefined;
  if (current === text) continue;
  stale.push(file);
  if (!check) await writeFile(url, text);
}
for (const file of present) {
  if (expected.has(file)) continue;
  stale.push(file);
  if (!check) await unlink(new URL(file, schemaDir));
}

if (check) {
  if (stale.length > 0) fail(`out of date: ${stale.join(', ')} (run node scripts/generate-schemas.mjs)`);
  console.log(`generate-schemas: ${expected.size} schemas up to date`);
} else {
  console.log(
    `generate-schemas: ${expected.size} schemas in packages/core/schemas` +
      (stale.length > 0 ? ` (updated: ${stale.join(', ')})` : ' (no change)'),
  );
}
