import { z } from 'zod';

/** Metadata the wire contracts attach to their schemas for JSON Schema generation. */
export interface WireSchemaMeta {
  /** Name of the definition under `$defs` when the schema is shared (e.g. `Uuid`). */
  id?: string;
  /** Human-readable title of a top-level contract. */
  title?: string;
  /** What the value means and how it is encoded. */
  description?: string;
  /** JSON Schema `maxProperties`, for open objects whose member count a zod check bounds. */
  maxProperties?: number;
  /** JSON Schema `pattern`, for strings whose format a zod check tests without running that regex. */
  pattern?: string;
}

/**
 * The registry holding the metadata of the wire schemas. It is private to the wire module
 * (rather than zod's global registry) so that ids cannot clash with a host's own schemas and
 * loading two copies of `@creto/core` does not register an id twice.
 */
export const wireRegistry = z.registry<WireSchemaMeta>();

/** Attaches metadata to a schema in {@link wireRegistry} and returns the schema. */
export function withMeta<T extends z.core.$ZodType>(schema: T, meta: WireSchemaMeta): T {
  wireRegistry.add(schema, meta);
  return schema;
}
