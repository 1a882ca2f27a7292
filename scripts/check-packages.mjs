#!/usr/bin/env node
// Packs every workspace package exactly as `npm publish` would, then checks the tarball with
// publint (package.json correctness) and @arethetypeswrong/cli (types resolve for ESM consumers).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const packagesDir = join(root, 'packages');
const only = process.argv.slice(2);
const out = mkdtempSync(join(tmpdir(), 'creto-pack-'));
const bin = (name) => join(root, 'node_modules', '.bin', name);
let failed = 0;

// The core exports map must list every concept folder (see packages/core/concepts.js).
try {
  execFileSync(process.execPath, [join(root, 'scripts', 'sync-exports.mjs'), '--check'], {
    stdio: 'inherit',
  });
} catch {
  failed++;
}

try {
  for (const dir of readdirSync(packagesDir).sort()) {
    const pkgDir = join(packagesDir, dir);
    const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
    if (only.length > 0 && !only.includes(dir) && !only.includes(manifest.name)) continue;
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', out], { cwd: pkgDir, encoding: 'utf8' }),
    );
    const tarball = join(out, packed.filename);
    process.stdout.write(`\n── ${manifest.name} (${packed.entryCount} files, ${packed.size} bytes)\n`);
    for (const [tool, args] of [
      ['publint', ['run', tarball, '--strict', '--pack', 'false']],
      ['attw', [tarball, '--profile', 'esm-only', '--format', 'table-flipped', '--no-emoji', '--no-color']],
    ]) {
      try {
        process.stdout.write(execFileSync(bin(tool), args, { cwd: pkgDir, encoding: 'utf8' }));
      } catch (error) {
        failed++;
        process.stdout.write(
          `${error.stdout ?? ''}${error.stderr ?? ''}\n✗ ${tool} failed for ${manifest.name}\n`,
        );
      }
    }
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}

if (failed > 0) {
  process.stderr.write(`\ncheck:packages: ${failed} check(s) failed\n`);
  process.exit(1);
}
process.stdout.write('\ncheck:packages: all packages pass publint and attw (esm-only)\n');
