import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { contractJsonSchema, contractJsonSchemaText, WIRE_CONTRACT_NAMES } from './contracts.js';

const schemaDir = new URL('../../schemas/', import.meta.url);
const REGENERATE = 'run: (cd packages/core && npx tsup) && node scripts/generate-schemas.mjs';

describe('checked-in JSON Schemas (packages/core/schemas)', () => {
  it.each(WIRE_CONTRACT_NAMES)('%s.schema.json is exactly what the codec generates now', (name) => {
    const file = new URL(`${name}.schema.json`, schemaDir);
    let checkedIn: string;
    try {
      checkedIn = readFileSync(file, 'utf8');
    } catch {
      throw new Error(`missing ${name}.schema.json; ${REGENERATE}`);
    }
    // A failure here means a codec changed without regenerating the schemas (or vice versa).
    expect(checkedIn, `schema drift in ${name}.schema.json; ${REGENERATE}`).toBe(
      contractJsonSchemaText(name),
    );
  });

  it('holds no schema for a contract that no longer exists', () => {
    const files = readdirSync(schemaDir).filter((file) => file.endsWith('.schema.json'));
    expect(files.sort()).toEqual(WIRE_CONTRACT_NAMES.map((name) => `${name}.schema.json`).sort());
  });

  it('targets draft 2020-12 and titles every contract', () => {
    for (const name of WIRE_CONTRACT_NAMES) {
      const schema = contractJsonSchema(name);
      expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(typeof schema.title).toBe('string');
    }
    expect(() => contractJsonSchema('nope' as never)).toThrow(TypeError);
  });
});
