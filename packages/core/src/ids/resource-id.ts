import { EnablementError } from '../errors/enablement-error.js';
import { isSandboxId, type SandboxId } from './sandbox-id.js';
import { isUuid, type Uuid } from './uuid.js';

/**
 * The unified resource identifier of spec §6.5, one variant per kind of resource, discriminated
 * by `kind`. Its text form is a URI (see {@link resourceIdToUri}).
 */
export type ResourceId =
  | { readonly kind: 'sandbox'; readonly id: SandboxId }
  | { readonly kind: 'message'; readonly id: Uuid }
  | { readonly kind: 'oversight_request'; readonly id: Uuid }
  | { readonly kind: 'subscription'; readonly id: Uuid }
  | { readonly kind: 'channel'; readonly id: Uuid }
  | { readonly kind: 'custom'; readonly product: string; readonly id: string };

/** The `kind` of each {@link ResourceId} variant. */
export type ResourceKind = ResourceId['kind'];

/** The URI prefix of each built-in (non-custom) {@link ResourceId} variant, exactly as spec §6.5 writes them. */
export const RESOURCE_URI_PREFIXES = Object.freeze({
  sandbox: 'runtime:sandbox:',
  message: 'messaging:message:',
  oversight_request: 'oversight:request:',
  subscription: 'metering:subscription:',
  channel: 'messaging:channel:',
} as const satisfies Record<Exclude<ResourceKind, 'custom'>, string>);

type BuiltinKind = keyof typeof RESOURCE_URI_PREFIXES;
const BUILTIN_KINDS = Object.keys(RESOURCE_URI_PREFIXES) as BuiltinKind[];

/** Longest `product` of a custom {@link ResourceId}, in characters. */
export const MAX_CUSTOM_PRODUCT_LENGTH = 64;
/** Longest `id` of a custom {@link ResourceId}, in characters. */
export const MAX_CUSTOM_ID_LENGTH = 512;

// A custom product is one lowercase token with no ':' so the first ':' of a URI always ends it.
const CUSTOM_PRODUCT = /^[a-z][a-z0-9_-]*$/;
// A custom id may contain ':' (e.g. `agent:<nhi>`), but only URI-safe ASCII (RFC 3986 §2.3
// unreserved plus : / @ + = %): no whitespace or control characters, no wildcards (* >).
const CUSTOM_ID = /^[A-Za-z0-9._~:/@+=%-]+$/;

function invalid(field: string, why: string): EnablementError {
  return new EnablementError('PL-400', `${field}: ${why}`);
}

/** The built-in kind whose URI prefix `uri` starts with, if any. */
function builtinPrefixOf(uri: string): BuiltinKind | undefined {
  return BUILTIN_KINDS.find((kind) => uri.startsWith(RESOURCE_URI_PREFIXES[kind]));
}

function checkCustom(product: unknown, id: unknown, field: string): void {
  if (
    typeof product !== 'string' ||
    product.length > MAX_CUSTOM_PRODUCT_LENGTH ||
    !CUSTOM_PRODUCT.test(product)
  ) {
    throw invalid(
      `${field}.product`,
      `expected 1-${MAX_CUSTOM_PRODUCT_LENGTH} characters of a-z 0-9 _ -, starting with a letter`,
    );
  }
  if (typeof id !== 'string' || id.length > MAX_CUSTOM_ID_LENGTH || !CUSTOM_ID.test(id)) {
    throw invalid(
      `${field}.id`,
      `expected 1-${MAX_CUSTOM_ID_LENGTH} characters of A-Z a-z 0-9 . _ ~ : / @ + = % -`,
    );
  }
}

/**
 * The URI of a resource (spec §6.5 `to_uri`):
 *
 * | variant | URI |
 * |---|---|
 * | `sandbox` | `runtime:sandbox:<sandbox id>` |
 * | `message` | `messaging:message:<uuid>` |
 * | `oversight_request` | `oversight:request:<uuid>` |
 * | `subscription` | `metering:subscription:<uuid>` |
 * | `channel` | `messaging:channel:<uuid>` |
 * | `custom` | `<product>:<id>` |
 *
 * The mapping is one-to-one, so {@link resourceIdFromUri} inverts it exactly. To keep it so, a
 * custom resource whose URI would begin with a built-in prefix (for instance
 * `{ product: 'runtime', id: 'sandbox:x' }`) is rejected: that text belongs to the built-in
 * variant. Every field is validated; bad input throws `PL-400`.
 *
 * @example
 * ```ts
 * resourceIdToUri({ kind: 'oversight_request', id: newUuid() }); // 'oversight:request:…'
 * resourceIdToUri({ kind: 'custom', product: 'network', id: 'api.example.com' }); // 'network:api.example.com'
 * ```
 */
export function resourceIdToUri(resource: ResourceId, field = 'resource'): string {
  if (typeof resource !== 'object' || resource === null) throw invalid(field, 'expected an object');
  const kind: unknown = resource.kind;
  if (kind === 'custom') {
    const { product, id } = resource as { product: unknown; id: unknown };
    checkCustom(product, id, field);
    const uri = `${product as string}:${id as string}`;
    const clash = builtinPrefixOf(uri);
    if (clash !== undefined) {
      throw invalid(
        field,
        `a custom resource cannot start with '${RESOURCE_URI_PREFIXES[clash]}' (reserved for ${clash} ids)`,
      );
    }
    return uri;
  }
  if (typeof kind !== 'string' || !Object.hasOwn(RESOURCE_URI_PREFIXES, kind)) {
    throw invalid(`${field}.kind`, 'unknown resource kind');
  }
  const builtin = kind as BuiltinKind;
  const id: unknown = resource.id;
  if (builtin === 'sandbox' ? !isSandboxId(id) : !isUuid(id)) {
    throw invalid(
      `${field}.id`,
      builtin === 'sandbox' ? 'expected a sandbox id (sb-…)' : 'expected a lowercase RFC 9562 UUID',
    );
  }
  return `${RESOURCE_URI_PREFIXES[builtin]}${id as string}`;
}

/**
 * Parses a resource URI (the inverse of {@link resourceIdToUri}). Strict: a URI that starts with
 * a built-in prefix must carry a valid id of that kind (`messaging:message:not-a-uuid` is an
 * error, never a custom resource); anything else must be `<product>:<id>` with the custom
 * charsets. Bad input throws `PL-400` with the reason.
 *
 * @example
 * ```ts
 * resourceIdFromUri('runtime:sandbox:sb-42'); // { kind: 'sandbox', id: 'sb-42' }
 * ```
 */
export function resourceIdFromUri(uri: unknown, field = 'resource'): ResourceId {
  if (typeof uri !== 'string') throw invalid(field, 'expected a resource URI string');
  const builtin = builtinPrefixOf(uri);
  if (builtin !== undefined) {
    const id = uri.slice(RESOURCE_URI_PREFIXES[builtin].length);
    if (builtin === 'sandbox') {
      if (!isSandboxId(id))
        throw invalid(field, `'${RESOURCE_URI_PREFIXES.sandbox}' must be followed by a sandbox id (sb-…)`);
      return Object.freeze({ kind: 'sandbox', id });
    }
    if (!isUuid(id)) {
      throw invalid(
        field,
        `'${RESOURCE_URI_PREFIXES[builtin]}' must be followed by a lowercase RFC 9562 UUID`,
      );
    }
    return Object.freeze({ kind: builtin, id });
  }
  const colon = uri.indexOf(':');
  if (colon < 0) throw invalid(field, "expected '<product>:<id>'");
  const product = uri.slice(0, colon);
  const id = uri.slice(colon + 1);
  checkCustom(product, id, field);
  return Object.freeze({ kind: 'custom', product, id });
}

/** True when `value` is a well-formed {@link ResourceId} (one that {@link resourceIdToUri} accepts). */
export function isResourceId(value: unknown): value is ResourceId {
  try {
    resourceIdToUri(value as ResourceId);
    return true;
  } catch {
    return false;
  }
}
