import { type AttributeReader, attributeReader } from './attributes.js';
import {
  type CompiledCondition,
  compileCondition,
  compilePattern,
  type Matcher,
  patternPrefix,
} from './compile.js';
import type { NormalizedPolicy, PolicyEffect } from './policy.js';

/** A policy compiled for evaluation. @internal */
export interface CompiledPolicy {
  /** Position in the policy set: candidates are evaluated, and reported, in set order. */
  readonly ordinal: number;
  /** The policy as stored. */
  readonly policy: NormalizedPolicy;
  /** `policy.id`. */
  readonly id: string;
  /** `policy.effect`. */
  readonly effect: PolicyEffect;
  /** Any of the principal patterns. */
  readonly principal: Matcher;
  /** The compiled `when`, if any. */
  readonly condition: CompiledCondition | undefined;
  /** Readers of `condition.paths`, in the same order (empty without a condition). */
  readonly readers: readonly AttributeReader[];
}

/**
 * Items indexed by a pattern of the delegation pattern language: exact patterns in a map, prefix
 * patterns (`p*`) in a map per prefix, probed once per distinct prefix length, and `*` in a list.
 * A lookup costs one probe per distinct prefix length, whatever the number of items.
 */
export class PatternIndex<T> {
  readonly #exact = new Map<string, T[]>();
  readonly #prefixes = new Map<string, T[]>();
  readonly #lengths: number[] = [];
  readonly #any: T[] = [];

  /** Files `item` under `pattern` (a valid pattern). */
  add(pattern: string, item: T): void {
    const prefix = patternPrefix(pattern);
    if (prefix === '') {
      this.#any.push(item);
      return;
    }
    const map = prefix === undefined ? this.#exact : this.#prefixes;
    const key = prefix ?? pattern;
    const list = map.get(key);
    if (list === undefined) map.set(key, [item]);
    else list.push(item);
    if (prefix !== undefined && !this.#lengths.includes(prefix.length)) {
      this.#lengths.push(prefix.length);
      this.#lengths.sort((a, b) => a - b);
    }
  }

  /** Pushes to `out` every item filed under a pattern that matches `value` (an item may repeat). */
  collect(value: string, out: T[]): void {
    const exact = this.#exact.get(value);
    if (exact !== undefined) for (const item of exact) out.push(item);
    for (const length of this.#lengths) {
      if (length > value.length) break;
      const list = this.#prefixes.get(value.slice(0, length));
      if (list !== undefined) for (const item of list) out.push(item);
    }
    for (const item of this.#any) out.push(item);
  }
}

function anyOf(patterns: readonly string[]): Matcher {
  const matchers = patterns.map(compilePattern);
  const [only] = matchers;
  if (matchers.length === 1 && only !== undefined) return only;
  return (value) => matchers.some((m) => m(value));
}

/** Compiles one validated policy. @internal */
export function compilePolicy(policy: NormalizedPolicy, ordinal: number): CompiledPolicy {
  const condition = policy.when === undefined ? undefined : compileCondition(policy.when);
  return Object.freeze({
    ordinal,
    policy,
    id: policy.id,
    effect: policy.effect,
    principal: anyOf(policy.principal),
    condition,
    readers: Object.freeze(condition === undefined ? [] : condition.paths.map(attributeReader)),
  });
}

/**
 * The compiled policy set, indexed by action pattern and, under each action pattern, by resource
 * pattern; the principal patterns are tested on what the two indexes return. @internal
 */
export class PolicyIndex {
  /** The compiled policies, in set order. */
  readonly policies: readonly CompiledPolicy[];
  readonly #actions = new PatternIndex<PatternIndex<CompiledPolicy>>();

  constructor(policies: readonly NormalizedPolicy[]) {
    this.policies = Object.freeze(policies.map(compilePolicy));
    const byAction = new Map<string, PatternIndex<CompiledPolicy>>();
    for (const compiled of this.policies) {
      for (const action of compiled.policy.action) {
        let resources = byAction.get(action);
        if (resources === undefined) {
          resources = new PatternIndex<CompiledPolicy>();
          byAction.set(action, resources);
          this.#actions.add(action, resources);
        }
        for (const resource of compiled.policy.resource) resources.add(resource, compiled);
      }
    }
  }

  /**
   * The policies whose action, resource and principal patterns all match, in set order, each once.
   */
  candidates(principal: string, action: string, resource: string): CompiledPolicy[] {
    const buckets: PatternIndex<CompiledPolicy>[] = [];
    this.#actions.collect(action, buckets);
    const found: CompiledPolicy[] = [];
    for (const bucket of buckets) bucket.collect(resource, found);
    const out: CompiledPolicy[] = [];
    let sorted = true;
    for (const compiled of found) {
      // A policy filed under several patterns comes back once per match; lists are short, so a
      // scan beats a Set.
      if (!compiled.principal(principal) || out.includes(compiled)) continue;
      const last = out[out.length - 1];
      if (last !== undefined && last.ordinal > compiled.ordinal) sorted = false;
      out.push(compiled);
    }
    if (!sorted) out.sort((a, b) => a.ordinal - b.ordinal);
    return out;
  }
}
