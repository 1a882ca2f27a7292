import { defineConfig } from 'tsup';
import { tsupConfig } from '../../tsup.base.js';
import { CONCEPTS, EXTRA_ENTRIES } from './concepts.js';

// One entry per concept folder, so `@creto/core/<concept>` imports only what it needs.
export default defineConfig(
  tsupConfig({
    index: 'src/index.ts',
    ...Object.fromEntries(CONCEPTS.map((concept) => [`${concept}/index`, `src/${concept}/index.ts`])),
    ...Object.fromEntries(Object.entries(EXTRA_ENTRIES).map(([name, source]) => [name, source])),
  }),
);
