// @vitest-environment happy-dom
import { act, cleanup, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RealtimeClient } from '../../../src/client';
import type { RealtimeOptions } from '../../../src/options';
import { RealtimeProvider, useRealtimeService, useRealtimeState } from '../../../src/react';
import { createMemoryBackend } from '../../../src/testing/memory-backend';
import { memoryOptions, setup } from './helpers';

// RealtimeProviderProps is `{ client } | { options }`, and an app may pass
// one or the other depending on where it runs (a shared client in the shell,
// an own one in an embedded widget). The provider read `options` only from
// its first render (a ref's initial value): one that first rendered with
// `client` and then got `options` had none to create a client from and
// rendered nothing, for good.

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

function Tasks({ seen }: { seen: number[] }) {
  useRealtimeService('tasks', (events) => {
    for (const e of events) seen.push(e.seq);
  });
  return <p>status: {useRealtimeState((s) => s.status)}</p>;
}

function App(props: { client?: RealtimeClient; options?: RealtimeOptions; seen: number[] }) {
  const children = <Tasks seen={props.seen} />;
  return props.client ? (
    <RealtimeProvider client={props.client}>{children}</RealtimeProvider>
  ) : (
    <RealtimeProvider options={props.options as RealtimeOptions}>{children}</RealtimeProvider>
  );
}

describe('RealtimeProvider switched from a given client to options', () => {
  it('creates its own client from the options and delivers to the children', async () => {
    const shared = setup();
    toClose.push(shared.client);
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const seen: number[] = [];
    const view = render(<App client={shared.client} seen={seen} />);
    await screen.findByText('status: connected');

    view.rerender(<App options={memoryOptions(backend)} seen={seen} />);
    await screen.findByText('status: connected');
    const own = created.filter((c) => c !== shared.client);
    expect(own).toHaveLength(1);
    expect(own[0]!.getState().status).toBe('connected');
    act(() => {
      backend.publish({ service: 'tasks' });
    });
    expect(seen).toEqual([1]);
    // The shared client is the app's: left open, and no longer subscribed to.
    expect(shared.client.getState().status).not.toBe('closed');
    expect(shared.subscriptions.live('tasks')).toBe(0);

    view.unmount();
    expect(own[0]!.getState().status).toBe('closed');
    expect(backend.connectionCount).toBe(0);
  });

  it('still reads the options once: a new options object after that recreates nothing', async () => {
    const backend = createMemoryBackend({ heartbeatMs: 60_000 });
    const seen: number[] = [];
    const view = render(<App options={memoryOptions(backend)} seen={seen} />);
    await screen.findByText('status: connected');
    view.rerender(<App options={memoryOptions(backend)} seen={seen} />);
    await act(async () => {});
    expect(created).toHaveLength(1);
    expect(backend.connectCount).toBe(1);
  });
});
