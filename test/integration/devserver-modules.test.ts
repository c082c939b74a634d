import { describe, expect, it } from 'vitest';
import type { Clock } from '../../src/clock';
import { startDevServer } from '../../src/devserver';
import { readBearer, TokenStore } from '../../src/devserver/auth';
import { AdaptiveBatcher } from '../../src/devserver/batcher';
import { catchUpService } from '../../src/devserver/catch-up';
import { DelayedWriter } from '../../src/devserver/delayed-writer';
import { EventLog } from '../../src/devserver/event-log';
import { loadWebSocketServer, MISSING_WS_MESSAGE } from '../../src/devserver/load-ws';
import { resolveDevServerOptions } from '../../src/devserver/options';
import { QuarantineMonitor } from '../../src/devserver/quarantine';
import type { RealtimeEvent } from '../../src/protocol/schemas';

// The dev server's parts on their own, driven by a fake clock: exact and fast.

class FakeClock implements Clock {
  private time = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 1;

  now(): number {
    return this.time;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ at: this.time + ms, fn, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.time = due.at;
      due.fn();
    }
    this.time = end;
  }
  get pending(): number {
    return this.timers.length;
  }
}

const ev = (service = 'tasks') => ({ service, entityType: 'task', type: 'task.updated' });

describe('EventLog', () => {
  it('numbers per (org, service), keeps the newest N, and wipes to a new epoch', () => {
    const log = new EventLog(3, () => 1000);
    for (let i = 0; i < 5; i++) log.append('o', ev());
    log.append('o', ev('finance'));
    expect(log.head('o', 'tasks')).toBe(5);
    expect(log.oldest('o', 'tasks')).toBe(3);
    expect(log.eventsAfter('o', 'tasks', 0).map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(log.eventsAfter('o', 'tasks', 3, 4).map((e) => e.seq)).toEqual([4]);
    expect(log.head('o', 'finance')).toBe(1);
    expect(log.head('other', 'tasks')).toBe(0);
    const before = log.append('o', ev()).eventId;
    log.wipe();
    expect(log.epoch).toBe(2);
    const after = log.append('o', ev());
    expect(after.seq).toBe(1);
    expect(after.eventId).not.toBe(before);
    expect(after.ts).toBe(1000);
  });
});

describe('catchUpService', () => {
  const log = new EventLog(10, () => 0);
  for (let i = 1; i <= 6; i++) log.append('o', { ...ev(), propertyId: i % 2 === 0 ? 'even' : 'odd' });

  it('filters by property, chunks, and ends the last batch at the head', () => {
    const { frames, eventCount } = catchUpService(log, 'o', 'tasks', 1, ['even'], 2);
    expect(eventCount).toBe(3);
    expect(frames).toMatchObject([
      { type: 'batch', after: { tasks: 1 }, cursor: { tasks: 4 } },
      { type: 'batch', after: { tasks: 4 }, cursor: { tasks: 6 } },
    ]);
  });

  it('sends nothing when everything missing is filtered out, and resets an impossible cursor', () => {
    expect(catchUpService(log, 'o', 'tasks', 5, ['odd'], 10).frames).toEqual([]);
    expect(catchUpService(log, 'o', 'tasks', 6, null, 10).frames).toEqual([]);
    expect(catchUpService(log, 'o', 'tasks', 9, null, 10).frames).toEqual([
      { type: 'reset', services: ['tasks'], cursor: { tasks: 6 }, reason: 'epoch_changed' },
    ]);
  });
});

describe('AdaptiveBatcher', () => {
  const event = (seq: number) => ({ ...ev(), seq, ts: 0, orgId: 'o' }) as RealtimeEvent;

  it('flushes after the window, at once when full, and adapts the window', () => {
    const clock = new FakeClock();
    const flushes: number[][] = [];
    const batcher = new AdaptiveBatcher(
      { min: 10, max: 40 },
      10,
      (es) => flushes.push(es.map((e) => e.seq)),
      clock,
    );
    let seq = 0;
    const add = (n: number) => {
      for (let i = 0; i < n; i++) batcher.add(event(++seq));
    };
    add(1);
    clock.advance(9);
    expect(flushes).toEqual([]);
    clock.advance(1);
    expect(flushes).toEqual([[1]]);
    expect(batcher.windowMs).toBe(10);
    add(10);
    expect(flushes.at(-1)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(batcher.windowMs).toBe(15);
    // 8 of 10 (80 %) still widens.
    add(8);
    clock.advance(15);
    expect(flushes.at(-1)).toHaveLength(8);
    expect(batcher.windowMs).toBe(22.5);
    add(30);
    expect(batcher.windowMs).toBe(40);
    // 5 of 10 is neither full nor small: the window stays.
    add(5);
    clock.advance(40);
    expect(batcher.windowMs).toBe(40);
    add(2);
    clock.advance(40);
    expect(batcher.windowMs).toBe(30);
    add(1);
    batcher.cancel();
    clock.advance(100);
    expect(flushes.flat()).not.toContain(seq);
    expect(clock.pending).toBe(0);
  });
});

describe('QuarantineMonitor', () => {
  const settings = {
    queueLimitBytes: 100,
    dropQueueBytes: 1_000_000,
    overflowsToQuarantine: 2,
    windowMs: 1000,
    durationMs: 5000,
    lowTierServices: ['analytics'],
    healthyMs: 500,
  };

  it('needs enough overflows inside the window, sheds only low tier, ends early when healthy', () => {
    const clock = new FakeClock();
    let queued = 0;
    const exits: string[][] = [];
    let enters = 0;
    const monitor = new QuarantineMonitor(
      settings,
      () => queued,
      { onEnter: () => enters++, onExit: (shed) => exits.push(shed), onStuck: () => {} },
      clock,
    );
    queued = 150;
    monitor.afterSend();
    clock.advance(1500);
    monitor.afterSend();
    expect(monitor.quarantined).toBe(false);
    clock.advance(100);
    monitor.afterSend();
    expect(monitor.quarantined).toBe(true);
    expect(enters).toBe(1);
    expect(monitor.shouldShed('tasks')).toBe(false);
    expect(monitor.shouldShed('analytics')).toBe(true);
    clock.advance(2000);
    expect(monitor.quarantined).toBe(true);
    queued = 25;
    clock.advance(400);
    expect(monitor.quarantined).toBe(true);
    clock.advance(200);
    expect(monitor.quarantined).toBe(false);
    expect(exits).toEqual([['analytics']]);
  });

  it('ends after durationMs even while the queue stays full, with no reset when nothing was shed', () => {
    const clock = new FakeClock();
    const exits: string[][] = [];
    const monitor = new QuarantineMonitor(
      settings,
      () => 1000,
      { onEnter: () => {}, onExit: (s) => exits.push(s), onStuck: () => {} },
      clock,
    );
    monitor.afterSend();
    monitor.afterSend();
    expect(monitor.quarantined).toBe(true);
    clock.advance(4900);
    expect(monitor.quarantined).toBe(true);
    clock.advance(200);
    expect(monitor.quarantined).toBe(false);
    expect(exits).toEqual([[]]);
  });
});

describe('DelayedWriter', () => {
  it('keeps order when the delay shrinks and writes at once without a delay', () => {
    const clock = new FakeClock();
    let delay = 100;
    const writes: string[] = [];
    const writer = new DelayedWriter(() => delay, clock);
    writer.run(() => writes.push('a'));
    delay = 10;
    writer.run(() => writes.push('b'));
    clock.advance(50);
    expect(writes).toEqual([]);
    clock.advance(50);
    expect(writes).toEqual(['a', 'b']);
    delay = 0;
    writer.run(() => writes.push('c'));
    expect(writes).toEqual(['a', 'b', 'c']);
  });
});

describe('TokenStore', () => {
  it('issued tokens expire, dev tokens do not, revocation wins, custom verifiers still get the faults', () => {
    let now = 1000;
    const store = new TokenStore(() => now);
    const { token, expiresAt } = store.issue('o', 'u');
    expect(expiresAt).toBeUndefined();
    store.expireAll();
    const timed = store.issue('o', 'u', 50);
    expect(timed.expiresAt).toBe(1050);
    expect(store.verify(timed.token)).toMatchObject({ ok: true, identity: { orgId: 'o', userId: 'u' } });
    now = 1050;
    expect(store.verify(timed.token)).toEqual({ ok: false, code: 'unauthorized' });
    expect(store.verify('dev:o:u:with:colons')).toMatchObject({
      ok: true,
      identity: { orgId: 'o', userId: 'u:with:colons' },
    });
    expect(store.verify('dev::u')).toEqual({ ok: false, code: 'unauthorized' });
    expect(store.verify(undefined)).toEqual({ ok: false, code: 'unauthorized' });
    expect(store.verify(token).ok).toBe(false);
    store.revoke('o', 'u');
    expect(store.verify('dev:o:u')).toEqual({ ok: false, code: 'forbidden' });
    expect(() => store.issue('o', 'u', -1)).toThrow(RangeError);

    const custom = new TokenStore(
      () => now,
      (t) => (t === 'good' ? { orgId: 'c', userId: 'u' } : 'unauthorized'),
    );
    expect(custom.verify('good').ok).toBe(true);
    expect(custom.verify('dev:o:u').ok).toBe(false);
    custom.revoke('c', 'u');
    expect(custom.verify('good')).toEqual({ ok: false, code: 'forbidden' });
  });

  it('reads bearer tokens', () => {
    expect(readBearer('Bearer abc')).toBe('abc');
    expect(readBearer('bearer  abc ')).toBe('abc');
    expect(readBearer('Basic abc')).toBeUndefined();
    expect(readBearer(undefined)).toBeUndefined();
  });
});

describe('options and loading', () => {
  it('validates options once with a RangeError naming the field and value', async () => {
    expect(() => resolveDevServerOptions({ heartbeatMs: 0 })).toThrow(/heartbeatMs.*0/);
    expect(() => resolveDevServerOptions({ batchWindowMs: { min: 50, max: 10 } })).toThrow(
      /batchWindowMs\.max.*10/,
    );
    expect(() => resolveDevServerOptions({ basePath: 'no-slash' })).toThrow(/basePath/);
    expect(() => resolveDevServerOptions({ quarantine: { lowTierServices: ['ok', '__proto__'] } })).toThrow(
      /quarantine\.lowTierServices/,
    );
    expect(() => resolveDevServerOptions({ pollWaitSeconds: 61 })).toThrow(/pollWaitSeconds.*61/);
    expect(resolveDevServerOptions({ basePath: '/rt/' }).basePath).toBe('/rt');
    await expect(startDevServer({ maxBatchSize: 1.5 })).rejects.toThrow(/maxBatchSize.*1\.5/);
  });

  it('explains a missing ws package', async () => {
    const missing = () => Promise.reject(new Error("Cannot find package 'ws'"));
    await expect(loadWebSocketServer(missing)).rejects.toThrow(MISSING_WS_MESSAGE);
    expect(typeof (await loadWebSocketServer())).toBe('function');
  });
});
