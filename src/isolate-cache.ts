// A memo kept per isolate: values seen again and again skip their work (a hash, a phone parse).

/** How long an isolate may hold an identifier's raw value after the person is erased. */
export const PERSONAL_MAX_AGE_MS = 5 * 60_000;

/**
 * Bounded in size and in age. It empties whole when full, which costs the hot path nothing,
 * and at its first use after `maxAgeMs`, so values of a person who was erased (raw emails and
 * phones among them) leave a serving isolate's memory within that time.
 */
export class IsolateCache<V> {
  readonly #entries = new Map<string, V>();
  #since: number;

  constructor(
    readonly maxEntries: number,
    readonly maxAgeMs = Number.POSITIVE_INFINITY,
    readonly now: () => number = () => Date.now(),
  ) {
    this.#since = now();
  }

  get(key: string): V | undefined {
    if (this.now() - this.#since >= this.maxAgeMs) this.clear();
    return this.#entries.get(key);
  }

  set(key: string, value: V): void {
    if (this.#entries.size >= this.maxEntries) this.clear();
    this.#entries.set(key, value);
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
    this.#since = this.now();
  }
}
