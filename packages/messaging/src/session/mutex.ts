/**
 * Per-key async mutual exclusion: tasks under one key run one at a time, in call order; different
 * keys run concurrently. Used per peer session so two encrypts/decrypts can never both read the
 * same ratchet state and fork it. An idle key holds no entry, so the map is bounded by the number
 * of keys with work in flight.
 */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs `task` once every earlier task under `key` has settled. */
  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release: () => void = () => {};
    const current = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => current);
    this.#tails.set(key, tail);
    try {
      await previous;
      return await task();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }

  /** Keys with work in flight. */
  get size(): number {
    return this.#tails.size;
  }
}
