/** Where an attribute path reads from. @internal */
export const AttributeRoot = Object.freeze({ Principal: 0, Resource: 1, Context: 2 } as const);

/** One of {@link AttributeRoot}. @internal */
export type AttributeRoot = (typeof AttributeRoot)[keyof typeof AttributeRoot];

/** How to read one attribute path of a request; built once per path when policies compile. @internal */
export interface AttributeReader {
  /** The path, e.g. `context.amount`. */
  readonly path: string;
  /** Which object the path starts in. */
  readonly root: AttributeRoot;
  /** Member names after the root. */
  readonly segments: readonly string[];
  /** For built-in attributes: computes the value from the request itself. */
  readonly builtin: ((principal: string, resource: string) => unknown) | undefined;
}

/**
 * Attributes computed from the request, whatever the attribute sources say: the NHI and its kind
 * (bound to the key, so a registry cannot misreport them), the resource URI and its type (the URI
 * up to its first `:`).
 */
const BUILTINS: ReadonlyMap<string, (principal: string, resource: string) => unknown> = new Map([
  ['principal.id', (principal: string) => principal],
  ['principal.kind', (principal: string) => principal.slice(0, principal.indexOf(':'))],
  ['resource.id', (_principal: string, resource: string) => resource],
  [
    'resource.type',
    (_principal: string, resource: string) => {
      const colon = resource.indexOf(':');
      return colon <= 0 ? undefined : resource.slice(0, colon);
    },
  ],
]);

/** The reader of a validated attribute path. @internal */
export function attributeReader(path: string): AttributeReader {
  const parts = path.split('.');
  const root = parts[0];
  return Object.freeze({
    path,
    root:
      root === 'principal'
        ? AttributeRoot.Principal
        : root === 'resource'
          ? AttributeRoot.Resource
          : AttributeRoot.Context,
    segments: Object.freeze(parts.slice(1)),
    builtin: BUILTINS.get(path),
  });
}

/**
 * The value at `segments` under `base`, following own properties only (never the prototype chain,
 * so `constructor` or `__proto__` read nothing unless the data really has them); `undefined` when
 * any step is missing or not an object. @internal
 */
export function readPath(base: unknown, segments: readonly string[]): unknown {
  let value = base;
  for (let i = 0; i < segments.length; i++) {
    if (typeof value !== 'object' || value === null) return undefined;
    const segment = segments[i] as string;
    if (!Object.hasOwn(value, segment)) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}
