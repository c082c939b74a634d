// @vitest-environment happy-dom
import { act, render, screen } from '@testing-library/react';
import { type ReactNode, StrictMode, useState } from 'react';
import { describe, expect, it } from 'vitest';
import type { RealtimeEvent } from '../../../src/protocol/schemas';
import {
  RealtimeProvider,
  useRealtimePropertyFilter,
  useRealtimeService,
  useRealtimeState,
} from '../../../src/react';
import { cleanupAfterEach } from './fake-timer-cleanup';
import { memoryOptions, setup } from './helpers';

const clients = cleanupAfterEach();

function harness() {
  const h = setup();
  clients.push(h.client);
  const wrap = (children: ReactNode, strict = false) => {
    const tree = <RealtimeProvider client={h.client}>{children}</RealtimeProvider>;
    return strict ? <StrictMode>{tree}</StrictMode> : tree;
  };
  const connected = () => screen.findByText('connected');
  return { ...h, wrap, connected };
}

function Status() {
  return <p>{useRealtimeState((s) => s.status)}</p>;
}

/** A handler that closes over a prop: only the latest render's value is right. */
function Service(props: { label: string; out: string[]; enabled?: boolean; service?: string }) {
  useRealtimeService(
    props.service ?? 'tasks',
    (events: RealtimeEvent[]) => {
      for (const e of events) props.out.push(`${props.label}:${e.seq}`);
    },
    props.enabled,
  );
  return null;
}

interface RenderCount {
  count: number;
}

function StatusOnly({ renders }: { renders: RenderCount }) {
  renders.count++;
  return <p>{useRealtimeState((s) => s.status)}</p>;
}

function Delivered({ renders }: { renders: RenderCount }) {
  renders.count++;
  const n = useRealtimeState((s) => s.byServiceDelivered.tasks ?? 0);
  return <p>delivered {n}</p>;
}

function All({ seen }: { seen: { state?: unknown } }) {
  const state = useRealtimeState();
  seen.state = state;
  return <p>{state.status}</p>;
}

function Services({ renders }: { renders: RenderCount }) {
  renders.count++;
  const services = useRealtimeState(
    (s) => [...s.services],
    (a, b) => a.length === b.length && a.every((x, i) => x === b[i]),
  );
  return <p>services {services.join(',')}</p>;
}

function Field({ field }: { field: 'status' | 'electionStrategy' }) {
  return <p>field {useRealtimeState((s) => s[field])}</p>;
}

function Switcher() {
  const [field, setField] = useState<'status' | 'electionStrategy'>('status');
  return (
    <button type="button" onClick={() => setField('electionStrategy')}>
      <Field field={field} />
    </button>
  );
}

function Filter({ id }: { id: string | null }) {
  useRealtimePropertyFilter(id);
  return null;
}

describe('useRealtimeService', () => {
  it('calls the latest handler after a re-render and does not re-subscribe per render', async () => {
    const { backend, subscriptions, wrap, connected } = harness();
    const out: string[] = [];
    const view = render(
      wrap(
        <>
          <Service label="a" out={out} />
          <Status />
        </>,
      ),
    );
    await connected();
    act(() => {
      backend.publish({ service: 'tasks' });
    });
    for (const label of ['b', 'c', 'd']) {
      view.rerender(
        wrap(
          <>
            <Service label={label} out={out} />
            <Status />
          </>,
        ),
      );
    }
    act(() => {
      backend.publish({ service: 'tasks' });
    });
    expect(out).toEqual(['a:1', 'd:2']);
    expect(subscriptions.calls).toBe(1);
    expect(subscriptions.live('tasks')).toBe(1);
    expect(backend.connectCount).toBe(1);
  });

  it('leaves exactly one live subscription and one connection under StrictMode', async () => {
    const { backend, client, subscriptions, wrap, connected } = harness();
    const out: string[] = [];
    const view = render(
      wrap(
        <>
          <Service label="s" out={out} />
          <Status />
        </>,
        true,
      ),
    );
    await connected();
    expect(subscriptions.calls).toBe(2); // mount, (unmount), mount
    expect(subscriptions.live('tasks')).toBe(1);
    expect(client.getState().services).toEqual(['tasks']);
    act(() => {
      backend.publish({ service: 'tasks' });
    });
    expect(out).toEqual(['s:1']);
    // Let the idle grace (1 s by default) pass: still no reconnect.
    await act(() => new Promise((r) => setTimeout(r, 1100)));
    expect(backend.connectCount).toBe(1);
    expect(backend.connectionCount).toBe(1);
    view.unmount();
    expect(subscriptions.live()).toBe(0);
  });

  it('unsubscribes on unmount', async () => {
    const { backend, client, subscriptions, wrap, connected } = harness();
    const out: string[] = [];
    const view = render(
      wrap(
        <>
          <Service label="s" out={out} />
          <Status />
        </>,
      ),
    );
    await connected();
    view.unmount();
    expect(subscriptions.live()).toBe(0);
    expect(client.getState().services).toEqual([]);
    backend.publish({ service: 'tasks' });
    expect(out).toEqual([]);
  });

  it('unsubscribes while enabled is false and subscribes again when it turns true', async () => {
    const { backend, client, subscriptions, wrap, connected } = harness();
    const out: string[] = [];
    const ui = (enabled: boolean) =>
      wrap(
        <>
          <Service label="s" out={out} enabled={enabled} />
          <Service label="keep" out={out} service="finance" />
          <Status />
        </>,
      );
    const view = render(ui(true));
    await connected();
    view.rerender(ui(false));
    expect(subscriptions.live('tasks')).toBe(0);
    expect(client.getState().services).toEqual(['finance']);
    act(() => {
      backend.publish({ service: 'tasks' });
    });
    expect(out).toEqual([]);
    view.rerender(ui(true));
    expect(subscriptions.live('tasks')).toBe(1);
    expect(subscriptions.calls).toBe(3); // tasks, finance, tasks again
  });

  it('re-subscribes when the service changes', async () => {
    const { subscriptions, client, wrap, connected } = harness();
    const out: string[] = [];
    const view = render(
      wrap(
        <>
          <Service label="s" out={out} service="tasks" />
          <Status />
        </>,
      ),
    );
    await connected();
    view.rerender(
      wrap(
        <>
          <Service label="s" out={out} service="finance" />
          <Status />
        </>,
      ),
    );
    expect(subscriptions.live('tasks')).toBe(0);
    expect(subscriptions.live('finance')).toBe(1);
    expect(client.getState().services).toEqual(['finance']);
  });
});

describe('useRealtimeState', () => {
  it('re-renders a component only when its slice changes', async () => {
    const { backend, client, wrap, connected } = harness();
    const statusRenders = { count: 0 };
    const deliveredRenders = { count: 0 };
    render(
      wrap(
        <>
          <Service label="s" out={[]} />
          <StatusOnly renders={statusRenders} />
          <Delivered renders={deliveredRenders} />
        </>,
      ),
    );
    await connected();
    const statusBefore = statusRenders.count;
    const deliveredBefore = deliveredRenders.count;
    const stateBefore = client.getState();
    act(() => {
      for (let i = 0; i < 3; i++) backend.publish({ service: 'tasks' });
    });
    expect(client.getState()).not.toBe(stateBefore);
    await screen.findByText('delivered 3');
    expect(statusRenders.count).toBe(statusBefore);
    expect(deliveredRenders.count).toBeGreaterThan(deliveredBefore);
    expect(deliveredRenders.count - deliveredBefore).toBeLessThanOrEqual(3);
  });

  it('returns the whole state without a selector', async () => {
    const { client, wrap, connected } = harness();
    const seen: { state?: unknown } = {};
    render(
      wrap(
        <>
          <Service label="s" out={[]} />
          <All seen={seen} />
        </>,
      ),
    );
    await connected();
    expect(seen.state).toBe(client.getState());
  });

  it('keeps an equal derived slice (isEqual) and renders nothing for it', async () => {
    const { backend, wrap, connected } = harness();
    const renders = { count: 0 };
    render(
      wrap(
        <>
          <Service label="s" out={[]} />
          <Services renders={renders} />
          <Status />
        </>,
      ),
    );
    await connected();
    await screen.findByText('services tasks');
    const before = renders.count;
    act(() => {
      backend.publish({ service: 'tasks' });
    });
    expect(renders.count).toBe(before);
  });

  it('uses the new selector when it changes, even if the state did not', async () => {
    const { wrap, connected } = harness();
    render(
      wrap(
        <>
          <Service label="s" out={[]} />
          <Switcher />
          <Status />
        </>,
      ),
    );
    await connected();
    await screen.findByText('field connected');
    act(() => {
      screen.getByRole('button').click();
    });
    expect(screen.getByText('field none')).toBeTruthy();
  });
});

describe('useRealtimePropertyFilter', () => {
  it('sets the filter, changes it in place, and clears it on unmount', async () => {
    const { backend, client, wrap, connected } = harness();
    const out: string[] = [];
    const ui = (id: string | null) =>
      wrap(
        <>
          <Service label="s" out={out} />
          <Filter id={id} />
          <Status />
        </>,
      );
    const view = render(ui('p1'));
    await connected();
    expect(client.getState().propertyFilter).toBe('p1');
    act(() => {
      backend.publish({ service: 'tasks', propertyId: 'p1' });
      backend.publish({ service: 'tasks', propertyId: 'p2' });
    });
    expect(out).toEqual(['s:1']);
    view.rerender(ui('p2'));
    expect(client.getState().propertyFilter).toBe('p2');
    view.rerender(ui(null));
    expect(client.getState().propertyFilter).toBeNull();
    view.rerender(ui('p3'));
    view.unmount();
    expect(client.getState().propertyFilter).toBeNull();
    expect(backend.connectCount).toBe(1);
  });

  it('does not throw when an owning provider closed the client first', async () => {
    const { backend } = harness();
    const view = render(
      <RealtimeProvider options={memoryOptions(backend)}>
        <Service label="s" out={[]} />
        <Filter id="p1" />
        <Status />
      </RealtimeProvider>,
    );
    await screen.findByText('connected');
    expect(() => view.unmount()).not.toThrow();
  });
});
