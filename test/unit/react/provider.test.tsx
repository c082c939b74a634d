// @vitest-environment happy-dom
import { act, cleanup, render, screen, waitFor } from '@testing-library/react';
import { StrictMode } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RealtimeClient } from '../../../src/client';
import {
  RealtimeProvider,
  useOptimisticMutation,
  useRealtimeClient,
  useRealtimePropertyFilter,
  useRealtimeService,
  useRealtimeState,
} from '../../../src/react';
import { createMemoryBackend } from '../../../src/testing/memory-backend';
import { memoryOptions, setup } from './helpers';

// Every client the provider creates, to check none is left open.
const created = vi.hoisted(() => [] as RealtimeClient[]);
vi.mock('../../../src/client', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../../src/client')>();
  return {
    ...actual,
    createRealtime: (...args: Parameters<typeof actual.createRealtime>) => {
      const client = actual.createRealtime(...args);
      created.push(client);
      return client;
    },
  };
});

const toClose: RealtimeClient[] = [];
afterEach(async () => {
  cleanup();
  for (const client of [...toClose.splice(0), ...created.splice(0)]) await client.close();
});

function Status() {
  const status = useRealtimeState((s) => s.status);
  return <p>status: {status}</p>;
}

function Tasks({ seen }: { seen: number[] }) {
  useRealtimeService('tasks', (events) => {
    for (const e of events) seen.push(e.seq);
  });
  return null;
}

function Probe({ into }: { into: { client?: RealtimeClient } }) {
  into.client = useRealtimeClient();
  return null;
}

function Orphan() {
  useRealtimeClient();
  return null;
}

/** Renders nothing; calls the hook `call` calls. */
function CallsHook({ call }: { call: () => unknown }) {
  call();
  return null;
}

describe('RealtimeProvider', () => {
  it('passes a given client down and leaves it open on unmount', async () => {
    const { client, backend } = setup();
    toClose.push(client);
    const probe: { client?: RealtimeClient } = {};
    const seen: number[] = [];
    const view = render(
      <RealtimeProvider client={client}>
        <Probe into={probe} />
        <Tasks seen={seen} />
        <Status />
      </RealtimeProvider>,
    );
    expect(probe.client).toBe(client);
    await screen.findByText('status: connected');
    act(() => {
      backend.publish({ service: 'tasks' });
    });
    expect(seen).toEqual([1]);
    view.unmount();
    expect(client.getState().status).not.toBe('closed');
  });

  it('creates its own client from options and closes it on unmount', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const probe: { client?: RealtimeClient } = {};
    const seen: number[] = [];
    const view = render(
      <RealtimeProvider options={memoryOptions(backend)}>
        <Probe into={probe} />
        <Tasks seen={seen} />
        <Status />
      </RealtimeProvider>,
    );
    await screen.findByText('status: connected');
    expect(created).toHaveLength(1);
    expect(probe.client).toBe(created[0]);
    expect(backend.connectionCount).toBe(1);
    act(() => {
      backend.publish({ service: 'tasks' });
    });
    expect(seen).toEqual([1]);
    view.unmount();
    expect(probe.client?.getState().status).toBe('closed');
    expect(backend.connectionCount).toBe(0);
  });

  it('keeps one client under StrictMode: the first one is closed before anyone subscribes', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const seen: number[] = [];
    const view = render(
      <StrictMode>
        <RealtimeProvider options={memoryOptions(backend)}>
          <Tasks seen={seen} />
          <Status />
        </RealtimeProvider>
      </StrictMode>,
    );
    await screen.findByText('status: connected');
    const open = created.filter((c) => c.getState().status !== 'closed');
    expect(open).toHaveLength(1);
    expect(backend.connectCount).toBe(1);
    expect(backend.connectionCount).toBe(1);
    act(() => {
      backend.publish({ service: 'tasks' });
    });
    expect(seen).toEqual([1]);
    view.unmount();
    expect(created.every((c) => c.getState().status === 'closed')).toBe(true);
    expect(backend.connectionCount).toBe(0);
  });

  it('does not recreate its client when re-rendered with a new options object', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const view = render(
      <RealtimeProvider options={memoryOptions(backend)}>
        <Tasks seen={[]} />
        <Status />
      </RealtimeProvider>,
    );
    await screen.findByText('status: connected');
    view.rerender(
      <RealtimeProvider options={memoryOptions(backend)}>
        <Tasks seen={[]} />
        <Status />
      </RealtimeProvider>,
    );
    await waitFor(() => expect(screen.getByText('status: connected')).toBeTruthy());
    expect(created).toHaveLength(1);
    expect(backend.connectCount).toBe(1);
  });

  it('useRealtimeClient throws a clear error outside a provider', () => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(() => render(<Orphan />)).toThrow(/inside a <RealtimeProvider>/);
    spy.mockRestore();
  });

  it.each([
    ['useRealtimeClient', () => useRealtimeClient()],
    ['useRealtimeService', () => useRealtimeService('tasks', () => {})],
    ['useRealtimeState', () => useRealtimeState()],
    ['useRealtimePropertyFilter', () => useRealtimePropertyFilter(null)],
    ['useOptimisticMutation', () => useOptimisticMutation({ mutate: async () => {} })],
  ] as const)('%s outside a provider names itself and says how to fix it', (hook, call) => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(() => render(<CallsHook call={call} />)).toThrow(
      `${hook} must be used inside a <RealtimeProvider>: wrap the app (or this component) in <RealtimeProvider client={rt}> or options={…}`,
    );
    spy.mockRestore();
  });
});
