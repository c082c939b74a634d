import { afterEach } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../../src/client';
import type { RealtimeOptions } from '../../../src/options';
import { createMemoryBackend, type MemoryBackend } from '../../../src/testing/memory-backend';

// One tab's client on an in-memory backend, for the vanilla helpers' tests:
// the clients made and the undo functions pushed are closed and run after
// each test of the file that imports this.

const clients: RealtimeClient[] = [];
/** Undo functions (unbind, uninstall, removeEventListener) run after each test. */
export const cleanups: Array<() => void> = [];

afterEach(async () => {
  for (const undo of cleanups.splice(0)) undo();
  for (const rt of clients.splice(0)) await rt.close();
});

/** A client alone (no election), devtools off unless `extra` says so, never sampled. */
export function setup(extra: Partial<RealtimeOptions> = {}): { rt: RealtimeClient; backend: MemoryBackend } {
  const backend = createMemoryBackend({ heartbeatMs: 60_000 });
  const rt = createRealtime({
    url: 'http://127.0.0.1:1/v2/realtime',
    transports: [backend.transport],
    leader: { strategy: 'none' },
    devtools: false,
    // Sampling is random (2% by default): tests decide it, never chance.
    telemetry: { sampleRate: 0 },
    ...extra,
  });
  clients.push(rt);
  return { rt, backend };
}
