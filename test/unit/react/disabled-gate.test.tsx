// @vitest-environment happy-dom
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { act, render } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { createRealtime } from '../../../src/client';
import { RealtimeProvider, useRealtimeService, useRealtimeState } from '../../../src/react';
import { createMemoryBackend } from '../../../src/testing/memory-backend';
import { fakeTimersAndCleanup } from './fake-timer-cleanup';
import { memoryOptions } from './helpers';

// docs/react.md's first hooks sample passed `status !== 'disabled'` as the
// `enabled` argument of useRealtimeService. While realtime is off that
// unsubscribes the page's last subscriber, so the client goes idle: it stops
// polling the flags URL and leaves the tabs' channel. It then never hears the
// kill switch lifted, its status stays `disabled`, and the page never
// subscribes again — realtime stays off until a reload. Handlers are not
// called while disabled anyway, so the sample must not gate on the status.

const clients = fakeTimersAndCleanup();

function TasksPage({ gateOnStatus }: { gateOnStatus: boolean }) {
  const status = useRealtimeState((s) => s.status);
  useRealtimeService('tasks', () => {}, gateOnStatus ? status !== 'disabled' : true);
  return <p>realtime: {status}</p>;
}

/** A client polling a flags document the test changes, as ops would. */
function withFlagsUrl() {
  let flags: Record<string, unknown> = {};
  const fetch = vi.fn(async () => new Response(JSON.stringify(flags), { status: 200 }));
  const backend = createMemoryBackend({ heartbeatMs: 60_000 });
  const client = createRealtime(
    memoryOptions(backend, {
      flagsUrl: { url: 'http://127.0.0.1:1/flags', intervalMs: 5_000 },
      platform: { fetch: fetch as typeof globalThis.fetch },
    }),
  );
  clients.push(client);
  return {
    client,
    setDocument: (next: Record<string, unknown>) => {
      flags = next;
    },
  };
}

async function killSwitchThrownAndLifted(gateOnStatus: boolean) {
  const { client, setDocument } = withFlagsUrl();
  render(
    <RealtimeProvider client={client}>
      <TasksPage gateOnStatus={gateOnStatus} />
    </RealtimeProvider>,
  );
  await act(() => vi.dynamicImportSettled());
  await act(() => vi.advanceTimersByTimeAsync(100));
  expect(client.getState().status).toBe('connected');
  setDocument({ emergencyDisable: true });
  await act(() => vi.advanceTimersByTimeAsync(6_000));
  expect(client.getState().status).toBe('disabled');
  setDocument({ emergencyDisable: false });
  await act(() => vi.advanceTimersByTimeAsync(60_000));
  return client.getState().status;
}

describe('gating useRealtimeService on the status (docs/react.md)', () => {
  it('without the gate, a lifted kill switch brings realtime back', async () => {
    expect(await killSwitchThrownAndLifted(false)).toBe('connected');
  });

  it('with the gate, the page never comes back: why the docs must not show it', async () => {
    expect(await killSwitchThrownAndLifted(true)).toBe('disabled');
  });

  it('docs/react.md does not gate a subscription on the status', () => {
    const doc = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../../../docs/react.md'), 'utf8');
    expect(doc).not.toMatch(/status !== 'disabled'/);
  });
});
