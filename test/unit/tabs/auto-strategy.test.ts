import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../../src/client';
import type { RealtimePlatform } from '../../../src/options';
import { FakeLockManager } from '../../../src/testing/fake-locks';
import { createMemoryBackend } from '../../../src/testing/memory-backend';
import { MemoryStorage } from '../../../src/testing/memory-storage';

// `leader.strategy: 'auto'` is resolved in one place, the client: Web Locks
// where there is a lock manager (injected or global), else the storage lease
// where there is storage, else no election at all. The election itself only
// ever runs a resolved strategy.

const clients: RealtimeClient[] = [];

function strategyWith(platform: RealtimePlatform): string {
  const rt = createRealtime({
    url: 'http://127.0.0.1:1/v2/realtime',
    transports: [createMemoryBackend().transport],
    devtools: false,
    platform: { BroadcastChannel: null, ...platform },
  });
  clients.push(rt);
  return rt.getState().electionStrategy;
}

afterEach(async () => {
  for (const rt of clients.splice(0)) await rt.close();
  vi.unstubAllGlobals();
});

describe("leader.strategy 'auto'", () => {
  it('picks locks where an injected or global lock manager exists', () => {
    const locks = new FakeLockManager();
    expect(strategyWith({ locks, storage: new MemoryStorage() })).toBe('locks');
    vi.stubGlobal('navigator', { locks });
    expect(strategyWith({ storage: new MemoryStorage() })).toBe('locks');
  });

  it('picks storage without a lock manager, and none without storage either', () => {
    vi.stubGlobal('navigator', {});
    vi.stubGlobal('localStorage', undefined);
    expect(strategyWith({ storage: new MemoryStorage() })).toBe('storage');
    expect(strategyWith({})).toBe('none');
  });
});
