import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRealtime, type RealtimeClient } from '../../src/client';
import { createMemoryBackend } from '../../src/testing/memory-backend';

// The flags URL serves "any subset of the flags". Ops lift a kill switch by
// setting it to false, or by deleting its line: a flag the last document set
// and the new one leaves out goes back to the page's own value (its
// `flags` option), so both lift it.

let client: RealtimeClient | undefined;
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(async () => {
  await client?.close();
  client = undefined;
  vi.useRealTimers();
});

function withDocument(pageFlags: Record<string, unknown> = {}) {
  let document: Record<string, unknown> = {};
  const backend = createMemoryBackend({ heartbeatMs: 60_000 });
  const fetch = vi.fn(async () => new Response(JSON.stringify(document), { status: 200 }));
  const rt = createRealtime({
    url: 'http://127.0.0.1:1/v2/realtime',
    transports: [backend.transport],
    leader: { strategy: 'none' },
    devtools: false,
    telemetry: { sampleRate: 0 },
    flags: pageFlags,
    flagsUrl: { url: 'http://127.0.0.1:1/flags', intervalMs: 5_000 },
    platform: { fetch: fetch as typeof globalThis.fetch },
  });
  client = rt;
  rt.subscribe('tasks', () => {});
  return {
    rt,
    serve: async (next: Record<string, unknown>) => {
      document = next;
      await vi.advanceTimersByTimeAsync(5_000);
    },
  };
}

describe('a flags document that leaves a flag out', () => {
  it('lifts a kill switch whose line was deleted', async () => {
    const { rt, serve } = withDocument();
    await vi.dynamicImportSettled();
    await vi.advanceTimersByTimeAsync(100);
    expect(rt.getState().status).toBe('connected');
    await serve({ emergencyDisable: true, rolloutPercent: 100 });
    expect(rt.getState()).toMatchObject({ status: 'disabled', disabledReason: 'emergency_disable' });
    await serve({ rolloutPercent: 100 });
    expect(rt.getState().flags.emergencyDisable).toBe(false);
    expect(rt.getState().status).toBe('connected');
  });

  it("gives the flag back the page's own value, not the default", async () => {
    const { rt, serve } = withDocument({ disabledServices: ['finance'], rolloutPercent: 50 });
    await vi.dynamicImportSettled();
    await serve({ disabledServices: ['finance', 'tasks'], rolloutPercent: 100 });
    expect(rt.getState().flags).toMatchObject({
      disabledServices: ['finance', 'tasks'],
      rolloutPercent: 100,
    });
    await serve({});
    expect(rt.getState().flags).toMatchObject({ disabledServices: ['finance'], rolloutPercent: 50 });
  });

  it('leaves a flag alone that no document ever set', async () => {
    const { rt, serve } = withDocument();
    await vi.dynamicImportSettled();
    rt.setFlags({ shadowMode: true });
    await serve({ rolloutPercent: 100 });
    await serve({});
    expect(rt.getState().flags.shadowMode).toBe(true);
  });
});
