import { createRealtime, type RealtimeClient } from '../../../src/client';
import type { RealtimeOptions } from '../../../src/options';
import { createMemoryBackend, type MemoryBackend } from '../../../src/testing/memory-backend';

/** Options of a client on the memory backend: one tab, no election, no window hook. */
export function memoryOptions(backend: MemoryBackend, extra: Partial<RealtimeOptions> = {}): RealtimeOptions {
  return {
    url: 'http://127.0.0.1:1/v2/realtime',
    scope: { orgId: 'org_test', userId: 'u_1' },
    transports: [backend.transport],
    leader: { strategy: 'none' },
    devtools: false,
    // Sampling is random (2% by default): tests decide it, never chance.
    telemetry: { sampleRate: 0 },
    ...extra,
  };
}

/** Live subscriptions per service, counted by wrapping `client.subscribe`. */
export interface SubscriptionCounter {
  /** subscribe calls so far. */
  calls: number;
  /** Subscriptions not yet undone. */
  live(service?: string): number;
}

export function countSubscriptions(client: RealtimeClient): SubscriptionCounter {
  const live = new Map<string, number>();
  const counter: SubscriptionCounter = {
    calls: 0,
    live: (service) =>
      service === undefined ? [...live.values()].reduce((a, b) => a + b, 0) : (live.get(service) ?? 0),
  };
  const original = client.subscribe.bind(client);
  client.subscribe = (service, handler) => {
    counter.calls++;
    const off = original(service, handler);
    live.set(service, (live.get(service) ?? 0) + 1);
    let done = false;
    return () => {
      if (!done) live.set(service, (live.get(service) ?? 0) - 1);
      done = true;
      off();
    };
  };
  return counter;
}

export function setup(extra: Partial<RealtimeOptions> = {}) {
  const backend = createMemoryBackend({ heartbeatMs: 60_000 });
  const client = createRealtime(memoryOptions(backend, extra));
  return { backend, client, subscriptions: countSubscriptions(client) };
}
