import { EnablementError } from '@creto/core';

/** Default bound of every recorder in this package: the most recent 10 000 entries are kept. */
export const DEFAULT_MAX_RECORDED = 10_000;

/** Largest bound a recorder accepts. */
export const MAX_RECORDED_LIMIT = 10_000_000;

/**
 * An append-only list that keeps the most recent `max` entries. At the bound the oldest entry is
 * dropped and counted in `dropped`, so a long-running test never grows without limit and can
 * still tell that something was forgotten.
 */
export class BoundedLog<T> {
  readonly #max: number;
  #items: T[] = [];
  #dropped = 0;

  /**
   * @param max - Most entries kept (1 to {@link MAX_RECORDED_LIMIT}).
   * @param field - The option name used in the `PL-400` for a bad `max`.
   */
  constructor(max: number = DEFAULT_MAX_RECORDED, field = 'max') {
    this.#max = checkBound(max, field);
  }

  /** Appends an entry, dropping the oldest at the bound. */
  push(item: T): void {
    this.#items.push(item);
    if (this.#items.length > this.#max) {
      // Amortised: shed a batch at once instead of shifting on every push.
      const excess = this.#items.length - this.#max;
      this.#items = this.#items.slice(excess);
      this.#dropped += excess;
    }
  }

  /** A snapshot of the kept entries, oldest first. */
  toArray(): readonly T[] {
    return Object.freeze([...this.#items]);
  }

  /** Live view for internal scans (do not mutate). */
  get items(): readonly T[] {
    return this.#items;
  }

  /** Entries dropped at the bound since creation or the last `clear`. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Number of kept entries. */
  get length(): number {
    return this.#items.length;
  }

  /** Forgets every entry and the drop count. */
  clear(): void {
    this.#items = [];
    this.#dropped = 0;
  }
}

/** Validates a positive integer bound option; `PL-400` naming `field` otherwise. */
export function checkBound(value: unknown, field: string, limit = MAX_RECORDED_LIMIT): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > limit) {
    throw new EnablementError('PL-400', `${field}: expected an integer from 1 to ${limit}`);
  }
  return value;
}

/** Validates an optional non-negative millisecond duration; `PL-400` naming `field` otherwise. */
export function checkMs(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 366 * 86_400_000) {
    throw new EnablementError('PL-400', `${field}: expected milliseconds from 0 to 366 days`);
  }
  return value;
}

/** Most scripted answers or rules a fake holds at once (a test that needs more is likely looping). */
export const MAX_SCRIPTED = 10_000;

/** Appends to a scripted list, refusing (`PL-400`, nothing appended) beyond {@link MAX_SCRIPTED}. */
export function pushScripted<T>(list: T[], items: readonly T[], field: string): void {
  if (list.length + items.length > MAX_SCRIPTED) {
    throw new EnablementError('PL-400', `${field}: more than ${MAX_SCRIPTED} scripted entries`);
  }
  list.push(...items);
}
