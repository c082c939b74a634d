import { describe, expect, it } from 'vitest';
import { RealtimeError } from '../../../src/errors';
import { MemoryStorage } from '../../../src/testing/memory-storage';
import { TransportChain } from '../../../src/transports/fallback';
import { recordingContext, scripted } from './fakes';

// A page that fell back (WebSocket held twice during a deploy, or behind a
// proxy since gone) kept its order for its whole life, days for a dashboard:
// on long-poll, a request per answer for good. It now starts from the
// configured order again an hour after the fallback; after the page's
// `online` (forgetFallback) it tries it for one attempt (below).

const KEY = 'tabwire:v1:app:org_1:u_1:transport';
const STORED = `${KEY}:websocket,sse,long-poll`;
const HOUR = 3_600_000;

/** One page over websocket, sse and long-poll, with the browser's storage and an injected wall clock. */
function page(storage: MemoryStorage | undefined = new MemoryStorage()) {
  const clock = { now: 1_700_000_000_000 };
  const transports = ['websocket', 'sse', 'long-poll'].map((name) => scripted(name));
  const chain = new TransportChain(transports, storage, KEY, () => clock.now);
  /** The attempts of websocket, sse and long-poll so far. */
  const attempts = () => transports.map((t) => t.attempts);
  return { chain, clock, storage, attempts };
}

/** A connect as the loop makes it, then the server's welcome or its absence; the transport that connected. */
async function attempt(chain: TransportChain, welcomed: boolean): Promise<string | undefined> {
  await chain.connect(recordingContext());
  chain.noteWelcome(welcomed);
  return chain.currentName;
}

/** WebSocket held twice (no welcome), then SSE welcomed: the fallback. */
async function fallBackToSse(chain: TransportChain): Promise<void> {
  expect(await attempt(chain, false)).toBe('websocket');
  expect(await attempt(chain, false)).toBe('websocket');
  expect(await attempt(chain, true)).toBe('sse');
}

describe('TransportChain: a page that fell back goes back to the first transport', () => {
  it('not within the hour of the fallback: every reconnect goes to the fallback first', async () => {
    const p = page();
    await fallBackToSse(p.chain);
    p.clock.now += HOUR - 1;
    expect(await attempt(p.chain, true)).toBe('sse');
    expect(p.attempts()).toEqual([2, 2, 0]);
  });

  it('at the first connect an hour after it, from the configured order; a welcome there forgets the memory', async () => {
    const p = page();
    await fallBackToSse(p.chain);
    p.clock.now += HOUR;
    expect(await attempt(p.chain, true)).toBe('websocket');
    expect(p.attempts()).toEqual([3, 1, 0]);
    expect(p.storage!.getItem(STORED)).toBeNull();
    // Welcomed: the first transport stays first, with no new reset.
    p.clock.now += 2 * HOUR;
    expect(await attempt(p.chain, true)).toBe('websocket');
    expect(p.attempts()).toEqual([4, 1, 0]);
  });

  it('moves a first transport that still gets no welcome to the end again, and remembers the fallback anew', async () => {
    const p = page();
    await fallBackToSse(p.chain);
    p.clock.now += HOUR;
    await fallBackToSse(p.chain);
    // Its new time: the pages loaded in the next hour skip WebSocket.
    expect(JSON.parse(p.storage!.getItem(STORED)!)).toEqual(['sse', p.clock.now]);
    // And the page's own hour starts again: no reset at the next connects.
    p.clock.now += HOUR - 1;
    expect(await attempt(p.chain, true)).toBe('sse');
    expect(p.attempts()).toEqual([4, 3, 0]);
    p.clock.now += 1;
    expect(await attempt(p.chain, true)).toBe('websocket');
  });

  it('counts the hour of a fallback the page started with from the time storage remembers', async () => {
    const p = page();
    p.storage!.setItem(STORED, JSON.stringify(['long-poll', p.clock.now - HOUR / 2]));
    expect(await attempt(p.chain, true)).toBe('long-poll');
    p.clock.now += HOUR / 2 - 1;
    expect(await attempt(p.chain, true)).toBe('long-poll');
    p.clock.now += 1;
    expect(await attempt(p.chain, true)).toBe('websocket');
    expect(p.attempts()).toEqual([1, 0, 2]);
  });

  it('also where storage is missing (a worker): the hour is the chain’s own', async () => {
    const p = page(undefined);
    await fallBackToSse(p.chain);
    p.clock.now += HOUR - 1;
    expect(await attempt(p.chain, true)).toBe('sse');
    p.clock.now += 1;
    expect(await attempt(p.chain, true)).toBe('websocket');
  });

  it('tries the first transport at the next connect after forgetFallback (the page went online), keeping what storage remembers', async () => {
    const p = page();
    await fallBackToSse(p.chain);
    const remembered = p.storage!.getItem(STORED);
    p.chain.forgetFallback();
    // Nothing happens until the next connect (a live connection stays).
    expect(p.attempts()).toEqual([2, 1, 0]);
    expect(p.storage!.getItem(STORED)).toBe(remembered);
    p.clock.now += 1000;
    expect(await attempt(p.chain, true)).toBe('websocket');
    expect(p.storage!.getItem(STORED)).toBeNull();
    expect(p.attempts()).toEqual([3, 1, 0]);
  });

  it('forgetFallback without a fallback changes nothing: a first timeout still counts, storage is still read', async () => {
    const p = page();
    expect(await attempt(p.chain, true)).toBe('websocket');
    expect(await attempt(p.chain, false)).toBe('websocket');
    p.chain.forgetFallback();
    // The second timeout in a row moves WebSocket to the end, as without it.
    expect(await attempt(p.chain, false)).toBe('websocket');
    expect(await attempt(p.chain, true)).toBe('sse');
    expect(p.attempts()).toEqual([3, 1, 0]);

    // A tab that never connected (a follower that becomes leader later)
    // starts, like a page load, with what the browser remembers.
    const follower = page(p.storage);
    follower.clock.now = p.clock.now;
    // Every tab preloads (reading storage) while the tabs elect a leader.
    follower.chain.preload();
    follower.chain.forgetFallback();
    expect(await attempt(follower.chain, true)).toBe('sse');
    expect(follower.attempts()).toEqual([0, 1, 0]);
  });

  it('forgetFallback also undoes a fallback past a transport that failed at once', async () => {
    const unavailable = new RealtimeError('transport_unavailable', 'refused');
    const ws = scripted('websocket', [unavailable, 'ok']);
    const chain = new TransportChain(
      [ws, scripted('sse')],
      new MemoryStorage(),
      KEY,
      () => 1_700_000_000_000,
    );
    expect(await attempt(chain, true)).toBe('sse');
    expect(await attempt(chain, true)).toBe('sse');
    chain.forgetFallback();
    expect(await attempt(chain, true)).toBe('websocket');
  });

  it('an hour after a fallback past a transport refused at once, from the configured order too', async () => {
    // A deploy answers the WebSocket upgrade with a 502 once: SSE is welcomed
    // and the page would have stayed on it for good (not remembered in
    // storage: only timeouts are, but the page's own hour runs).
    const unavailable = new RealtimeError('transport_unavailable', 'refused');
    const ws = scripted('websocket', [unavailable, 'ok']);
    const clock = { now: 1_700_000_000_000 };
    const storage = new MemoryStorage();
    const chain = new TransportChain([ws, scripted('sse')], storage, KEY, () => clock.now);
    expect(await attempt(chain, true)).toBe('sse');
    clock.now += HOUR - 1;
    expect(await attempt(chain, true)).toBe('sse');
    expect(storage.getItem(`${KEY}:websocket,sse`)).toBeNull();
    clock.now += 1;
    expect(await attempt(chain, true)).toBe('websocket');
    expect(ws.attempts).toBe(2);
  });

  it('counts the hour from the fallback the page is on, not from one it left for the first transport', async () => {
    // A deploy refuses WebSocket once (SSE), a 502 on SSE later puts the page
    // back on WebSocket, and 40 minutes after that a proxy (a VPN switched
    // on) holds WebSocket: the page falls back again. Counted from the
    // deploy's fallback, the hour ended 10 minutes later and the page paid
    // two WebSocket timeouts again.
    const unavailable = new RealtimeError('transport_unavailable', 'refused');
    const clock = { now: 1_700_000_000_000 };
    const ws = scripted('websocket', [unavailable, 'ok']);
    const sse = scripted('sse', ['ok', unavailable, 'ok']);
    const chain = new TransportChain(
      [ws, sse, scripted('long-poll')],
      new MemoryStorage(),
      KEY,
      () => clock.now,
    );
    expect(await attempt(chain, true)).toBe('sse');
    clock.now += HOUR / 6;
    expect(await attempt(chain, true)).toBe('websocket');
    clock.now += (HOUR * 2) / 3;
    await fallBackToSse(chain);
    const fellBackAt = clock.now;
    clock.now = fellBackAt + HOUR - 1;
    expect(await attempt(chain, true)).toBe('sse');
    expect(ws.attempts).toBe(4);
    clock.now = fellBackAt + HOUR;
    expect(await attempt(chain, true)).toBe('websocket');
  });
});

// `online` used to undo the fallback as the hour does: the first transport
// had to miss two welcomes to move to the end again. Behind a proxy that
// still holds WebSocket that cost two connect timeouts per `online`, and
// `online` events faster than a timeout (a flapping network) cut every
// attempt short, never counted: the page stayed unconnected until the
// flapping stopped. Now `online` buys the first transport one attempt.
describe('TransportChain: after forgetFallback, one attempt on the first transport', () => {
  it('a held WebSocket attempt (no welcome): the next connect goes to the fallback, whose hour runs on', async () => {
    const p = page();
    await fallBackToSse(p.chain);
    const remembered = p.storage!.getItem(STORED);
    p.chain.forgetFallback();
    p.clock.now += 1000;
    expect(await attempt(p.chain, false)).toBe('websocket');
    expect(await attempt(p.chain, true)).toBe('sse');
    expect(await attempt(p.chain, true)).toBe('sse');
    expect(p.attempts()).toEqual([3, 3, 0]);
    // Other pages of this network keep skipping WebSocket, from the same time.
    expect(p.storage!.getItem(STORED)).toBe(remembered);
    // The hour of the fallback, not of the probe: then the configured order,
    // where WebSocket moves to the end only after two misses, as before.
    p.clock.now += HOUR - 1000;
    expect(await attempt(p.chain, false)).toBe('websocket');
    expect(await attempt(p.chain, false)).toBe('websocket');
    expect(await attempt(p.chain, true)).toBe('sse');
    expect(p.attempts()).toEqual([5, 4, 0]);
  });

  it('an attempt cut short (connect again, with no welcome noted): the next connect goes to the fallback', async () => {
    const p = page();
    await fallBackToSse(p.chain);
    p.chain.forgetFallback();
    await p.chain.connect(recordingContext());
    expect(p.chain.currentName).toBe('websocket');
    expect(await attempt(p.chain, true)).toBe('sse');
    expect(p.attempts()).toEqual([3, 2, 0]);
  });

  it('WebSocket welcomed: the chain stays on it, a single miss later does not move it', async () => {
    const p = page();
    await fallBackToSse(p.chain);
    p.chain.forgetFallback();
    expect(await attempt(p.chain, true)).toBe('websocket');
    expect(await attempt(p.chain, false)).toBe('websocket');
    expect(await attempt(p.chain, true)).toBe('websocket');
    expect(p.attempts()).toEqual([5, 1, 0]);
    expect(p.storage!.getItem(STORED)).toBeNull();
  });

  it('online events faster than a timeout: WebSocket at most once per online, and the fallback gets the attempts between', async () => {
    const p = page();
    await fallBackToSse(p.chain);
    // Each `online` restarts the attempt (the loop's reconnectNow): connect
    // again with no welcome noted. The second comes while the probe is on.
    for (let online = 1; online <= 6; online++) {
      p.chain.forgetFallback();
      await p.chain.connect(recordingContext());
    }
    expect(p.attempts()).toEqual([2 + 3, 1 + 3, 0]);
    // Flapping stops on SSE: it is welcomed, and stays first.
    expect(await attempt(p.chain, true)).toBe('sse');
    expect(await attempt(p.chain, true)).toBe('sse');
  });

  it('online while the probe waits for its welcome: not another probe, the fallback is next', async () => {
    const p = page();
    await fallBackToSse(p.chain);
    p.chain.forgetFallback();
    await p.chain.connect(recordingContext());
    p.chain.forgetFallback();
    p.chain.noteWelcome(false);
    expect(await attempt(p.chain, true)).toBe('sse');
    // A later online, on the fallback, probes again.
    p.chain.forgetFallback();
    expect(await attempt(p.chain, false)).toBe('websocket');
    expect(p.attempts()).toEqual([4, 2, 0]);
  });
});

describe('TransportChain: the probe after forgetFallback ends at a welcome', () => {
  const unavailable = new RealtimeError('transport_unavailable', 'refused');

  it('on the fallback too (WebSocket refused at once): the next online probes again', async () => {
    const ws = scripted('websocket', [unavailable, unavailable, 'ok']);
    const chain = new TransportChain(
      [ws, scripted('sse')],
      new MemoryStorage(),
      KEY,
      () => 1_700_000_000_000,
    );
    expect(await attempt(chain, true)).toBe('sse');
    chain.forgetFallback();
    expect(await attempt(chain, true)).toBe('sse');
    // Connected on SSE: the probe is over, this online is not lost.
    chain.forgetFallback();
    expect(await attempt(chain, true)).toBe('websocket');
    expect(ws.attempts).toBe(3);
  });

  it('on WebSocket: it is no longer at the end, so a fallback past it refused at once is not remembered', async () => {
    const p = page();
    const ws = scripted('websocket', ['ok', 'ok', 'ok', unavailable]);
    const chain = new TransportChain([ws, scripted('sse')], p.storage, KEY, () => p.clock.now);
    const stored = `${KEY}:websocket,sse`;
    expect(await attempt(chain, false)).toBe('websocket');
    expect(await attempt(chain, false)).toBe('websocket');
    expect(await attempt(chain, true)).toBe('sse');
    expect(p.storage!.getItem(stored)).not.toBeNull();
    chain.forgetFallback();
    expect(await attempt(chain, true)).toBe('websocket');
    expect(p.storage!.getItem(stored)).toBeNull();
    // A deploy's 502 on the upgrade: SSE for this page, not for the browser.
    expect(await attempt(chain, true)).toBe('sse');
    expect(p.storage!.getItem(stored)).toBeNull();
  });

  it('on WebSocket: the order is the configured one again, also past the others it moved to the end', async () => {
    const p = page();
    const [ws, sse, longPoll] = [
      scripted('websocket', ['ok', 'ok', 'ok', unavailable]),
      scripted('sse'),
      scripted('long-poll'),
    ];
    const chain = new TransportChain([ws, sse, longPoll], p.storage, KEY, () => p.clock.now);
    // WebSocket and SSE held twice each: long-poll, after both.
    for (const name of ['websocket', 'websocket', 'sse', 'sse'])
      expect(await attempt(chain, false)).toBe(name);
    expect(await attempt(chain, true)).toBe('long-poll');
    chain.forgetFallback();
    expect(await attempt(chain, true)).toBe('websocket');
    // A deploy's 502 on the upgrade: SSE next, as configured (the order was
    // made from the one with SSE still at the end: long-poll came first).
    expect(await attempt(chain, true)).toBe('sse');
    expect([ws.attempts, sse.attempts, longPoll.attempts]).toEqual([4, 3, 1]);
  });
});
