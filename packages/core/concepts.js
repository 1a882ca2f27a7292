// The concept folders of @creto/core that are published as subpath exports (`@creto/core/<name>`).
// scripts/sync-exports.mjs keeps package.json's `exports` map in step with this list.
export const CONCEPTS = [
  'canonical',
  'crypto',
  'decimal',
  'delegation',
  'encoding',
  'errors',
  'identity',
  'ids',
  'time',
  'wire',
];
