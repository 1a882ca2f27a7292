import { EnablementError } from '@creto/core';
import { z } from 'zod';

/**
 * What a schema name may look like: a lowercase letter or `_`, then lowercase letters, digits or
 * `_`, 63 characters at most (PostgreSQL's identifier limit). Names are still double-quoted in
 * SQL; the pattern keeps them from ever needing escapes.
 */
export const SCHEMA_NAME_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/** The schema the stores use when none is given. */
export const DEFAULT_SCHEMA = 'creto';

/** zod schema of a `schema` option: {@link SCHEMA_NAME_PATTERN}, not `pg_*` nor `information_schema`. */
export const schemaNameSchema = z
  .string()
  .regex(SCHEMA_NAME_PATTERN, { error: 'expected a lowercase SQL identifier ([a-z_][a-z0-9_]{0,62})' })
  .refine((name) => !name.startsWith('pg_') && name !== 'information_schema', {
    error: 'pg_* and information_schema are reserved',
  });

/**
 * Validates `schema` and returns it double-quoted for SQL text. Table and schema names are the
 * only text spliced into statements: they come from this check, never from request input.
 */
export function quoteSchema(schema: unknown, field = 'schema'): string {
  const result = schemaNameSchema.safeParse(schema);
  if (!result.success) {
    throw new EnablementError(
      'PL-400',
      `${field}: ${result.error.issues[0]?.message ?? 'invalid schema name'}`,
    );
  }
  return `"${result.data}"`;
}

/** `"schema"."table"` for a validated schema and one of the package's own table names. */
export function qualified(quotedSchema: string, table: string): string {
  return `${quotedSchema}."${table}"`;
}
