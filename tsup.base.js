// Shared tsup settings: ESM only, one bundle per entry, declarations next to the JS.
/** @param {Record<string, string>} [entry] */
export function tsupConfig(entry = { index: 'src/index.ts' }) {
  return {
    entry,
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    dts: true,
    sourcemap: true,
    clean: true,
    splitting: true,
    treeshake: true,
  };
}
