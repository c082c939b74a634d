// @vitest-environment happy-dom
import { act, render, screen } from '@testing-library/react';
import { type ReactNode, StrictMode } from 'react';
import { describe, expect, it } from 'vitest';
import type { RealtimeClient } from '../../../src/client';
import type { RealtimeEvent } from '../../../src/protocol/schemas';
import {
  RealtimeProvider,
  useRealtimePropertyFilter,
  useRealtimeService,
  useRealtimeState,
} from '../../../src/react';
import { cleanupAfterEach } from './fake-timer-cleanup';
import { setup } from './helpers';

// Several mounted components set the property filter (a page and a drawer
// over it, say): the one mounted last wins, and when it unmounts the filter
// goes back to the one of the components still mounted, `null` only once
// none is left. It went back to `null` as soon as one of them unmounted,
// although the other was still there and its events were then all let
// through (or, with the same id, the other's filter was simply lost).

const clients = cleanupAfterEach();

function harness() {
  const h = setup();
  clients.push(h.client);
  return h;
}

function Status() {
  return <p>{useRealtimeState((s) => s.status)}</p>;
}

function Filter({ id }: { id: string | null }) {
  useRealtimePropertyFilter(id);
  return null;
}

function Tasks({ out }: { out: string[] }) {
  useRealtimeService('tasks', (events: RealtimeEvent[]) => {
    for (const e of events) out.push(`${e.propertyId}:${e.seq}`);
  });
  return null;
}

function Parent() {
  useRealtimePropertyFilter('parent');
  return <Filter id="child" />;
}

function StrictModeIf({ strict, children }: { strict: boolean; children: ReactNode }) {
  return strict ? <StrictMode>{children}</StrictMode> : children;
}

/** The filters to mount, by key: a key left out is unmounted, a key added mounts last. */
type Filters = Record<string, string | null>;

/** A provider with a subscriber (else the client stays idle) and the filters' components. */
function app(client: RealtimeClient, filters: Filters, strict: boolean, out: string[] = []) {
  const tree = (
    <RealtimeProvider client={client}>
      <Status />
      <Tasks out={out} />
      {Object.entries(filters).map(([key, id]) => (
        <Filter key={key} id={id} />
      ))}
    </RealtimeProvider>
  );
  return <StrictModeIf strict={strict}>{tree}</StrictModeIf>;
}

describe.each([
  ['', false],
  [' under StrictMode', true],
])('useRealtimePropertyFilter in several components%s', (_, strict) => {
  it('keeps the filter of the same id while one of its components is still mounted', async () => {
    const { client } = harness();
    const view = render(app(client, { a: 'p1' }, strict));
    await screen.findByText('connected');
    view.rerender(app(client, { a: 'p1', b: 'p1' }, strict));
    expect(client.getState().propertyFilter).toBe('p1');
    view.rerender(app(client, { a: 'p1' }, strict));
    expect(client.getState().propertyFilter).toBe('p1');
    view.rerender(app(client, { b: 'p1' }, strict));
    expect(client.getState().propertyFilter).toBe('p1');
    view.rerender(app(client, {}, strict));
    expect(client.getState().propertyFilter).toBeNull();
  });

  it('lets the last mounted win, and restores the one still mounted when it unmounts', async () => {
    const { backend, client } = harness();
    const out: string[] = [];
    const ui = (filters: Filters) => app(client, filters, strict, out);
    const view = render(ui({ page: 'p1' }));
    await screen.findByText('connected');
    view.rerender(ui({ page: 'p1', drawer: 'p2' }));
    expect(client.getState().propertyFilter).toBe('p2');
    view.rerender(ui({ page: 'p1' }));
    expect(client.getState().propertyFilter).toBe('p1');
    act(() => {
      backend.publish({ service: 'tasks', propertyId: 'p1' });
      backend.publish({ service: 'tasks', propertyId: 'p2' });
    });
    expect(out).toEqual(['p1:1']);
    // A component that wants every property is one of the stack too.
    view.rerender(ui({ page: 'p1', all: null }));
    expect(client.getState().propertyFilter).toBeNull();
    view.rerender(ui({ page: 'p1' }));
    expect(client.getState().propertyFilter).toBe('p1');
    view.rerender(ui({}));
    expect(client.getState().propertyFilter).toBeNull();
    expect(backend.connectCount).toBe(1);
  });

  it('keeps the last mounted when an earlier one unmounts', async () => {
    const { client } = harness();
    const view = render(app(client, { a: 'p1' }, strict));
    await screen.findByText('connected');
    view.rerender(app(client, { a: 'p1', b: 'p2' }, strict));
    view.rerender(app(client, { a: 'p1', b: 'p2', c: 'p1' }, strict));
    expect(client.getState().propertyFilter).toBe('p1');
    view.rerender(app(client, { b: 'p2', c: 'p1' }, strict));
    expect(client.getState().propertyFilter).toBe('p1');
    view.rerender(app(client, { b: 'p2' }, strict));
    expect(client.getState().propertyFilter).toBe('p2');
    view.rerender(app(client, {}, strict));
    expect(client.getState().propertyFilter).toBeNull();
  });

  it('applies a changed id at once on top, and when the ones above unmount otherwise', async () => {
    const { client } = harness();
    const view = render(app(client, { a: 'p1' }, strict));
    await screen.findByText('connected');
    view.rerender(app(client, { a: 'p1', b: 'p2' }, strict));
    view.rerender(app(client, { a: 'p3', b: 'p2' }, strict));
    expect(client.getState().propertyFilter).toBe('p2');
    view.rerender(app(client, { a: 'p3', b: 'p4' }, strict));
    expect(client.getState().propertyFilter).toBe('p4');
    view.rerender(app(client, { a: 'p3' }, strict));
    expect(client.getState().propertyFilter).toBe('p3');
    view.rerender(app(client, {}, strict));
    expect(client.getState().propertyFilter).toBeNull();
  });

  it('counts a parent mounted in the same render as mounted after its children (docs/react.md)', async () => {
    const { client } = harness();
    const ui = (child: boolean) => (
      <StrictModeIf strict={strict}>
        <RealtimeProvider client={client}>
          <Tasks out={[]} />
          {child ? <Parent /> : null}
        </RealtimeProvider>
      </StrictModeIf>
    );
    const view = render(ui(true));
    expect(client.getState().propertyFilter).toBe('parent');
    view.rerender(ui(false));
    expect(client.getState().propertyFilter).toBeNull();
  });

  it('leaves a filter the app set itself meanwhile', async () => {
    const { client } = harness();
    const view = render(app(client, { a: 'p1', b: 'p2' }, strict));
    await screen.findByText('connected');
    act(() => {
      client.setPropertyFilter('p9');
    });
    view.rerender(app(client, { a: 'p1' }, strict));
    expect(client.getState().propertyFilter).toBe('p9');
  });

  it('keeps one stack per client', async () => {
    const x = harness().client;
    const y = harness().client;
    const ui = (onX: Filters, onY: Filters) => {
      const tree = (
        <>
          <RealtimeProvider client={x}>
            {Object.entries(onX).map(([key, id]) => (
              <Filter key={key} id={id} />
            ))}
          </RealtimeProvider>
          <RealtimeProvider client={y}>
            {Object.entries(onY).map(([key, id]) => (
              <Filter key={key} id={id} />
            ))}
          </RealtimeProvider>
        </>
      );
      return <StrictModeIf strict={strict}>{tree}</StrictModeIf>;
    };
    const view = render(ui({ a: 'p1' }, { a: 'q1' }));
    view.rerender(ui({ a: 'p1', b: 'p2' }, { a: 'q1', b: 'q2' }));
    expect([x.getState().propertyFilter, y.getState().propertyFilter]).toEqual(['p2', 'q2']);
    view.rerender(ui({ a: 'p1' }, { a: 'q1', b: 'q2' }));
    expect([x.getState().propertyFilter, y.getState().propertyFilter]).toEqual(['p1', 'q2']);
    view.rerender(ui({ a: 'p1' }, { a: 'q1' }));
    expect([x.getState().propertyFilter, y.getState().propertyFilter]).toEqual(['p1', 'q1']);
    view.rerender(ui({}, { a: 'q1' }));
    expect([x.getState().propertyFilter, y.getState().propertyFilter]).toEqual([null, 'q1']);
    view.rerender(ui({}, {}));
    expect([x.getState().propertyFilter, y.getState().propertyFilter]).toEqual([null, null]);
  });

  it('moves a component to the new client when its provider is given another', async () => {
    const x = harness().client;
    const y = harness().client;
    const ui = (client: RealtimeClient) => (
      <>
        {app(x, { a: 'p1' }, strict)}
        {app(client, { b: 'p2' }, strict)}
      </>
    );
    const view = render(ui(x));
    expect(x.getState().propertyFilter).toBe('p2');
    view.rerender(ui(y));
    expect([x.getState().propertyFilter, y.getState().propertyFilter]).toEqual(['p1', 'p2']);
  });
});
