// The concept folders of @creto/core that are published as subpath exports (`@creto/core/<name>`).
// scripts/sync-exports.mjs keeps package.json's `exports` map in step with this list.
export const CONCEPTS = [
  'audit',
  'authz',
  'canonical',
  'clients',
  'consensus',
  'crypto',
  'decimal',
  'delegation',
  'encoding',
  'errors',
  'events',
  'health',
  'idempotency',
  'identity',
  'ids',
  'memory',
  'nhi',
  'options',
  'platform',
  'resilience',
  'saga',
  'telemetry',
  'time',
  'wire',
];

// Entries that are not a concept's index: the Node-only crypto provider, kept apart so that the
// main entry imports no Node built-in.
export const EXTRA_ENTRIES = { 'crypto/node': 'src/crypto/node.ts' };
