// @vitest-environment happy-dom
import { describe, expect, it, vi } from 'vitest';
import type { RealtimeEvent } from '../../../src/protocol/schemas';
import { bindDomEvents, installDevtools, setRealtimePropertyFilter } from '../../../src/vanilla';
import { cleanups, setup } from './harness';

async function until(check: () => boolean): Promise<void> {
  await vi.waitFor(() => expect(check()).toBe(true));
}

describe('bindDomEvents', () => {
  it('dispatches <service>-stream-events with the events as detail, until unbound', async () => {
    const { rt, backend } = setup();
    const got: Array<{ type: string; detail: RealtimeEvent[] }> = [];
    const listen = (e: Event) =>
      got.push({ type: e.type, detail: (e as CustomEvent<RealtimeEvent[]>).detail });
    window.addEventListener('tasks-stream-events', listen);
    window.addEventListener('finance-stream-events', listen);
    cleanups.push(() => {
      window.removeEventListener('tasks-stream-events', listen);
      window.removeEventListener('finance-stream-events', listen);
    });
    const unbind = bindDomEvents(rt, { services: ['tasks', 'finance'] });
    await until(() => rt.getState().status === 'connected');
    const batch = backend.publishBatch([{ service: 'tasks' }, { service: 'tasks' }]);
    const finance = backend.publish({ service: 'finance' });
    expect(got).toEqual([
      { type: 'tasks-stream-events', detail: batch },
      { type: 'finance-stream-events', detail: [finance] },
    ]);
    unbind();
    unbind();
    expect(rt.getState().services).toEqual([]);
    backend.publish({ service: 'tasks' });
    expect(got).toHaveLength(2);
  });

  it('dispatches on a given target', async () => {
    const { rt, backend } = setup();
    const target = new EventTarget();
    const details: unknown[] = [];
    target.addEventListener('tasks-stream-events', (e) => details.push((e as CustomEvent).detail));
    cleanups.push(bindDomEvents(rt, { services: ['tasks'], target }));
    await until(() => rt.getState().status === 'connected');
    const event = backend.publish({ service: 'tasks' });
    expect(details).toEqual([[event]]);
  });

  it('subscribes nothing when a service name is invalid', () => {
    const { rt } = setup();
    expect(() => bindDomEvents(rt, { services: ['tasks', 'not a name!'] })).toThrow(RangeError);
    expect(rt.getState().services).toEqual([]);
  });

  it('refuses services that are not an array', () => {
    const { rt } = setup();
    expect(() => bindDomEvents(rt, { services: 'tasks' as unknown as string[] })).toThrow(
      /services must be an array of service names, got string/,
    );
    expect(rt.getState().services).toEqual([]);
  });

  it('refuses a target that cannot dispatch, binding nothing', () => {
    const { rt } = setup();
    // A legacy page's jQuery wrapper, say: it bound, and then every batch
    // threw `dispatchEvent is not a function`, reported far from the call.
    const notATarget = { on() {}, trigger() {} } as unknown as EventTarget;
    expect(() => bindDomEvents(rt, { services: ['tasks'], target: notATarget })).toThrow(
      new TypeError('bindDomEvents: options.target must be an EventTarget (with dispatchEvent)'),
    );
    expect(rt.getState().services).toEqual([]);
    expect(() => setRealtimePropertyFilter('p1')).toThrow(/no realtime client is bound/);
  });

  it('leaves nothing behind once unbound: no listener on the target, none on the client, no subscription', () => {
    const { rt } = setup();
    const on = vi.spyOn(rt, 'on');
    const off = vi.spyOn(rt, 'off');
    const target = new EventTarget();
    const added = vi.spyOn(target, 'addEventListener');
    const undo = [
      bindDomEvents(rt, { services: ['tasks', 'users'], target }),
      bindDomEvents(rt, { target }),
      bindDomEvents(rt, { services: ['users'] }),
      installDevtools(rt),
    ];
    expect(rt.getState().services).toEqual(['tasks', 'users']);
    for (const unbind of undo) unbind();
    expect(added).not.toHaveBeenCalled();
    expect(rt.getState().services).toEqual([]);
    // Every listener the helpers added to the client was taken away again.
    const events = (calls: unknown[][]) => calls.map(([event]) => event).sort();
    expect(on.mock.calls.length).toBeGreaterThan(0);
    expect(events(off.mock.calls)).toEqual(events(on.mock.calls));
  });

  it("without services (API.md's `{ target: window }`), dispatches what the tab's own subscribers get", async () => {
    const { rt, backend } = setup();
    const got: Array<{ type: string; detail: RealtimeEvent[] }> = [];
    const listen = (e: Event) =>
      got.push({ type: e.type, detail: (e as CustomEvent<RealtimeEvent[]>).detail });
    for (const name of ['tasks-stream-events', 'finance-stream-events', 'users-stream-events']) {
      window.addEventListener(name, listen);
      cleanups.push(() => window.removeEventListener(name, listen));
    }
    const unbind = bindDomEvents(rt, { target: window });
    // It subscribes to nothing itself.
    expect(rt.getState().services).toEqual([]);
    const seen: RealtimeEvent[][] = [];
    const offTasks = rt.subscribe('tasks', (events) => seen.push(events));
    const offFinance = rt.subscribe('finance', () => {});
    await until(() => rt.getState().status === 'connected');
    rt.setPropertyFilter('p1');
    const batch = backend.publishBatch([
      { service: 'tasks', propertyId: 'p1' },
      { service: 'tasks', propertyId: 'p2' },
    ]);
    const finance = backend.publish({ service: 'finance' });
    // Once per batch, after the handlers, with the very batch they got (filter applied).
    expect(seen).toEqual([[batch[0]]]);
    expect(got).toEqual([
      { type: 'tasks-stream-events', detail: [batch[0]] },
      { type: 'finance-stream-events', detail: [finance] },
    ]);
    expect(got[0]?.detail).toBe(seen[0]);
    // A service nobody subscribed to is not dispatched; a kill switch stops it too.
    backend.publish({ service: 'users' });
    rt.setFlags({ disabledServices: ['finance'] });
    backend.publish({ service: 'finance' });
    expect(got).toHaveLength(2);
    unbind();
    backend.publish({ service: 'tasks', propertyId: 'p1' });
    expect(seen).toHaveLength(2);
    expect(got).toHaveLength(2);
    offTasks();
    offFinance();
  });

  it("emits the client's `events` after the handlers ran and the counters moved", async () => {
    const { rt, backend } = setup();
    const order: string[] = [];
    rt.subscribe('tasks', () => order.push('handler'));
    rt.on('events', (service, events) =>
      order.push(`events ${service} ${events.length} delivered ${rt.getState().byServiceDelivered.tasks}`),
    );
    await until(() => rt.getState().status === 'connected');
    backend.publishBatch([{ service: 'tasks' }, { service: 'tasks' }]);
    expect(order).toEqual(['handler', 'events tasks 2 delivered 2']);
  });

  it('without any options, dispatches on window', async () => {
    const { rt, backend } = setup();
    const details: unknown[] = [];
    const listen = (e: Event) => details.push((e as CustomEvent).detail);
    window.addEventListener('tasks-stream-events', listen);
    cleanups.push(() => window.removeEventListener('tasks-stream-events', listen));
    cleanups.push(bindDomEvents(rt));
    cleanups.push(rt.subscribe('tasks', () => {}));
    await until(() => rt.getState().status === 'connected');
    const event = backend.publish({ service: 'tasks' });
    expect(details).toEqual([[event]]);
  });
});

/** Records every `${service}-stream-events` of `services` dispatched on `target`. */
function recordOn(target: EventTarget, services: string[]): Array<{ type: string; detail: RealtimeEvent[] }> {
  const got: Array<{ type: string; detail: RealtimeEvent[] }> = [];
  const listen = (e: Event) => got.push({ type: e.type, detail: (e as CustomEvent<RealtimeEvent[]>).detail });
  for (const service of services) {
    target.addEventListener(`${service}-stream-events`, listen);
    cleanups.push(() => target.removeEventListener(`${service}-stream-events`, listen));
  }
  return got;
}

/** Undone after the test also if it fails first: a binding left behind would fail later tests. */
function bound(undo: () => void): () => void {
  cleanups.push(undo);
  return undo;
}

// Two bindings of one client to one target (two widgets, a hot-module
// reload, a legacy script beside a new one) dispatched every batch twice:
// a duplicate delivery at the app's edge.
describe('bindDomEvents, bound more than once to one target', () => {
  it('dispatches each batch once; the last unbind stops it', async () => {
    const { rt, backend } = setup();
    const got = recordOn(window, ['tasks']);
    const unbindA = bound(bindDomEvents(rt, { services: ['tasks'] }));
    const unbindB = bound(bindDomEvents(rt, { services: ['tasks'] }));
    await until(() => rt.getState().status === 'connected');
    const first = backend.publish({ service: 'tasks' });
    expect(got).toEqual([{ type: 'tasks-stream-events', detail: [first] }]);
    // Each unbind releases its own binding: the other one still dispatches.
    unbindA();
    unbindA();
    expect(rt.getState().services).toEqual(['tasks']);
    const second = backend.publish({ service: 'tasks' });
    expect(got.map((e) => e.detail)).toEqual([[first], [second]]);
    unbindB();
    expect(rt.getState().services).toEqual([]);
    backend.publish({ service: 'tasks' });
    expect(got).toHaveLength(2);
  });

  it('dispatches the services of every binding, each once, and unbinding one keeps the others', async () => {
    const { rt, backend } = setup();
    const got = recordOn(window, ['tasks', 'users', 'finance']);
    const unbindA = bound(bindDomEvents(rt, { services: ['tasks', 'users'] }));
    const unbindB = bound(bindDomEvents(rt, { services: ['users', 'finance'] }));
    await until(() => rt.getState().status === 'connected');
    const tasks = backend.publish({ service: 'tasks' });
    const users = backend.publish({ service: 'users' });
    const finance = backend.publish({ service: 'finance' });
    expect(got).toEqual([
      { type: 'tasks-stream-events', detail: [tasks] },
      { type: 'users-stream-events', detail: [users] },
      { type: 'finance-stream-events', detail: [finance] },
    ]);
    // `users` is still named by B: only `tasks` goes.
    unbindA();
    expect(rt.getState().services).toEqual(['finance', 'users']);
    const users2 = backend.publish({ service: 'users' });
    expect(got.slice(3)).toEqual([{ type: 'users-stream-events', detail: [users2] }]);
    unbindB();
    expect(rt.getState().services).toEqual([]);
  });

  it('dispatches once when one binding names services and another names none', async () => {
    const { rt, backend } = setup();
    const got = recordOn(window, ['tasks', 'crm']);
    const unbindAll = bound(bindDomEvents(rt));
    const unbindTasks = bound(bindDomEvents(rt, { services: ['tasks'] }));
    const offCrm = bound(rt.subscribe('crm', () => {}));
    await until(() => rt.getState().status === 'connected');
    const tasks = backend.publish({ service: 'tasks' });
    const crm = backend.publish({ service: 'crm' });
    expect(got).toEqual([
      { type: 'tasks-stream-events', detail: [tasks] },
      { type: 'crm-stream-events', detail: [crm] },
    ]);
    // Without the binding that names none, only the named services are dispatched.
    unbindAll();
    const tasks2 = backend.publish({ service: 'tasks' });
    backend.publish({ service: 'crm' });
    expect(got.slice(2)).toEqual([{ type: 'tasks-stream-events', detail: [tasks2] }]);
    unbindTasks();
    offCrm();
  });

  it('dispatches a service named twice in one binding once', async () => {
    const { rt, backend } = setup();
    const got = recordOn(window, ['tasks']);
    const unbind = bound(bindDomEvents(rt, { services: ['tasks', 'tasks'] }));
    await until(() => rt.getState().status === 'connected');
    const event = backend.publish({ service: 'tasks' });
    expect(got).toEqual([{ type: 'tasks-stream-events', detail: [event] }]);
    unbind();
    expect(rt.getState().services).toEqual([]);
  });

  it('keeps other targets, and other clients, apart', async () => {
    const a = setup();
    const b = setup();
    const target = new EventTarget();
    const onWindow = recordOn(window, ['tasks']);
    const onTarget = recordOn(target, ['tasks']);
    cleanups.push(bindDomEvents(a.rt, { services: ['tasks'] }));
    cleanups.push(bindDomEvents(a.rt, { services: ['tasks'], target }));
    cleanups.push(bindDomEvents(b.rt, { services: ['tasks'] }));
    await until(() => a.rt.getState().status === 'connected' && b.rt.getState().status === 'connected');
    const fromA = a.backend.publish({ service: 'tasks' });
    const fromB = b.backend.publish({ service: 'tasks' });
    expect(onTarget.map((e) => e.detail)).toEqual([[fromA]]);
    expect(onWindow.map((e) => e.detail)).toEqual([[fromA], [fromB]]);
  });

  it('keeps dispatching once when bindings of no service come and go around it', async () => {
    const { rt, backend } = setup();
    const got = recordOn(window, ['tasks']);
    const unbindEmptyA = bound(bindDomEvents(rt, { services: [] }));
    const unbindEmptyB = bound(bindDomEvents(rt, { services: [] }));
    unbindEmptyA();
    bound(bindDomEvents(rt, { services: ['tasks'] }));
    unbindEmptyB();
    bound(bindDomEvents(rt, { services: ['tasks'] }));
    await until(() => rt.getState().status === 'connected');
    const event = backend.publish({ service: 'tasks' });
    expect(got).toEqual([{ type: 'tasks-stream-events', detail: [event] }]);
  });

  it('leaves the first binding whole when a second one has an invalid name', async () => {
    const { rt, backend } = setup();
    const got = recordOn(window, ['tasks']);
    const unbind = bound(bindDomEvents(rt, { services: ['tasks'] }));
    expect(() => bindDomEvents(rt, { services: ['tasks', 'not a name!'] })).toThrow(RangeError);
    await until(() => rt.getState().status === 'connected');
    const event = backend.publish({ service: 'tasks' });
    expect(got).toEqual([{ type: 'tasks-stream-events', detail: [event] }]);
    unbind();
    expect(rt.getState().services).toEqual([]);
  });
});

describe('setRealtimePropertyFilter', () => {
  it("calls the bound client's setPropertyFilter and dispatches realtime-property-filter", () => {
    const { rt } = setup();
    cleanups.push(bindDomEvents(rt, { services: ['tasks'] }));
    const spy = vi.spyOn(rt, 'setPropertyFilter');
    const details: unknown[] = [];
    const listen = (e: Event) => details.push((e as CustomEvent).detail);
    window.addEventListener('realtime-property-filter', listen);
    cleanups.push(() => window.removeEventListener('realtime-property-filter', listen));
    setRealtimePropertyFilter('prop_9');
    setRealtimePropertyFilter(null);
    expect(spy.mock.calls).toEqual([['prop_9'], [null]]);
    expect(details).toEqual([{ propertyId: 'prop_9' }, { propertyId: null }]);
    expect(rt.getState().propertyFilter).toBeNull();
  });

  it('uses the latest client still bound', () => {
    const a = setup().rt;
    const b = setup().rt;
    cleanups.push(bindDomEvents(a, { services: ['tasks'] }));
    const unbindB = bindDomEvents(b, { services: ['tasks'] });
    setRealtimePropertyFilter('p1');
    expect(b.getState().propertyFilter).toBe('p1');
    expect(a.getState().propertyFilter).toBeNull();
    unbindB();
    setRealtimePropertyFilter('p2');
    expect(a.getState().propertyFilter).toBe('p2');
  });

  it("keeps the client bound last when an older binding of it is undone (a module's hot reload)", () => {
    const a = setup().rt;
    const b = setup().rt;
    // A widget binds a, the page binds b, the widget's module reloads: it
    // binds a again, then undoes its old binding. Each unbind took away the
    // latest entry of its client, here the new binding's, so the helper went
    // to b, bound before the one binding of a still in place.
    const oldA = bindDomEvents(a, { services: ['tasks'] });
    cleanups.push(bindDomEvents(b, { services: ['tasks'] }));
    cleanups.push(bindDomEvents(a, { services: ['tasks'] }));
    oldA();
    setRealtimePropertyFilter('p1');
    expect(a.getState().propertyFilter).toBe('p1');
    expect(b.getState().propertyFilter).toBeNull();
  });

  it('throws a clear error when no client is bound', () => {
    const { rt } = setup();
    bindDomEvents(rt, { services: ['tasks'] })();
    expect(() => setRealtimePropertyFilter('p1')).toThrow(/no realtime client is bound/);
  });

  it('takes an explicit client', () => {
    const { rt } = setup();
    setRealtimePropertyFilter('p1', rt);
    expect(rt.getState().propertyFilter).toBe('p1');
  });
});

describe('installDevtools', () => {
  type DevtoolsWindow = Window & { __realtimeState?: () => unknown };

  it('sets window.__realtimeState, which never holds the token, and removes it', async () => {
    const token = 'secret-token-VV7x9QkLm2';
    const { rt } = setup({ auth: { getToken: async () => ({ token, expiresAt: Date.now() + 3_600_000 }) } });
    const off = rt.subscribe('tasks', () => {});
    cleanups.push(off);
    const uninstall = installDevtools(rt);
    const win = window as DevtoolsWindow;
    expect(typeof win.__realtimeState).toBe('function');
    await until(() => rt.getState().status === 'connected');
    const state = win.__realtimeState?.();
    expect(state).toBe(rt.getState());
    expect(JSON.stringify(state)).not.toContain(token);
    // It also binds the client for setRealtimePropertyFilter.
    setRealtimePropertyFilter('p1');
    expect(rt.getState().propertyFilter).toBe('p1');
    uninstall();
    expect('__realtimeState' in win).toBe(false);
    expect(() => setRealtimePropertyFilter('p2')).toThrow(/no realtime client is bound/);
  });

  it("leaves another client's hook in place when uninstalled late", () => {
    const a = setup().rt;
    const b = setup().rt;
    const uninstallA = installDevtools(a);
    const uninstallB = installDevtools(b);
    uninstallA();
    expect((window as DevtoolsWindow).__realtimeState?.()).toBe(b.getState());
    uninstallB();
    expect((window as DevtoolsWindow).__realtimeState).toBeUndefined();
  });
});
