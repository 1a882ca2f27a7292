/** A JSON value as `JSON.parse` returns it. @internal */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };

/**
 * True exactly when `canonicalize(value) === canonicalize(witness)` (RFC 8785), where `witness` is
 * a canonical JSON value (e.g. `JSON.parse(canonicalize(x))`), without serializing anything: the
 * fast path of a seen override token compares the call's arguments with the arguments it was
 * already verified against, instead of hashing them again.
 *
 * It mirrors `canonicalize`'s rules: object members whose value is `undefined` are skipped, an
 * `undefined` array item counts as `null`, `-0` equals `0`, member order is irrelevant, and only
 * plain objects and arrays are containers. Whatever `canonicalize` would reject (bigint, `NaN`,
 * functions, class instances) is simply unequal, since the witness never holds such a value. The
 * walk follows the finite witness, so a cyclic or deep `value` cannot make it loop.
 */
export function sameCanonicalJson(value: unknown, witness: Json): boolean {
  if (witness === null || typeof witness !== 'object') return value === witness;
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(witness)) {
    if (!Array.isArray(value) || value.length !== witness.length) return false;
    for (let i = 0; i < witness.length; i++) {
      const item: unknown = value[i];
      if (!sameCanonicalJson(item === undefined ? null : item, witness[i] as Json)) return false;
    }
    return true;
  }
  if (Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  const record = value as Record<string, unknown>;
  const object = witness as { readonly [key: string]: Json };
  let members = 0;
  // for-in walks the enumeration cache without allocating a key array; inherited keys (only a
  // polluted Object.prototype has enumerable ones) are skipped, as canonicalize skips them.
  for (const key in record) {
    if (!Object.hasOwn(record, key)) continue;
    const item = record[key];
    if (item === undefined) continue;
    if (!Object.hasOwn(object, key)) return false;
    if (!sameCanonicalJson(item, object[key] as Json)) return false;
    members++;
  }
  return members === memberCount(object);
}

/** Member count of a witness object, computed once per object (witnesses are frozen). */
const MEMBER_COUNTS = new WeakMap<object, number>();

function memberCount(object: object): number {
  let count = MEMBER_COUNTS.get(object);
  if (count === undefined) {
    count = Object.keys(object).length;
    MEMBER_COUNTS.set(object, count);
  }
  return count;
}
