// @vitest-environment happy-dom
import { describe, expect, it, vi } from 'vitest';
import type { RealtimeEvent } from '../../../src/protocol/schemas';
import { bindDomEvents, installDevtools, setRealtimePropertyFilter } from '../../../src/vanilla';
import { cleanups, setup } from './harness';

// The window-level helpers kept the clients they were given after close():
// setRealtimePropertyFilter threw `closed` (the client bound last was the
// closed one, though an open one was bound before it), the closed client
// stayed referenced, and __realtimeState showed it. A page that closes its
// client and creates another (logout, login) must keep working.

function recordOnWindow(service: string): RealtimeEvent[][] {
  const got: RealtimeEvent[][] = [];
  const listen = (e: Event) => got.push((e as CustomEvent<RealtimeEvent[]>).detail);
  window.addEventListener(`${service}-stream-events`, listen);
  cleanups.push(() => window.removeEventListener(`${service}-stream-events`, listen));
  return got;
}

type DevtoolsWindow = Window & { __realtimeState?: () => unknown };

describe('the vanilla helpers after close()', () => {
  it('setRealtimePropertyFilter goes to the client still open, not the closed one bound last', async () => {
    const a = setup().rt;
    const b = setup().rt;
    cleanups.push(bindDomEvents(a, { services: ['tasks'] }));
    cleanups.push(bindDomEvents(b, { services: ['tasks'] }));
    await b.close();
    setRealtimePropertyFilter('p1');
    expect(a.getState().propertyFilter).toBe('p1');
  });

  it('logout then login: the closed client is dropped, the new one is used', async () => {
    const first = setup();
    const got = recordOnWindow('tasks');
    const unbindFirst = bindDomEvents(first.rt, { services: ['tasks'] });
    cleanups.push(installDevtools(first.rt));
    await first.rt.close();
    // Between logout and login there is no client to set a filter on.
    expect(() => setRealtimePropertyFilter('p1')).toThrow(/no realtime client is bound/);
    expect((window as DevtoolsWindow).__realtimeState).toBeUndefined();

    const second = setup();
    cleanups.push(bindDomEvents(second.rt, { services: ['tasks'] }));
    setRealtimePropertyFilter('p2');
    expect(second.rt.getState().propertyFilter).toBe('p2');
    // The first client's late unbind (a teardown that runs after close) is harmless.
    unbindFirst();
    await vi.waitFor(() => expect(second.rt.getState().status).toBe('connected'));
    const event = second.backend.publish({ service: 'tasks', propertyId: 'p2' });
    expect(got).toEqual([[event]]);
  });

  it('takes away the listeners bound on the closed client', async () => {
    const { rt } = setup();
    const off = vi.spyOn(rt, 'off');
    cleanups.push(bindDomEvents(rt, { services: ['tasks'] }));
    cleanups.push(installDevtools(rt));
    await rt.close();
    // The dispatch's `events` listener and each binding's close watch.
    expect(off.mock.calls.map(([event]) => event).sort()).toEqual(['events', 'statechange', 'statechange']);
  });

  it('binds nothing for a client already closed', async () => {
    const a = setup().rt;
    const b = setup().rt;
    cleanups.push(installDevtools(a));
    await b.close();
    cleanups.push(installDevtools(b));
    cleanups.push(bindDomEvents(b));
    setRealtimePropertyFilter('p1');
    expect(a.getState().propertyFilter).toBe('p1');
    expect((window as DevtoolsWindow).__realtimeState?.()).toBe(a.getState());
  });
});

describe('bindDomEvents on a client already closed, with services', () => {
  it('binds nothing and does not throw, as without services', async () => {
    const a = setup().rt;
    const b = setup().rt;
    cleanups.push(bindDomEvents(a, { services: ['tasks'] }));
    await b.close();
    // Threw `this realtime client is closed` from the subscribe of `services`.
    const unbind = bindDomEvents(b, { services: ['tasks'] });
    unbind();
    setRealtimePropertyFilter('p1');
    expect(a.getState().propertyFilter).toBe('p1');
  });
});
