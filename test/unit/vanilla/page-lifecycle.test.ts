import { MessageChannel } from 'node:worker_threads';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createFakeBrowser, type FakeBrowser } from '../../../src/testing/fake-browser';
import {
  forwardPageLifecycle,
  type PageLifecycleMessage,
  pageLifecycleFrom,
  type WorkerPageLifecycle,
} from '../../../src/vanilla';

// forwardPageLifecycle (the page) and pageLifecycleFrom (its dedicated
// worker): the page's life carried to a client that has no window and no
// document of its own. Plain EventTargets stand for the page's window and
// document and for the worker's port; messages go through structuredClone,
// as postMessage does.

/** A page's window and document, `visibilityState` settable. */
function fakePage(visibilityState = 'visible') {
  const window = new EventTarget();
  const document = Object.assign(new EventTarget(), { visibilityState });
  return { window, document };
}

const transition = (type: 'pagehide' | 'pageshow', persisted: boolean): Event =>
  Object.assign(new Event(type), { persisted });

/** What the page posted, and a sink to post to. */
function recorder() {
  const posted: PageLifecycleMessage[] = [];
  const sink = {
    postMessage(message: PageLifecycleMessage): void {
      posted.push(message);
    },
  };
  return { posted, sink };
}

/**
 * A worker's port (its global scope) that gets what `post` sends. It calls
 * its `message` listeners itself, so what one throws reaches the test
 * (an EventTarget would report it apart). The sink clones, as postMessage does.
 */
function fakePort() {
  const listeners: EventListener[] = [];
  const port = {
    addEventListener(type: string, listener: EventListenerOrEventListenerObject | null): void {
      if (type === 'message' && typeof listener === 'function') listeners.push(listener);
    },
  };
  const deliver = (event: Event): void => {
    for (const listener of listeners) listener(event);
  };
  const post = (data: unknown): void => deliver(new MessageEvent('message', { data }));
  const sink = { postMessage: (message: PageLifecycleMessage) => post(structuredClone(message)) };
  return { port, post, deliver, sink };
}

/** Every event the worker's window and document fire, as `type`, `type:persisted` or `visibilitychange:<state>`. */
function heardOn({ window, document }: WorkerPageLifecycle): string[] {
  const heard: string[] = [];
  const log = (event: Event) => {
    const { persisted } = event as Partial<PageTransitionEvent>;
    if (event.type === 'visibilitychange') heard.push(`visibilitychange:${document.visibilityState}`);
    else heard.push(persisted === undefined ? event.type : `${event.type}:${persisted}`);
  };
  for (const type of ['pagehide', 'pageshow', 'online', 'offline']) window.addEventListener(type, log);
  for (const type of ['freeze', 'resume', 'visibilitychange']) document.addEventListener(type, log);
  return heard;
}

const stops: Array<() => void> = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

describe('forwardPageLifecycle (the page)', () => {
  it('posts the current visibilityState at once, then each event with the visibilityState it fired in', () => {
    const page = fakePage('hidden');
    const { posted, sink } = recorder();
    stops.push(forwardPageLifecycle(sink, { ...page, freezeHoldMs: 0 }));
    const initial = { tabwire: 'page-lifecycle', v: 1, type: 'visibilitychange', visibilityState: 'hidden' };
    expect(posted).toEqual([initial]);

    page.document.dispatchEvent(new Event('freeze'));
    page.document.dispatchEvent(new Event('resume'));
    page.document.visibilityState = 'visible';
    page.document.dispatchEvent(new Event('visibilitychange'));
    expect(posted.slice(1)).toEqual([
      { tabwire: 'page-lifecycle', v: 1, type: 'freeze', visibilityState: 'hidden' },
      { tabwire: 'page-lifecycle', v: 1, type: 'resume', visibilityState: 'hidden' },
      { tabwire: 'page-lifecycle', v: 1, type: 'visibilitychange', visibilityState: 'visible' },
    ]);
  });

  it('carries `persisted` of pagehide and pageshow, and only of those', () => {
    const page = fakePage();
    const { posted, sink } = recorder();
    stops.push(forwardPageLifecycle(sink, page));
    page.window.dispatchEvent(transition('pagehide', true));
    page.window.dispatchEvent(transition('pageshow', true));
    page.window.dispatchEvent(transition('pageshow', false));
    page.window.dispatchEvent(transition('pagehide', false));
    expect(posted.slice(1).map(({ type, persisted }) => [type, persisted])).toEqual([
      ['pagehide', true],
      ['pageshow', true],
      ['pageshow', false],
      ['pagehide', false],
    ]);
    expect('persisted' in posted[0]!).toBe(false);
  });

  it('forwards what fires where the browser fires it: not a freeze on window, not a pagehide on document', () => {
    const page = fakePage();
    const { posted, sink } = recorder();
    stops.push(forwardPageLifecycle(sink, { ...page, freezeHoldMs: 0 }));
    page.window.dispatchEvent(new Event('freeze'));
    page.document.dispatchEvent(transition('pagehide', true));
    page.window.dispatchEvent(new Event('online'));
    expect(posted).toHaveLength(1);
  });

  it('a page that is not shown (`prerender`) is hidden', () => {
    const { posted, sink } = recorder();
    stops.push(forwardPageLifecycle(sink, fakePage('prerender')));
    expect(posted[0]!.visibilityState).toBe('hidden');
  });

  it('stops forwarding when told, once', () => {
    const page = fakePage();
    const { posted, sink } = recorder();
    const stop = forwardPageLifecycle(sink, { ...page, freezeHoldMs: 0 });
    stop();
    stop();
    page.document.dispatchEvent(new Event('freeze'));
    page.document.dispatchEvent(new Event('visibilitychange'));
    page.window.dispatchEvent(transition('pagehide', true));
    expect(posted).toHaveLength(1); // the initial one only
  });

  it('stop() removes every listener it added, on the window and on the document', () => {
    const page = fakePage();
    const spies = [page.window, page.document].map((target) => ({
      add: vi.spyOn(target, 'addEventListener'),
      remove: vi.spyOn(target, 'removeEventListener'),
    }));
    forwardPageLifecycle(recorder().sink, { ...page, freezeHoldMs: 0 })();
    for (const { add, remove } of spies) {
      expect(add.mock.calls.length).toBeGreaterThan(0);
      expect(remove.mock.calls).toEqual(add.mock.calls);
    }
  });

  it('holds the page after posting `freeze` (default 50 ms) so the worker acts before it is frozen too', () => {
    const page = fakePage('hidden');
    const { posted, sink } = recorder();
    stops.push(forwardPageLifecycle(sink, page));
    let postedAt = 0;
    const post = sink.postMessage;
    sink.postMessage = (message) => {
      postedAt = performance.now();
      post(message);
    };
    page.document.dispatchEvent(new Event('freeze'));
    const returnedAt = performance.now();
    expect(posted.at(-1)!.type).toBe('freeze');
    expect(returnedAt - postedAt).toBeGreaterThanOrEqual(50);

    // Only on freeze.
    const started = performance.now();
    page.document.dispatchEvent(new Event('resume'));
    page.window.dispatchEvent(transition('pagehide', true));
    expect(performance.now() - started).toBeLessThan(50);
  });

  it('freezeHoldMs sets the hold', () => {
    const page = fakePage('hidden');
    stops.push(forwardPageLifecycle(recorder().sink, { ...page, freezeHoldMs: 120 }));
    const started = performance.now();
    page.document.dispatchEvent(new Event('freeze'));
    expect(performance.now() - started).toBeGreaterThanOrEqual(120);
  });

  it('refuses a worker without postMessage, a missing window or document, a bad freezeHoldMs', () => {
    const page = fakePage();
    const bad = [undefined, {}, { postMessage: 'no' }] as unknown as Array<{ postMessage(m: unknown): void }>;
    for (const worker of bad) expect(() => forwardPageLifecycle(worker, page)).toThrow(TypeError);
    // Node has neither global.
    expect(() => forwardPageLifecycle(recorder().sink)).toThrow(/needs a window and a document/);
    expect(() => forwardPageLifecycle(recorder().sink, { window: page.window })).toThrow(TypeError);
    for (const [freezeHoldMs, shown] of [
      [-1, '-1'],
      [1001, '1001'],
      [Number.NaN, 'NaN'],
      ['50', '"50"'],
      // A template literal would throw its own TypeError for a symbol.
      [Symbol('hold'), 'Symbol(hold)'],
    ] as Array<[number, string]>)
      expect(() => forwardPageLifecycle(recorder().sink, { ...page, freezeHoldMs })).toThrow(
        new RangeError(`freezeHoldMs must be a number from 0 to 1000, got ${shown}`),
      );
  });

  it('refuses a window or document that is no EventTarget before listening to either', () => {
    const page = fakePage();
    const { posted, sink } = recorder();
    const noTarget = { visibilityState: 'visible' } as unknown as EventTarget & { visibilityState: string };
    expect(() => forwardPageLifecycle(sink, { window: page.window, document: noTarget })).toThrow(
      /needs a window and a document/,
    );
    expect(() => forwardPageLifecycle(sink, { window: {} as EventTarget, document: page.document })).toThrow(
      TypeError,
    );
    // Nothing was left listening: no stop came back to remove it.
    page.window.dispatchEvent(transition('pagehide', true));
    page.document.dispatchEvent(new Event('visibilitychange'));
    expect(posted).toEqual([]);
  });
});

describe('pageLifecycleFrom (the worker)', () => {
  it('re-dispatches what the page forwards, with `persisted`, and keeps visibilityState current', () => {
    const page = fakePage();
    const { port, sink } = fakePort();
    const worker = pageLifecycleFrom(port, { global: new EventTarget() });
    const heard = heardOn(worker);
    expect(worker.document.visibilityState).toBe('visible');
    stops.push(forwardPageLifecycle(sink, { ...page, freezeHoldMs: 0 }));
    // The initial message of a visible page changes nothing: no event.
    expect(heard).toEqual([]);

    page.document.visibilityState = 'hidden';
    page.document.dispatchEvent(new Event('visibilitychange'));
    expect(worker.document.visibilityState).toBe('hidden');
    page.window.dispatchEvent(transition('pagehide', true));
    page.document.dispatchEvent(new Event('freeze'));
    page.document.dispatchEvent(new Event('resume'));
    page.window.dispatchEvent(transition('pageshow', true));
    page.window.dispatchEvent(transition('pagehide', false));
    expect(heard).toEqual([
      'visibilitychange:hidden',
      'pagehide:true',
      'freeze',
      'resume',
      'pageshow:true',
      'pagehide:false',
    ]);
  });

  it('starts as the page is: a worker of a hidden page hears visibilitychange to hidden at once', () => {
    const { port, sink } = fakePort();
    const worker = pageLifecycleFrom(port, { global: new EventTarget() });
    const heard = heardOn(worker);
    stops.push(forwardPageLifecycle(sink, fakePage('hidden')));
    expect(heard).toEqual(['visibilitychange:hidden']);
    expect(worker.document.visibilityState).toBe('hidden');
  });

  it('a change of visibility carried by another event fires visibilitychange first', () => {
    const { port, post } = fakePort();
    const worker = pageLifecycleFrom(port, { global: new EventTarget() });
    const heard = heardOn(worker);
    post({ tabwire: 'page-lifecycle', v: 1, type: 'freeze', visibilityState: 'hidden' });
    expect(heard).toEqual(['visibilitychange:hidden', 'freeze']);
  });

  it('passes on the worker global scope’s own online and offline', () => {
    const global = new EventTarget();
    const worker = pageLifecycleFrom(fakePort().port, { global });
    const heard = heardOn(worker);
    global.dispatchEvent(new Event('offline'));
    global.dispatchEvent(new Event('online'));
    expect(heard).toEqual(['offline', 'online']);
  });

  it('ignores, without throwing, every message that is not exactly a page-lifecycle message', () => {
    const { port, post, deliver } = fakePort();
    const worker = pageLifecycleFrom(port, { global: new EventTarget() });
    const heard = heardOn(worker);
    const ok = { tabwire: 'page-lifecycle', v: 1, type: 'freeze', visibilityState: 'hidden' } as const;
    const throwing = new Proxy(
      {},
      {
        get() {
          throw new Error('getter');
        },
      },
    );
    const foreign: unknown[] = [
      undefined,
      null,
      42,
      'freeze',
      [],
      {},
      { offline: true }, // the app's own
      { kind: 'state' },
      throwing,
      { ...ok, tabwire: 'other' },
      { ...ok, v: 2 },
      { ...ok, v: '1' },
      { ...ok, type: 'unload' },
      { ...ok, type: 'online' },
      { ...ok, type: 'toString' },
      { ...ok, visibilityState: 'prerender' },
      { ...ok, visibilityState: undefined },
      { ...ok, extra: 1 },
      { ...ok, persisted: true }, // persisted on a freeze
      { ...ok, persisted: undefined },
      { ...ok, type: 'pagehide' }, // pagehide without persisted
      { ...ok, type: 'pageshow', persisted: 'yes' },
      { tabwire: 'page-lifecycle', v: 1, type: 'freeze' },
    ];
    for (const data of foreign) expect(() => post(data)).not.toThrow();
    // Not even a `message` event: a plain Event at the port.
    expect(() => deliver(new Event('message'))).not.toThrow();
    expect(heard).toEqual([]);
    expect(worker.document.visibilityState).toBe('visible');

    post(ok);
    expect(heard).toEqual(['visibilitychange:hidden', 'freeze']);
  });

  it('ignores, without throwing, a `message` event whose `data` throws when read', () => {
    const { port, deliver } = fakePort();
    const worker = pageLifecycleFrom(port, { global: new EventTarget() });
    const heard = heardOn(worker);
    // Code in the worker may dispatch any event named `message` at its global scope.
    const event = Object.defineProperty(new Event('message'), 'data', {
      get() {
        throw new Error('getter');
      },
    });
    expect(() => deliver(event)).not.toThrow();
    expect(heard).toEqual([]);
  });

  it('replays the message as it was checked: a getter answers once', () => {
    const { port, post } = fakePort();
    const worker = pageLifecycleFrom(port, { global: new EventTarget() });
    const heard = heardOn(worker);
    // Code in the worker may dispatch any data; each getter is fine the first time only.
    const answers = (first: string, then: () => string) => {
      let read = false;
      return () => {
        if (read) return then();
        read = true;
        return first;
      };
    };
    const type = answers('freeze', () => 'unload');
    const visibilityState = answers('hidden', () => 'prerender');
    const tabwire = answers('page-lifecycle', () => {
      throw new Error('read twice');
    });
    const shifty = Object.defineProperties(
      { v: 1 },
      {
        tabwire: { get: tabwire, enumerable: true },
        type: { get: type, enumerable: true },
        visibilityState: { get: visibilityState, enumerable: true },
      },
    );
    expect(() => post(shifty)).not.toThrow();
    expect(heard).toEqual(['visibilitychange:hidden', 'freeze']);
    expect(worker.document.visibilityState).toBe('hidden');
  });

  it('starts a MessagePort, which gets nothing otherwise; the page posting over a real channel', async () => {
    const { port1, port2 } = new MessageChannel();
    try {
      const start = vi.spyOn(port2, 'start');
      const worker = pageLifecycleFrom(port2 as unknown as MessagePort, { global: new EventTarget() });
      expect(start).toHaveBeenCalled();
      const heard = heardOn(worker);
      const page = fakePage();
      stops.push(forwardPageLifecycle(port1 as unknown as MessagePort, { ...page, freezeHoldMs: 0 }));
      page.window.dispatchEvent(transition('pagehide', true));
      await vi.waitFor(() => expect(heard).toEqual(['pagehide:true']));
    } finally {
      port1.close();
      port2.close();
    }
  });

  it('refuses no port outside a worker (Node’s global scope is no EventTarget)', () => {
    expect(() => pageLifecycleFrom()).toThrow(/needs a port/);
    expect(() => pageLifecycleFrom({} as EventTarget)).toThrow(TypeError);
  });
});

describe('a client in a worker, its page forwarding', () => {
  let browser: FakeBrowser | undefined;
  afterEach(async () => {
    await browser?.close();
    browser = undefined;
  });

  it('leaves the lead on the page’s freeze, so another tab takes over; back on resume, it follows', async () => {
    browser = createFakeBrowser();
    const page = fakePage('hidden');
    const { port, sink } = fakePort();
    // The worker's client: the page's life is all it has of a window and a document.
    const inWorker = browser.tab({ platform: { ...pageLifecycleFrom(port, { global: new EventTarget() }) } });
    stops.push(forwardPageLifecycle(sink, { ...page, freezeHoldMs: 0 }));
    inWorker.subscribe('tasks', () => {});
    await vi.waitFor(() =>
      expect(inWorker.getState()).toMatchObject({ isLeader: true, status: 'connected' }),
    );
    const other = browser.tab();
    other.subscribe('tasks', () => {});
    await vi.waitFor(() => expect(other.getState().status).toBe('connected'));

    page.document.dispatchEvent(new Event('freeze'));
    await vi.waitFor(() => expect(other.getState()).toMatchObject({ isLeader: true, status: 'connected' }));
    expect(inWorker.getState().isLeader).toBe(false);
    expect(browser.backend.connectionCount).toBe(1);

    page.document.dispatchEvent(new Event('resume'));
    await vi.waitFor(() => expect(inWorker.getState().status).toBe('connected'));
    expect(inWorker.getState().isLeader).toBe(false);
  });
});
