// @vitest-environment happy-dom
import { act, render, screen } from '@testing-library/react';
import { Suspense } from 'react';
import { describe, expect, it } from 'vitest';
import { RealtimeProvider, useRealtimeService, useRealtimeState } from '../../../src/react';
import { cleanupAfterEach } from './fake-timer-cleanup';
import { setup } from './helpers';

// useRealtimeService subscribed in a layout effect. When a sibling suspends
// outside a transition (a useSuspenseQuery whose key changed, a lazy
// component), React hides the boundary's content that was already shown and
// runs its layout effects' cleanups, though it stays mounted with its state:
// the hidden list lost its subscription, and once the suspension outlasted
// the idle grace the tab let its connection go and reconnected when the
// data came. Passive effects stay while hidden, as useRealtimeState's
// subscription (useSyncExternalStore) does.

const clients = cleanupAfterEach();

function Tasks({ out }: { out: string[] }) {
  useRealtimeService('tasks', (events) => {
    for (const e of events) out.push(`tasks ${e.seq}`);
  });
  return <p>{useRealtimeState((s) => s.status)}</p>;
}

/** Suspends (the thrown-promise protocol, which React 18 and 19 both take) until `gate` opens. */
interface Gate {
  open: boolean;
  promise: Promise<void>;
  release: () => void;
}
function gate(): Gate {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => {
    release = resolve;
  });
  const g: Gate = { open: false, promise, release: () => {} };
  g.release = () => {
    g.open = true;
    release();
  };
  return g;
}
function Details({ wait }: { wait?: Gate }) {
  if (wait && !wait.open) throw wait.promise;
  return wait ? <p>details</p> : null;
}

describe('useRealtimeService in content a Suspense boundary hides', () => {
  it('keeps its subscription and the connection, and gets the batches meanwhile', async () => {
    const { client, backend, subscriptions } = setup({ idleGraceMs: 50 });
    clients.push(client);
    const out: string[] = [];
    const ui = (wait?: Gate) => (
      <RealtimeProvider client={client}>
        <Suspense fallback={<p>loading</p>}>
          <Tasks out={out} />
          <Details wait={wait} />
        </Suspense>
      </RealtimeProvider>
    );
    const view = render(ui());
    await screen.findByText('connected');
    const wait = gate();
    view.rerender(ui(wait));
    await screen.findByText('loading');
    // Hidden for longer than the idle grace.
    await act(() => new Promise((resolve) => setTimeout(resolve, 150)));
    expect(subscriptions.live('tasks')).toBe(1);
    expect(client.getState()).toMatchObject({ status: 'connected', services: ['tasks'] });
    act(() => {
      backend.publish({ service: 'tasks' });
    });
    expect(out).toEqual(['tasks 1']);
    await act(async () => {
      wait.release();
      await wait.promise;
    });
    await screen.findByText('details');
    expect(subscriptions.live('tasks')).toBe(1);
    expect(backend.connectCount).toBe(1);
    view.unmount();
    expect(subscriptions.live()).toBe(0);
  });
});
