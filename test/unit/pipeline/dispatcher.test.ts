import { describe, expect, it, vi } from 'vitest';
import { DEFAULT_FLAGS } from '../../../src/options';
import { Dispatcher, type DispatchResult } from '../../../src/pipeline/dispatcher';
import type { RealtimeEvent } from '../../../src/protocol/schemas';
import { makeEvent } from './fixtures';

/** The client's state as the dispatcher reads it at each dispatch: the tests change it in place. */
const newView = () => ({ propertyFilter: null as string | null, flags: { ...DEFAULT_FLAGS } });

function setup() {
  const errors: Array<{ error: unknown; service: string }> = [];
  const view = newView();
  const dispatcher = new Dispatcher({
    onHandlerError: (error, service) => errors.push({ error, service }),
    getState: () => view,
  });
  return { dispatcher, errors, view };
}

/** A result as counts: how many events went to handlers, how many the filter withheld. */
const counts = ({ delivered, filtered }: DispatchResult) => ({ delivered: delivered.length, filtered });

const events = (...props: Array<string | null | undefined>): RealtimeEvent[] =>
  props.map((propertyId, i) => makeEvent('tasks', i + 1, propertyId === undefined ? {} : { propertyId }));

describe('Dispatcher', () => {
  it('gives every handler of the service the same array, and nothing to other services', () => {
    const { dispatcher } = setup();
    const a = vi.fn();
    const b = vi.fn();
    const other = vi.fn();
    dispatcher.subscribe('tasks', a);
    dispatcher.subscribe('tasks', b);
    dispatcher.subscribe('finance', other);
    const batch = events(undefined, undefined);
    const result = dispatcher.dispatch('tasks', batch);
    expect(counts(result)).toEqual({ delivered: 2, filtered: 0 });
    // The result carries the very array the handlers got.
    expect(result.delivered).toBe(batch);
    expect(a).toHaveBeenCalledExactlyOnceWith(batch);
    expect(b.mock.calls[0]![0]).toBe(batch);
    expect(other).not.toHaveBeenCalled();
  });

  it('calls nobody and reports nothing for a service without handlers or an empty batch', () => {
    const { dispatcher } = setup();
    const handler = vi.fn();
    dispatcher.subscribe('tasks', handler);
    expect(counts(dispatcher.dispatch('crm', events(undefined)))).toEqual({ delivered: 0, filtered: 0 });
    expect(counts(dispatcher.dispatch('tasks', []))).toEqual({ delivered: 0, filtered: 0 });
    expect(handler).not.toHaveBeenCalled();
  });

  it('filters by property: other properties withheld, events without one pass', () => {
    const { dispatcher, view } = setup();
    const handler = vi.fn();
    dispatcher.subscribe('tasks', handler);
    view.propertyFilter = 'p1';
    const batch = events('p1', 'p2', undefined, null, 'p2', 'p1');
    expect(counts(dispatcher.dispatch('tasks', batch))).toEqual({ delivered: 4, filtered: 2 });
    expect(handler.mock.calls[0]![0].map((e: RealtimeEvent) => e.seq)).toEqual([1, 3, 4, 6]);
    expect(batch).toHaveLength(6); // the input is not changed
  });

  it('passes the input array itself when the filter removes nothing', () => {
    const { dispatcher, view } = setup();
    const handler = vi.fn();
    dispatcher.subscribe('tasks', handler);
    view.propertyFilter = 'p1';
    const batch = events('p1', undefined);
    dispatcher.dispatch('tasks', batch);
    expect(handler.mock.calls[0]![0]).toBe(batch);
  });

  it('calls no handler when the filter removes every event', () => {
    const { dispatcher, view } = setup();
    const handler = vi.fn();
    dispatcher.subscribe('tasks', handler);
    view.propertyFilter = 'p1';
    expect(counts(dispatcher.dispatch('tasks', events('p2', 'p3')))).toEqual({ delivered: 0, filtered: 2 });
    expect(handler).not.toHaveBeenCalled();
    view.propertyFilter = null;
    expect(counts(dispatcher.dispatch('tasks', events('p2', 'p3')))).toEqual({ delivered: 2, filtered: 0 });
  });

  it('calls no handler in shadow mode, and again after it ends', () => {
    const { dispatcher, view } = setup();
    const handler = vi.fn();
    dispatcher.subscribe('tasks', handler);
    view.flags.shadowMode = true;
    expect(counts(dispatcher.dispatch('tasks', events(undefined)))).toEqual({ delivered: 0, filtered: 0 });
    expect(handler).not.toHaveBeenCalled();
    view.flags.shadowMode = false;
    dispatcher.dispatch('tasks', events(undefined));
    expect(handler).toHaveBeenCalledOnce();
  });

  it('does not dispatch disabled services, as the flags list them at each dispatch', () => {
    const { dispatcher, view } = setup();
    const tasks = vi.fn();
    const crm = vi.fn();
    dispatcher.subscribe('tasks', tasks);
    dispatcher.subscribe('crm', crm);
    view.flags.disabledServices = ['tasks'];
    dispatcher.dispatch('tasks', events(undefined));
    dispatcher.dispatch('crm', events(undefined));
    expect(tasks).not.toHaveBeenCalled();
    expect(crm).toHaveBeenCalledOnce();
    view.flags.disabledServices = [];
    dispatcher.dispatch('tasks', events(undefined));
    expect(tasks).toHaveBeenCalledOnce();
  });

  it('reports a throwing handler and still calls the others', () => {
    const { dispatcher, errors } = setup();
    const boom = new Error('boom');
    const after = vi.fn();
    dispatcher.subscribe('tasks', () => {
      throw boom;
    });
    dispatcher.subscribe('tasks', after);
    expect(counts(dispatcher.dispatch('tasks', events(undefined)))).toEqual({ delivered: 1, filtered: 0 });
    expect(errors).toEqual([{ error: boom, service: 'tasks' }]);
    expect(after).toHaveBeenCalledOnce();
  });

  it('survives an onHandlerError that throws too', () => {
    const view = newView();
    const dispatcher = new Dispatcher({
      onHandlerError: () => {
        throw new Error('reporter broke');
      },
      getState: () => view,
    });
    const after = vi.fn();
    dispatcher.subscribe('tasks', () => {
      throw new Error('boom');
    });
    dispatcher.subscribe('tasks', after);
    expect(() => dispatcher.dispatch('tasks', events(undefined))).not.toThrow();
    expect(after).toHaveBeenCalledOnce();
  });

  it('unsubscribe is idempotent and removes only its own subscription', () => {
    const { dispatcher } = setup();
    const handler = vi.fn();
    const off1 = dispatcher.subscribe('tasks', handler);
    dispatcher.subscribe('tasks', handler);
    off1();
    off1();
    dispatcher.dispatch('tasks', events(undefined));
    expect(handler).toHaveBeenCalledOnce();
  });

  it('does not call a handler added during a dispatch until the next batch', () => {
    const { dispatcher } = setup();
    const late = vi.fn();
    dispatcher.subscribe('tasks', () => {
      dispatcher.subscribe('tasks', late);
    });
    dispatcher.dispatch('tasks', events(undefined));
    expect(late).not.toHaveBeenCalled();
    dispatcher.dispatch('tasks', events(undefined));
    expect(late).toHaveBeenCalledOnce();
  });

  it('does not call a handler removed during a dispatch', () => {
    const { dispatcher } = setup();
    const removed = vi.fn();
    let offRemoved = () => {};
    dispatcher.subscribe('tasks', () => offRemoved());
    offRemoved = dispatcher.subscribe('tasks', removed);
    dispatcher.dispatch('tasks', events(undefined));
    expect(removed).not.toHaveBeenCalled();
  });

  it('lists a service from its first handler until its last goes', () => {
    const { dispatcher } = setup();
    const off1 = dispatcher.subscribe('tasks', () => {});
    expect(dispatcher.services()).toEqual(['tasks']);
    const off2 = dispatcher.subscribe('tasks', () => {});
    const off3 = dispatcher.subscribe('crm', () => {});
    expect(dispatcher.services()).toEqual(['tasks', 'crm']);
    off1();
    expect(dispatcher.services()).toEqual(['tasks', 'crm']);
    expect(dispatcher.hasHandlers('tasks')).toBe(true);
    off2();
    expect(dispatcher.services()).toEqual(['crm']);
    expect(dispatcher.hasHandlers('tasks')).toBe(false);
    off2(); // again: changes nothing
    const off4 = dispatcher.subscribe('tasks', () => {});
    expect(dispatcher.services()).toEqual(['crm', 'tasks']);
    off3();
    off4();
    expect(dispatcher.services()).toEqual([]);
  });
});
