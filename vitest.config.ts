import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const packages = [
  'core',
  'runtime',
  'metering',
  'oversight',
  'messaging',
  'testing',
  'enablement',
  'nats',
  'redis',
  'postgres',
];

const source = (path: string) => fileURLToPath(new URL(`./packages/${path}`, import.meta.url));

// Tests run against the TypeScript sources: `@creto/x` resolves to packages/x/src/index.ts and a
// subpath `@creto/x/y` to packages/x/src/y/index.ts (the one file entry is listed first).
const alias = [
  { find: /^@creto\/core\/crypto\/node$/, replacement: source('core/src/crypto/node.ts') },
  ...packages.map((name) => ({
    find: new RegExp(`^@creto/${name}$`),
    replacement: source(`${name}/src/index.ts`),
  })),
  { find: /^@creto\/([a-z]+)\/([a-z-]+)$/, replacement: source('$1/src/$2/index.ts') },
];

export default defineConfig({
  resolve: { alias },
  test: {
    reporters: ['default', './scripts/summary-reporter.ts'],
    testTimeout: 30_000,
    pool: 'forks',
    // One project per package, so `vitest run --project core` runs one package's tests.
    projects: [
      ...packages.map((name) => ({
        extends: true as const,
        test: { name, include: [`packages/${name}/src/**/*.test.ts`] },
      })),
      { extends: true as const, test: { name: 'examples', include: ['examples/**/*.test.ts'] } },
      {
        extends: true as const,
        // One file at a time: the distributed tests share one NATS server and one subject.
        test: { name: 'integration', include: ['tests/integration/**/*.test.ts'], fileParallelism: false },
      },
    ],
  },
});
