import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const packages = ['core', 'runtime', 'metering', 'oversight', 'messaging', 'testing', 'enablement'];

// Tests run against the TypeScript sources, so `@creto/x` resolves to packages/x/src.
const alias = packages.map((name) => ({
  find: new RegExp(`^@creto/${name}$`),
  replacement: fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url)),
}));

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
    ],
  },
});
