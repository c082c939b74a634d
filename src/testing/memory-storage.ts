/** A change to a {@link MemoryStorage}, as a `storage` event reports it. */
export interface StorageChange {
  /** `null` for `clear()`. */
  key: string | null;
  oldValue: string | null;
  newValue: string | null;
}

/** Options of {@link MemoryStorage}. */
export interface MemoryStorageOptions {
  /** Share the data of another storage: several views of one origin's `localStorage`. */
  data?: Map<string, string>;
  /** Called after every change that changed something. */
  onChange?: (change: StorageChange) => void;
}

/**
 * `localStorage` in memory (`getItem`, `setItem`, `removeItem`, `clear`,
 * `key`, `length`); values are stored as strings. Give it to
 * `platform.storage`. Views sharing one `data` map are the tabs of one
 * origin; {@link createFakeBrowser} fires `storage` events between them.
 */
export class MemoryStorage {
  readonly #data: Map<string, string>;
  readonly #onChange: ((change: StorageChange) => void) | undefined;

  constructor(options: MemoryStorageOptions = {}) {
    this.#data = options.data ?? new Map();
    this.#onChange = options.onChange;
  }

  get length(): number {
    return this.#data.size;
  }

  key(index: number): string | null {
    return [...this.#data.keys()][index] ?? null;
  }

  getItem(key: string): string | null {
    return this.#data.get(String(key)) ?? null;
  }

  setItem(key: string, value: string): void {
    const k = String(key);
    const newValue = String(value);
    const oldValue = this.#data.get(k) ?? null;
    this.#data.set(k, newValue);
    if (oldValue !== newValue) this.#onChange?.({ key: k, oldValue, newValue });
  }

  removeItem(key: string): void {
    const k = String(key);
    const oldValue = this.#data.get(k) ?? null;
    if (oldValue === null) return;
    this.#data.delete(k);
    this.#onChange?.({ key: k, oldValue, newValue: null });
  }

  clear(): void {
    if (this.#data.size === 0) return;
    this.#data.clear();
    this.#onChange?.({ key: null, oldValue: null, newValue: null });
  }
}
