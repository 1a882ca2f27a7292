import { defineConfig } from 'tsup';
import { tsupConfig } from '../../tsup.base.js';

// `@creto/testing/contracts` is its own entry: it imports vitest, which plain fakes do not need;
// `@creto/testing/telemetry` too: it imports the OpenTelemetry SDK (optional peers).
export default defineConfig(
  tsupConfig({
    index: 'src/index.ts',
    'contracts/index': 'src/contracts/index.ts',
    'telemetry/index': 'src/telemetry/index.ts',
  }),
);
