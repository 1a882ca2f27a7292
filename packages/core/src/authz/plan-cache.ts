import { LRUCache } from 'lru-cache';

/** One cached value with the four keys it is filed under. */
interface Entry<T> {
  readonly id: number;
  /** Insertion count when the entry was last moved to the young end of the LRU order. */
  stamp: number;
  readonly value: T;
  readonly chain: string;
  readonly principal: string;
  readonly action: string;
  readonly resource: string;
}

type Level<T> = Map<string, T>;

/**
 * A bounded LRU cache keyed by (chain id, principal, action, resource). @internal
 *
 * Why not one `lru-cache` keyed by the joined string: V8 caches a string's hash inside the string,
 * so looking up the caller's own strings (an NHI the sandbox holds, a constant action name) costs
 * almost nothing, while a key joined for every request must be flattened and hashed whole each
 * time (several hundred ns for ~110 characters on the benchmark machine, more than the whole
 * 168 ns budget). Lookups therefore walk four small maps keyed by the request's strings; the
 * bound and the recency order live in an `lru-cache` keyed by a numeric entry id, and an entry it
 * evicts is unlinked from the maps (empty maps are pruned), so both structures hold the same
 * entries and memory stays bounded by `max`.
 *
 * Recency is refreshed lazily (see {@link Recency}), so a hit costs map lookups and one comparison.
 */
export class PlanCache<T> {
  readonly #roots: Level<Level<Level<Level<Entry<T>>>>> = new Map();
  readonly #lru: LRUCache<number, Entry<T>>;
  readonly #recency: Recency;
  #nextId = 0;

  constructor(max: number) {
    this.#recency = new Recency(max);
    this.#lru = new LRUCache<number, Entry<T>>({
      max,
      dispose: (entry) => {
        this.#unlink(entry);
      },
    });
  }

  /** The value filed under the four keys (refreshing its recency), or `undefined`. */
  get(chain: string, principal: string, action: string, resource: string): T | undefined {
    const entry = this.#roots.get(chain)?.get(principal)?.get(action)?.get(resource);
    if (entry === undefined) return undefined;
    if (this.#recency.stale(entry)) this.#lru.get(entry.id); // moves it to the young end
    return entry.value;
  }

  /** Files `value` under the four keys, evicting the least recently used entry when full. */
  set(chain: string, principal: string, action: string, resource: string, value: T): void {
    const entry: Entry<T> = {
      id: this.#nextId++,
      stamp: this.#recency.inserted(),
      value,
      chain,
      principal,
      action,
      resource,
    };
    const byResource = child(child(child(this.#roots, chain), principal), action);
    const previous = byResource.get(resource);
    byResource.set(resource, entry);
    if (previous !== undefined) this.#lru.delete(previous.id); // its dispose sees it replaced: no unlink
    this.#lru.set(entry.id, entry);
  }

  /** Drops everything. */
  clear(): void {
    this.#roots.clear();
    this.#lru.clear();
  }

  /** Number of entries. */
  get size(): number {
    return this.#lru.size;
  }

  #unlink(entry: Entry<T>): void {
    const byPrincipal = this.#roots.get(entry.chain);
    const byAction = byPrincipal?.get(entry.principal);
    const byResource = byAction?.get(entry.action);
    if (byPrincipal === undefined || byAction === undefined || byResource === undefined) return;
    if (byResource.get(entry.resource) !== entry) return; // already replaced or cleared
    byResource.delete(entry.resource);
    if (byResource.size > 0) return;
    byAction.delete(entry.action);
    if (byAction.size > 0) return;
    byPrincipal.delete(entry.principal);
    if (byPrincipal.size === 0) this.#roots.delete(entry.chain);
  }
}

function child<V>(parent: Level<Level<V>>, key: string): Level<V> {
  let level = parent.get(key);
  if (level === undefined) {
    level = new Map();
    parent.set(key, level);
  }
  return level;
}

/** A decision filed in a plan's own map. */
interface DecisionEntry<D> {
  readonly id: number;
  /** See {@link Entry.stamp}. */
  stamp: number;
  readonly key: unknown;
  readonly value: D;
  readonly owner: Map<unknown, DecisionEntry<D>>;
}

/**
 * A bounded LRU cache of attribute-dependent decisions, filed in a map owned by each plan and keyed
 * by the attribute values' key: a single primitive value is its own key (no string to build or
 * hash), anything else the encoded string. As in {@link PlanCache}, an `lru-cache` keyed by entry
 * id holds the bound and the recency order and unlinks what it evicts. @internal
 */
export class DecisionCache<D> {
  readonly #lru: LRUCache<number, DecisionEntry<D>>;
  readonly #recency: Recency;
  #nextId = 0;

  constructor(max: number) {
    this.#recency = new Recency(max);
    this.#lru = new LRUCache<number, DecisionEntry<D>>({
      max,
      dispose: (entry) => {
        if (entry.owner.get(entry.key) === entry) entry.owner.delete(entry.key);
      },
    });
  }

  /** The decision filed in `owner` under `key` (refreshing its recency), or `undefined`. */
  get(owner: Map<unknown, DecisionEntry<D>>, key: unknown): D | undefined {
    const entry = owner.get(key);
    if (entry === undefined) return undefined;
    if (this.#recency.stale(entry)) this.#lru.get(entry.id); // moves it to the young end
    return entry.value;
  }

  /** Files `value` in `owner` under `key`, evicting the least recently used decision when full. */
  set(owner: Map<unknown, DecisionEntry<D>>, key: unknown, value: D): void {
    const entry: DecisionEntry<D> = {
      id: this.#nextId++,
      stamp: this.#recency.inserted(),
      key,
      value,
      owner,
    };
    const previous = owner.get(key);
    owner.set(key, entry);
    if (previous !== undefined) this.#lru.delete(previous.id);
    this.#lru.set(entry.id, entry);
  }

  /** Drops everything (the owners' maps are emptied by the disposal of each entry). */
  clear(): void {
    this.#lru.clear();
  }

  /** Number of decisions. */
  get size(): number {
    return this.#lru.size;
  }
}

/** The map a plan owns for its decisions. @internal */
export type DecisionMap<D> = Map<unknown, DecisionEntry<D>>;

/**
 * Lazy LRU refresh. `lru-cache`'s `get` (which moves an entry to the young end) costs more than
 * the rest of a cache hit, so a hit only calls it when the entry has aged: when more than half the
 * capacity was inserted since the entry was inserted or last refreshed. An entry is evicted only
 * after `max` younger insertions, so one that is hit at least once per `max / 2` insertions is
 * never evicted, as under strict LRU; only the order among rarely hit entries is approximate.
 */
class Recency {
  readonly #half: number;
  #count = 0;

  constructor(max: number) {
    this.#half = Math.max(1, Math.floor(max / 2));
  }

  /** Counts one insertion; returns the stamp of the new entry. */
  inserted(): number {
    return ++this.#count;
  }

  /** True (and re-stamps the entry) when it should be moved to the young end. */
  stale(entry: { stamp: number }): boolean {
    if (this.#count - entry.stamp < this.#half) return false;
    entry.stamp = this.#count;
    return true;
  }
}
