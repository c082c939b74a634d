import { describe, expect, it } from 'vitest';
import { RealtimeError } from '../../../src/errors';
import { MemoryStorage } from '../../../src/testing/memory-storage';
import { TransportChain } from '../../../src/transports/fallback';
import { recordingContext, scripted } from './fakes';

// Behind a proxy that breaks streaming, the chain learnt to put the dead
// transports last only for its own life: every page load and every tab
// that became leader waited through them again (22 to 48 s with the
// defaults). The browser now remembers the transport it fell back to.

const KEY = 'tabwire:v1:app:org_1:u_1:transport';
/** Where a chain over websocket, sse and long-poll keeps it: per list too. */
const STORED = `${KEY}:websocket,sse,long-poll`;
const HOUR = 3_600_000;

const unavailable = () => new RealtimeError('transport_unavailable', 'refused');

/** One browser: its storage, its wall clock, and a page's chain over fresh transports. */
function browser(storage: ConstructorParameters<typeof TransportChain>[1] = new MemoryStorage()) {
  const clock = { now: 1_700_000_000_000 };
  const page = (scripts: Record<string, Array<'ok' | unknown>> = {}) => {
    const transports = ['websocket', 'sse', 'long-poll'].map((name) => scripted(name, scripts[name]));
    const chain = new TransportChain(transports, storage, KEY, () => clock.now);
    const [ws, sse, lp] = transports as [ReturnType<typeof scripted>, ...ReturnType<typeof scripted>[]];
    /** The attempts of each transport so far: websocket, sse, long-poll. */
    const attempts = () => transports.map((t) => t.attempts);
    return { chain, ws, sse: sse!, lp: lp!, attempts };
  };
  return { storage, clock, page };
}

/** A connect as the loop makes it, then the server's welcome or its absence. */
async function attempt(chain: TransportChain, welcomed: boolean): Promise<string | undefined> {
  await chain.connect(recordingContext());
  chain.noteWelcome(welcomed);
  return chain.currentName;
}

/** The first page of a browser behind the proxy: WebSocket held twice, then SSE welcomed. */
async function fallBackToSse(page: ReturnType<ReturnType<typeof browser>['page']>): Promise<void> {
  await attempt(page.chain, false);
  await attempt(page.chain, false);
  expect(await attempt(page.chain, true)).toBe('sse');
}

describe('TransportChain: the transport a browser fell back to', () => {
  it('is tried first by the next chain (a page load, a new leader), then the others in configured order', async () => {
    const b = browser();
    await fallBackToSse(b.page());
    expect(JSON.parse(b.storage.getItem(STORED)!)).toEqual(['sse', b.clock.now]);

    b.clock.now += HOUR - 1;
    const next = b.page({ sse: [unavailable()], websocket: [unavailable()] });
    expect(await attempt(next.chain, true)).toBe('long-poll');
    // SSE first, then the configured order: WebSocket before long-poll.
    expect(next.attempts()).toEqual([1, 1, 1]);

    const third = b.page();
    // That chain moved no transport to the end (both failed at once): its
    // long-poll is not remembered, SSE still is.
    expect(await attempt(third.chain, true)).toBe('sse');
    expect(third.attempts()).toEqual([0, 1, 0]);
  });

  it('is read when the chain first connects, not when it is made (a tab that becomes leader later)', async () => {
    const b = browser();
    const later = b.page();
    await fallBackToSse(b.page());
    expect(await attempt(later.chain, true)).toBe('sse');
    expect(later.attempts()).toEqual([0, 1, 0]);
  });

  it('is forgotten when the first transport is welcomed (the network changed)', async () => {
    const b = browser();
    await fallBackToSse(b.page());
    const home = b.page({ sse: [unavailable()] });
    expect(await attempt(home.chain, true)).toBe('websocket');
    // SSE was tried first, and failed; WebSocket, next, works here.
    expect(home.attempts()).toEqual([1, 1, 0]);
    expect(b.storage.getItem(STORED)).toBeNull();
    const next = b.page();
    expect(await attempt(next.chain, true)).toBe('websocket');
    expect(next.attempts()).toEqual([1, 0, 0]);
  });

  it('keeps the time it was learnt: a page welcomed on it does not make it younger', async () => {
    const b = browser();
    await fallBackToSse(b.page());
    const learnt = b.storage.getItem(STORED);
    b.clock.now += HOUR / 2;
    expect(await attempt(b.page().chain, true)).toBe('sse');
    expect(b.storage.getItem(STORED)).toBe(learnt);
    // An hour after it was learnt, WebSocket is tried first again.
    b.clock.now += HOUR / 2;
    const next = b.page();
    expect(await attempt(next.chain, true)).toBe('websocket');
    expect(next.attempts()).toEqual([1, 0, 0]);
  });

  it('is ignored once an hour old', async () => {
    const b = browser();
    b.storage.setItem(STORED, JSON.stringify(['long-poll', b.clock.now - HOUR + 1]));
    const young = b.page();
    expect(await attempt(young.chain, true)).toBe('long-poll');
    expect(young.attempts()).toEqual([0, 0, 1]);
    b.clock.now += 1;
    const old = b.page();
    expect(await attempt(old.chain, true)).toBe('websocket');
    expect(old.attempts()).toEqual([1, 0, 0]);
  });

  it.each([
    ['not JSON', () => '["sse",'],
    ['null', () => 'null'],
    ['a number', () => '42'],
    ['a bare name', () => '"sse"'],
    ['an object', () => '{"name":"sse","at":1700000000000}'],
    ['no time', () => '["sse"]'],
    ['a time as text', (now: number) => JSON.stringify(['sse', String(now)])],
    ['a null time', () => '["sse",null]'],
    ['a time in the future', (now: number) => JSON.stringify(['sse', now + 1000])],
    ['a name not in the list', (now: number) => JSON.stringify(['carrier-pigeon', now])],
    ['a name that is no string', (now: number) => JSON.stringify([{ name: 'sse' }, now])],
  ])('is ignored when storage holds %s, and replaced by the next fallback', async (_what, value) => {
    const b = browser();
    b.storage.setItem(STORED, value(b.clock.now));
    const page = b.page();
    await fallBackToSse(page);
    // WebSocket first: the configured order.
    expect(page.attempts()).toEqual([2, 1, 0]);
    expect(JSON.parse(b.storage.getItem(STORED)!)).toEqual(['sse', b.clock.now]);
  });

  it('changes nothing where storage throws (privacy modes, quota)', async () => {
    const calls: string[] = [];
    const throwing = {
      getItem: () => {
        calls.push('get');
        throw new DOMException('blocked', 'SecurityError');
      },
      setItem: () => {
        calls.push('set');
        throw new DOMException('full', 'QuotaExceededError');
      },
      removeItem: () => {
        calls.push('remove');
        throw new DOMException('blocked', 'SecurityError');
      },
    };
    const b = browser(throwing);
    const page = b.page();
    // The fallback works as without storage: held twice, then SSE for the chain's life.
    await fallBackToSse(page);
    expect(await attempt(page.chain, true)).toBe('sse');
    const home = b.page({ sse: [unavailable()] });
    expect(await attempt(home.chain, true)).toBe('websocket');
    expect(calls).toEqual(['get', 'set', 'get', 'remove']);
  });

  it('is not kept where there is no storage (a worker, Node)', async () => {
    const ws = scripted('websocket', [unavailable(), 'ok']);
    const chain = new TransportChain([ws, scripted('sse')]);
    expect(await attempt(chain, true)).toBe('sse');
    expect(await attempt(new TransportChain([ws, scripted('sse')]), true)).toBe('websocket');
  });
});
