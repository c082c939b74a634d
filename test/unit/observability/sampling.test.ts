import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SAMPLE_RATE,
  SAMPLING_STORAGE_KEY,
  type SamplingStorage,
  sampleSession,
} from '../../../src/observability/sampling';

class MemoryStorage implements SamplingStorage {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
}

describe('sampleSession', () => {
  it('defaults to 2 %', () => {
    expect(DEFAULT_SAMPLE_RATE).toBe(0.02);
  });

  it('samples when the draw is below the rate', () => {
    expect(sampleSession(0.02, () => 0.01)).toBe(true);
    expect(sampleSession(0.02, () => 0.02)).toBe(false);
    expect(sampleSession(0.02, () => 0.5)).toBe(false);
  });

  it('rate 0 samples nobody, rate 1 everybody', () => {
    expect(sampleSession(0, () => 0)).toBe(false);
    expect(sampleSession(1, () => 0.999_999)).toBe(true);
  });

  it('samples about rate of sessions', () => {
    let seed = 1;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return (seed - 1) / 2147483646;
    };
    let sampled = 0;
    for (let i = 0; i < 10_000; i++) if (sampleSession(0.1, random)) sampled++;
    expect(sampled).toBeGreaterThan(850);
    expect(sampled).toBeLessThan(1150);
  });

  it('keeps the draw in storage so reloads of the session agree', () => {
    const storage = new MemoryStorage();
    expect(sampleSession(0.02, () => 0.01, { storage })).toBe(true);
    expect(storage.getItem(SAMPLING_STORAGE_KEY)).toBe('0.01');
    // A reload draws 0.9 but the stored draw wins.
    expect(sampleSession(0.02, () => 0.9, { storage })).toBe(true);
    expect(sampleSession(0.02, () => 0.9, { storage })).toBe(true);
  });

  it('a stored draw follows a rate change: lower rate drops, 0 stops all', () => {
    const storage = new MemoryStorage();
    sampleSession(0.5, () => 0.3, { storage });
    expect(sampleSession(0.5, () => 0.9, { storage })).toBe(true);
    expect(sampleSession(0.2, () => 0.9, { storage })).toBe(false);
    expect(sampleSession(0, () => 0.9, { storage })).toBe(false);
  });

  it.each(['', '  ', 'abc', '1.5', '1', '-0.1', 'NaN', 'Infinity', '{}'])(
    'ignores a corrupt stored value %j',
    (value) => {
      const storage = new MemoryStorage();
      storage.setItem(SAMPLING_STORAGE_KEY, value);
      expect(sampleSession(0.02, () => 0.01, { storage })).toBe(true);
      expect(storage.getItem(SAMPLING_STORAGE_KEY)).toBe('0.01');
    },
  );

  it('uses a custom key', () => {
    const storage = new MemoryStorage();
    sampleSession(0.5, () => 0.25, { storage, key: 'app2:draw' });
    expect(storage.getItem('app2:draw')).toBe('0.25');
    expect(storage.getItem(SAMPLING_STORAGE_KEY)).toBeNull();
  });

  it('survives storage that throws', () => {
    const storage: SamplingStorage = {
      getItem: () => {
        throw new Error('SecurityError');
      },
      setItem: () => {
        throw new Error('QuotaExceededError');
      },
    };
    expect(sampleSession(0.02, () => 0.01, { storage })).toBe(true);
    expect(sampleSession(0.02, () => 0.5, { storage })).toBe(false);
  });

  it('a broken random source does not sample', () => {
    expect(sampleSession(0.5, () => Number.NaN)).toBe(false);
    expect(sampleSession(0.5, () => 1)).toBe(false);
  });
});
